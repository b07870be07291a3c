import { ExactNumber } from '@hogport/common';
import type { PostHogEvent } from '@hogport/event';
import { deviceTypeOfOs, posthogOsName } from './os.js';
import { promote, PROMOTION_CODES } from './promotion.js';
import { parseUserAgent } from './user-agent.js';
import { referringDomain, urlParts } from './url.js';

/**
 * Events that are not about a person's activity: a group's properties, or a link between ids. PostHog
 * reads no person properties from them, and a `$set` on a link would land on whichever person
 * survives the merge.
 */
const NOT_ACTIVITY = new Set(['$groupidentify', '$create_alias', '$merge_dangerously']);

// The properties the steps read, as bits of what an event holds.
const OS = 1, OS_VERSION = 2, BROWSER_VERSION = 4, APP_VERSION = 8, APP_BUILD = 16, USER_AGENT = 32, BROWSER = 64,
  DEVICE_TYPE = 128, CURRENT_URL = 256, HOST = 512, PATHNAME = 1024, REFERRER = 2048, REFERRING_DOMAIN = 4096, PERSON_PROFILE = 8192;
const FLAGS: Record<string, number> = {
  $os: OS, $os_version: OS_VERSION, $browser_version: BROWSER_VERSION, $app_version: APP_VERSION, $app_build: APP_BUILD,
  $raw_user_agent: USER_AGENT, $browser: BROWSER, $device_type: DEVICE_TYPE, $current_url: CURRENT_URL, $host: HOST,
  $pathname: PATHNAME, $referrer: REFERRER, $referring_domain: REFERRING_DOMAIN, $process_person_profile: PERSON_PROFILE,
};
/** Property name → [its bit, its promotion code]: one lookup per property of an event tells every step what it holds. */
const SCAN = new Map<string, [number, string]>();
for (const [name, code] of PROMOTION_CODES) SCAN.set(name, [0, code]);
for (const [name, flag] of Object.entries(FLAGS)) SCAN.set(name, [flag, PROMOTION_CODES.get(name) ?? '']);
const code = (name: string) => PROMOTION_CODES.get(name)!;
const DERIVED = { $browser: code('$browser'), $browser_version: code('$browser_version'), $os: code('$os'), $os_version: code('$os_version'), $device_type: code('$device_type'), $pathname: code('$pathname'), $referring_domain: code('$referring_domain') };

export interface ConventionOptions {
  /**
   * Whether step 5 writes into the event (default true). A source with identities sends each
   * person's facts in `~persons` after every event, which carries the same values (from
   * `personPromotion`), so its events need no copy: the transform stage turns it off for them.
   */
  promote?: boolean;
}

/**
 * PostHog's conventions, applied by the transform stage to every event of every source after the
 * source's own mapping: a source puts the raw values it has under PostHog's names, and this derives
 * the rest the way PostHog's SDKs and ingestion would, in this order:
 *
 * 1. `$os` under PostHog's name (`macOS` → `Mac OS X`); `$os_version`, `$browser_version`,
 *    `$app_version` and `$app_build` as text, as the SDKs send them, even when a source wrote numbers.
 * 2. Where a `$raw_user_agent` exists and `$browser`, `$os` or `$device_type` does not, those (and
 *    their versions) from the agent, named as posthog-js names them (`parseUserAgent`).
 * 3. `$device_type` from `$os` when absent (`deviceTypeOfOs`).
 * 4. `$host` and `$pathname` from `$current_url`, `$referring_domain` from `$referrer` (`urlParts`).
 * 5. What PostHog would not promote itself (geo values, carried first-touch values) into `$set` and
 *    `$initial_*` into `$set_once` (`promote`), except on events that are not a person's activity
 *    and on person-less events (`$process_person_profile: false`).
 *
 * Returns the event's promotion signature (what it holds of the promoted names; '' for none), which
 * `personPromotion` takes to give the person's view of the event for the identity merge.
 *
 * A property that is null counts as absent. Nothing the source set is overwritten, and a value that
 * cannot be read (a URL that is not one) adds nothing and costs nothing else: the event goes on as it is.
 */
