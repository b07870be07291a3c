import { canonicalJson, normalizeTimestamp, setOwn, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { RejectCode } from '@hogport/event';
import { hasValue, idOf, type PersonRecord, type PostHogEvent, type RecordResult } from '@hogport/pipeline';
import { epochGuessToIso, parseUserAgent, posthogBrowserName, posthogFoldsBrowser, sessionUuidV7 } from '@hogport/conventions';

/** Namespace of the uuids derived from Heap's ids. */
export const HEAP_NAMESPACE = uuidV5('hogport.heap', URL_NAMESPACE);

export type HeapTable = 'events' | 'users' | 'user_migrations' | 'sessions';

/**
 * Which Heap table a chunk holds, by its chunk id: the file's path under the source location
 * (Heap Connect and exports name them so). Plan (which loads users last) and transform (which maps
 * them as users) both ask with the chunk id, so they cannot disagree, and the location's own name
 * (`s3://acme/heap-users-export/`) plays no part.
 */
export function heapTable(chunk: string): HeapTable {
  const name = chunk.toLowerCase();
  if (/user_migrations|migrations/.test(name)) return 'user_migrations';
  if (/(^|[/_~-])users?([/_.~-]|$)/.test(name)) return 'users';
  if (/(^|[/_~-])sessions([/_.~-]|$)/.test(name)) return 'sessions';
  return 'events';
}

const EVENT_INTERNAL = new Set(['event_id', 'user_id', 'time', 'event_table_name', 'type', 'event', 'session_id']);

/**
 * Heap's autocaptured columns under the names PostHog's SDKs and UI use. `platform` is the OS
 * (`Mac OS X`, `iOS 16.1`), `device_type` Heap's Desktop / Mobile / Tablet.
 */
const COLUMNS = new Map([
  ['path', '$pathname'], ['domain', '$host'], ['referrer', '$referrer'], ['title', '$title'],
  ['device_type', '$device_type'], ['ip', '$ip'], ['user_agent', '$raw_user_agent'],
  ['country', '$geoip_country_name'], ['region', '$geoip_subdivision_1_name'], ['city', '$geoip_city_name'],
]);
const DEVICE_TYPES = new Map([['desktop', 'Desktop'], ['mobile', 'Mobile'], ['tablet', 'Tablet'], ['phone', 'Mobile']]);
const USER_INTERNAL = new Set(['user_id', 'identity', 'joindate', 'last_modified']);

function heapTime(v: unknown): string | undefined {
  if (typeof v === 'number') return epochGuessToIso(v, 'ms');
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return heapTime(Number(v));
  return normalizeTimestamp(v);
}

/**
 * Maps one row of a Heap export. Session rows are dropped by rule. Events: the event table's name, Heap's user_id as distinct_id (users
 * are linked to their identity through the users table), uuid from event_id. Users: a `$set` of
 * their properties, and their identity linked to Heap's user_id. User migrations (merged users): the
 * old user_id linked to the new one. Links go through the identity merge: one `$identify` per pair.
 */
export function mapHeapRow(value: unknown, table: HeapTable): RecordResult {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { code: RejectCode.notAnObject, reason: 'the row is not an object' };
  // Heap Connect's sessions table describes sessions its event rows already name by session_id; PostHog
  // builds its sessions from the events' `$session_id`, and takes nothing from a row of its own.
  if (table === 'sessions') return { drop: 'heap_session_row' };
  const r = value as Record<string, unknown>;
  if (table === 'user_migrations') {
    const from = idOf(r.from_user_id);
    const to = idOf(r.to_user_id);
    const at = heapTime(r.time) ?? heapTime(r.last_modified);
    if (!from || !to || !at) return { code: 'bad_migration', reason: 'a user migration needs from_user_id, to_user_id and a time' };
    return { events: [], identify: [{ distinctId: to, anonId: from, at, recorded: true }] };
  }
  const userId = idOf(r.user_id);
  if (table === 'users') {
    if (!userId) return { code: 'missing_user_id', reason: 'a user row without user_id' };
    const identity = idOf(r.identity);
    const at = heapTime(r.last_modified) ?? heapTime(r.joindate);
    if (!at) return { code: RejectCode.badTimestamp, reason: 'a user row needs last_modified or joindate' };
    const set: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) if (!USER_INTERNAL.has(k) && hasValue(v)) setOwn(set, k, v);
    // A user row is the person's latest properties: folded into the person facts, sent once in
    // `~persons` (a `$set` event of its own would send the same values a second time).
    const person: PersonRecord = { distinctId: identity ?? userId, at, set };
    const once = heapTime(r.joindate);
    if (once) person.setOnce = { heap_joined_at: once };
    return identity ? { person, identify: [{ distinctId: identity, anonId: userId, at: once ?? at, recorded: true }] } : { person };
  }
  const name = [r.event_table_name, r.type, r.event].find((x) => typeof x === 'string' && x !== '') as string | undefined;
  if (!name) return { code: RejectCode.missingEvent, reason: 'no event_table_name, type or event column' };
  if (!userId) return { code: 'missing_user_id', reason: 'an event without user_id' };
  const timestamp = heapTime(r.time);
  if (!timestamp) return { code: RejectCode.badTimestamp, reason: `time ${JSON.stringify(r.time)?.slice(0, 40)} is not a date-time` };
  const eventId = idOf(r.event_id);
  const url = pageUrl(r);
  const properties: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (EVENT_INTERNAL.has(k) || v === null || v === '') continue;
    // Both are in the URL when there is one: sent again on their own they would be the same fact twice.
    if (url && (k === 'query' || k === 'hash')) continue;
    const name = COLUMNS.get(k);
    if (name === '$device_type' && typeof v === 'string') properties.$device_type = DEVICE_TYPES.get(v.toLowerCase()) ?? v;
    else if (k === 'browser') Object.assign(properties, browserOf(v, r.user_agent));
    else if (name) properties[name] = v;
    else if (k === 'platform' && typeof v === 'string') Object.assign(properties, osOf(v));
    else setOwn(properties, k, v);
  }
  if (url) properties.$current_url = url;
  const sessionId = idOf(r.session_id);
  if (sessionId) {
    properties.$heap_session_id = sessionId;
    const session = sessionUuidV7(sessionStart(r.session_time, timestamp), `heap:${sessionId}`);
    if (session) properties.$session_id = session;
  }
  const uuid = eventId ? uuidV5(`event:${eventId}`, HEAP_NAMESPACE) : uuidV5(canonicalJson({ name, userId, timestamp, properties }), HEAP_NAMESPACE);
  const event = name === 'pageviews' || name === 'pageview' ? '$pageview' : name;
  return { events: [{ uuid, event, distinct_id: userId, timestamp, properties }] };
}

