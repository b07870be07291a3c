import { ExactNumber } from '@hogport/common';
import type { PostHogEvent } from '@hogport/event';
import { deviceTypeOfOs, posthogOsName } from './os.js';
import { promotePersonProperties } from './promotion.js';
import { parseUserAgent } from './user-agent.js';
import { referringDomain, urlParts } from './url.js';

/**
 * Events that are not about a person's activity: a group's properties, or a link between ids. PostHog
 * reads no person properties from them, and a `$set` on a link would land on whichever person
 * survives the merge.
 */
const NOT_ACTIVITY = new Set(['$groupidentify', '$create_alias', '$merge_dangerously']);

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
 * 5. The person properties into `$set` and `$initial_*` into `$set_once` (`promotePersonProperties`),
 *    except on events that are not a person's activity and on person-less events
 *    (`$process_person_profile: false`).
 *
 * Nothing the source set is overwritten, and a value that cannot be read (a URL that is not one)
 * adds nothing and costs nothing else: the event goes on as it is.
 */
export function applyConventions(e: PostHogEvent): void {
  if (NOT_ACTIVITY.has(e.event)) return;
  const p = e.properties;
  // The finish step refuses an event without an object of properties, with its reason.
  if (p === null || typeof p !== 'object' || Array.isArray(p)) return;
  if (typeof p.$os === 'string') {
    const os = posthogOsName(p.$os);
    if (os !== p.$os) p.$os = os;
  }
  // Named loads and stores, one property each: see promotion.ts for why not a loop over names.
  if (p.$os_version !== undefined && typeof p.$os_version !== 'string') p.$os_version = text(p.$os_version);
  if (p.$browser_version !== undefined && typeof p.$browser_version !== 'string') p.$browser_version = text(p.$browser_version);
  if (p.$app_version !== undefined && typeof p.$app_version !== 'string') p.$app_version = text(p.$app_version);
  if (p.$app_build !== undefined && typeof p.$app_build !== 'string') p.$app_build = text(p.$app_build);

  const ua = p.$raw_user_agent;
  if (typeof ua === 'string' && ua !== '' && (p.$browser == null || p.$os == null || p.$device_type == null)) {
    const u = parseUserAgent(ua);
    if (p.$browser == null && u.browser) {
      p.$browser = u.browser;
      if (p.$browser_version == null && u.browserVersion) p.$browser_version = u.browserVersion;
    }
    if (p.$os == null && u.os) {
      p.$os = u.os;
      if (p.$os_version == null && u.osVersion) p.$os_version = u.osVersion;
    }
    if (p.$device_type == null && u.deviceType) p.$device_type = u.deviceType;
  }
  if (p.$device_type == null && typeof p.$os === 'string') {
    const type = deviceTypeOfOs(p.$os);
    if (type) p.$device_type = type;
  }

  if (typeof p.$current_url === 'string' && (p.$host == null || p.$pathname == null)) {
    const parts = urlParts(p.$current_url);
    if (parts) {
      if (p.$host == null) p.$host = parts.host;
      if (p.$pathname == null) p.$pathname = parts.pathname;
    }
  }
  if (typeof p.$referrer === 'string' && p.$referring_domain == null) {
    const domain = referringDomain(p.$referrer);
    if (domain) p.$referring_domain = domain;
  }

  if (p.$process_person_profile === false) return;
  promotePersonProperties(e);
}

/** A version a source wrote as a number (`14`, `17.4`, or one a double cannot hold) as the text an SDK sends. */
function text(v: unknown): unknown {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (v instanceof ExactNumber) return v.text;
  return v;
}