export function applyConventions(e: PostHogEvent, options: ConventionOptions = {}): string {
  if (NOT_ACTIVITY.has(e.event)) return '';
  const p = e.properties;
  // The finish step refuses an event without an object of properties, with its reason.
  if (p === null || typeof p !== 'object' || Array.isArray(p)) return '';
  // One pass over the event's own names instead of a load per name the steps know: a load of a
  // name an object lacks is the slowest kind, and events hold few of the ninety names read here.
  let has = 0;
  let signature = '';
  for (const k in p) {
    const hit = SCAN.get(k);
    if (hit === undefined) continue;
    has |= hit[0];
    signature += hit[1];
  }
  if (has === 0 && signature === '') return '';
  const absent = (flag: number, v: unknown) => (has & flag) === 0 || v === null || v === undefined;

  if (has & OS && typeof p.$os === 'string') {
    const os = posthogOsName(p.$os);
    if (os !== p.$os) p.$os = os;
  }
  if (has & OS_VERSION && typeof p.$os_version !== 'string') p.$os_version = text(p.$os_version);
  if (has & BROWSER_VERSION && typeof p.$browser_version !== 'string') p.$browser_version = text(p.$browser_version);
  if (has & APP_VERSION && typeof p.$app_version !== 'string') p.$app_version = text(p.$app_version);
  if (has & APP_BUILD && typeof p.$app_build !== 'string') p.$app_build = text(p.$app_build);

  if (has & USER_AGENT && typeof p.$raw_user_agent === 'string' && p.$raw_user_agent !== '' && (absent(BROWSER, p.$browser) || absent(OS, p.$os) || absent(DEVICE_TYPE, p.$device_type))) {
    const u = parseUserAgent(p.$raw_user_agent);
    if (u.browser && absent(BROWSER, p.$browser)) {
      p.$browser = u.browser;
      if ((has & BROWSER) === 0) signature += DERIVED.$browser;
      if (u.browserVersion && absent(BROWSER_VERSION, p.$browser_version)) {
        p.$browser_version = u.browserVersion;
        if ((has & BROWSER_VERSION) === 0) signature += DERIVED.$browser_version;
      }
    }
    if (u.os && absent(OS, p.$os)) {
      p.$os = u.os;
      if ((has & OS) === 0) { signature += DERIVED.$os; has |= OS; }
      if (u.osVersion && absent(OS_VERSION, p.$os_version)) {
        p.$os_version = u.osVersion;
        if ((has & OS_VERSION) === 0) signature += DERIVED.$os_version;
      }
    }
    if (u.deviceType && absent(DEVICE_TYPE, p.$device_type)) {
      p.$device_type = u.deviceType;
      if ((has & DEVICE_TYPE) === 0) { signature += DERIVED.$device_type; has |= DEVICE_TYPE; }
    }
  }
  if (has & OS && typeof p.$os === 'string' && absent(DEVICE_TYPE, p.$device_type)) {
    const type = deviceTypeOfOs(p.$os);
    if (type) {
      p.$device_type = type;
      if ((has & DEVICE_TYPE) === 0) signature += DERIVED.$device_type;
    }
  }

  if (has & CURRENT_URL && typeof p.$current_url === 'string' && (absent(HOST, p.$host) || absent(PATHNAME, p.$pathname))) {
    const parts = urlParts(p.$current_url);
    if (parts) {
      if (absent(HOST, p.$host)) p.$host = parts.host;
      if (absent(PATHNAME, p.$pathname)) {
        p.$pathname = parts.pathname;
        if ((has & PATHNAME) === 0) signature += DERIVED.$pathname;
      }
    }
  }
  if (has & REFERRER && typeof p.$referrer === 'string' && absent(REFERRING_DOMAIN, p.$referring_domain)) {
    const domain = referringDomain(p.$referrer);
    if (domain) {
      p.$referring_domain = domain;
      if ((has & REFERRING_DOMAIN) === 0) signature += DERIVED.$referring_domain;
    }
  }

  if (has & PERSON_PROFILE && p.$process_person_profile === false) return '';
  if (signature !== '' && options.promote !== false) promote(e, signature);
  return signature;
}

/** A version a source wrote as a number (`14`, `17.4`, or one a double cannot hold) as the text an SDK sends. */
function text(v: unknown): unknown {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (v instanceof ExactNumber) return v.text;
  return v;
}