/**
 * Heap's browser column under posthog-js's names (`Chrome Mobile iOS` → `Chrome iOS`, `IE` →
 * `Internet Explorer`). Where the row has a user agent that names a browser, the agent decides, as
 * posthog-js decides from it: `$browser` is left to the shared step that parses `$raw_user_agent`
 * (which also gives `$browser_version`, Heap having none). Heap's own name is then kept as
 * `$heap_browser` only if it says something else, so a disagreement is not lost; without an agent,
 * only where posthog-js's name is another program's (an app's web view is `Chrome`), as for GA4.
 */
function browserOf(browser: unknown, userAgent: unknown): Record<string, unknown> {
  const named = typeof browser === 'string' ? posthogBrowserName(browser) : browser;
  const parsed = typeof userAgent === 'string' && userAgent !== '' ? parseUserAgent(userAgent).browser : undefined;
  if (!parsed) return typeof browser === 'string' && posthogFoldsBrowser(browser) ? { $browser: named, $heap_browser: browser } : { $browser: named };
  return parsed === named ? {} : { $heap_browser: browser };
}

/** Heap's platform, the OS with or without its version (`iOS 16.1`), as `$os` and `$os_version`. */
function osOf(platform: string): Record<string, string> {
  const m = /^(.*\D)\s+(\d+(?:[._]\d+)*)$/.exec(platform.trim());
  return m ? { $os: m[1]!.trim(), $os_version: m[2]!.replace(/_/g, '.') } : { $os: platform };
}

/**
 * The page's URL from Heap's parts: Heap keeps the domain, path, query and hash of a page apart and no
 * scheme, so the URL is https (what nearly every tracked page is served over). Without a domain
 * there is no URL to build.
 */
function pageUrl(r: Record<string, unknown>): string | undefined {
  const domain = typeof r.domain === 'string' ? r.domain.trim() : '';
  if (domain === '') return undefined;
  const part = (v: unknown, lead: string) => (typeof v === 'string' && v !== '' && v !== lead ? (v.startsWith(lead) ? v : `${lead}${v}`) : '');
  const path = typeof r.path === 'string' && r.path !== '' ? (r.path.startsWith('/') ? r.path : `/${r.path}`) : '/';
  return `https://${domain}${path}${part(r.query, '?')}${part(r.hash, '#')}`;
}

/**
 * The time part of a session's `$session_id`, in ms: it must be the same on every event of the
 * session, or the session splits. Heap Connect's `session_time` is the session's start: that, exactly.
 * Some exports give instead the seconds since the start (a small number, in whole seconds): the start
 * it implies moves by up to a second from event to event, so the time part is the UTC midnight before
 * that start. Without either, it is the UTC midnight of the event's own day: every event of a session
 * gets its id, but a session that runs past midnight UTC becomes two.
 */
function sessionStart(sessionTime: unknown, eventTime: string): number {
  const at = Date.parse(eventTime);
  const n = typeof sessionTime === 'number' ? sessionTime : typeof sessionTime === 'string' && /^\d+(\.\d+)?$/.test(sessionTime.trim()) ? Number(sessionTime) : undefined;
  if (n !== undefined && n >= 0 && n < ELAPSED_LIMIT_S) return midnight(at - n * 1000);
  if (typeof sessionTime === 'string') {
    // Every row of a session repeats its start: read each once.
    let ms = starts.get(sessionTime);
    if (ms === undefined) {
      const start = heapTime(sessionTime);
      ms = start ? Date.parse(start) : NaN;
      if (starts.size >= 4096) starts.clear();
      starts.set(sessionTime, ms);
    }
    return Number.isNaN(ms) ? midnight(at) : ms;
  }
  const start = heapTime(sessionTime);
  return start ? Date.parse(start) : midnight(at);
}
const starts = new Map<string, number>();
/** Seconds since a session's start stay far below this (a year); a start in epoch seconds is above it. */
const ELAPSED_LIMIT_S = 365 * 86_400;
const DAY_MS = 86_400_000;
const midnight = (ms: number) => ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
