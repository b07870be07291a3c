import { canonicalJson, epochToIso, ExactNumber, setOwn, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { RejectCode } from '@hogport/event';
import { hasValue, idOf, putter, type PostHogEvent, type RecordResult } from '@hogport/pipeline';
import { posthogBrowserName, posthogFoldsBrowser, posthogOsName, sessionUuidV7 } from '@hogport/conventions';
import { isDeepStrictEqual } from 'node:util';

/** Namespace of the uuids derived from GA4's composite event key. */
export const GA4_NAMESPACE = uuidV5('hogport.ga4', URL_NAMESPACE);

// Looked up by names from data: Maps, so a param named `constructor` finds nothing.
const RENAMES = new Map([['page_view', '$pageview'], ['screen_view', '$screen']]);
const DROPPED = new Set(['session_start', 'first_visit']);
const PARAM_RENAMES = new Map([
  ['page_location', '$current_url'], ['page_referrer', '$referrer'], ['page_title', '$title'], ['firebase_screen', '$screen_name'],
  // The campaign of the event, as gtag sends it from the page's UTM parameters.
  ['source', 'utm_source'], ['medium', 'utm_medium'], ['campaign', 'utm_campaign'], ['term', 'utm_term'], ['content', 'utm_content'],
]);
/** Params, and collected_traffic_source fields, that name where the visit came from. */
const TRAFFIC_PARAMS = new Set(['source', 'medium', 'campaign', 'term', 'content', 'gclid', 'campaign_id']);
const COLLECTED_TRAFFIC = new Map([
  ['manual_source', 'utm_source'], ['manual_medium', 'utm_medium'], ['manual_campaign_name', 'utm_campaign'], ['manual_term', 'utm_term'],
  ['manual_content', 'utm_content'], ['gclid', 'gclid'], ['dclid', 'dclid'],
]);
/**
 * What GA4 writes where it has no value: `(direct)` / `(none)` for a visit without a source, `(organic)`
 * and `(referral)` as campaign names of unpaid traffic, `(not set)`, `(not provided)` (an encrypted
 * search term) and `(data deleted)`. As values they would make one large fake campaign in PostHog's
 * channel attribution and fake geo and device values, so they are left out wherever they appear.
 */
const PLACEHOLDERS = new Set(['(direct)', '(none)', '(not set)', '(organic)', '(referral)', '(data deleted)', '(not provided)']);
const DEVICE_TYPES = new Map([['desktop', 'Desktop'], ['mobile', 'Mobile'], ['tablet', 'Tablet']]);
/**
 * GA4's automatic user properties that describe the session, not the person: sent with every event
 * and changed with every session, as `$set` they would rewrite the person each visit. They stay on
 * the event (where an event param of the same name wins).
 */
const SESSION_USER_PROPERTIES = new Set(['ga_session_id', 'ga_session_number']);
/** Automatic user properties that are facts of the person's first visit: kept once, never overwritten. */
const FIRST_USER_PROPERTIES = new Set(['first_open_time']);

const isValue = (v: unknown) => hasValue(v) && !(typeof v === 'string' && PLACEHOLDERS.has(v));

/**
 * GA4's OS version without the OS name before it (`Android 13.0.0`, `Windows 11`, `Macintosh Intel
 * 10.15`): PostHog's `$os_version` is the version alone, as its SDKs send it.
 */
function osVersion(version: unknown, os: unknown): unknown {
  if (typeof version === 'number') return String(version);
  if (typeof version !== 'string') return version;
  const rest = typeof os === 'string' && os !== '' && version.startsWith(`${os} `) ? version.slice(os.length + 1) : version;
  const at = rest.search(/\d/);
  return at > 0 && /^[A-Za-z ]+$/.test(rest.slice(0, at)) ? rest.slice(at) : rest;
}

/** A GA4 typed value slot: `{string_value, int_value, float_value, double_value}`, INT64 as text in JSON. */
function slot(v: unknown): unknown {
  if (!v || typeof v !== 'object') return undefined;
  const s = v as Record<string, unknown>;
  if (s.string_value !== null && s.string_value !== undefined) return s.string_value;
  if (s.int_value !== null && s.int_value !== undefined) { const n = Number(s.int_value); return Number.isSafeInteger(n) ? n : String(s.int_value); }
  for (const k of ['float_value', 'double_value']) if (s[k] !== null && s[k] !== undefined) return Number(s[k]);
  return undefined;
}

/** Each user property's `value.set_timestamp_micros` with a value, as the export wrote it (INT64 as text), the last of a key winning as its value does. */
function setTimes(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(list)) return out;
  for (const p of list) {
    if (!p || typeof p !== 'object' || typeof (p as { key?: unknown }).key !== 'string') continue;
    const at = ((p as { value?: unknown }).value as { set_timestamp_micros?: unknown } | null | undefined)?.set_timestamp_micros;
    if (isValue(at)) setOwn(out, (p as { key: string }).key, at);
  }
  return out;
}

/** GA4's `[{key, value: {…_value}}]` as a plain object. */
function flatten(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(list)) return out;
  for (const p of list) {
    if (!p || typeof p !== 'object' || typeof (p as { key?: unknown }).key !== 'string') continue;
    const v = slot((p as { value?: unknown }).value);
    if (v !== undefined) setOwn(out, (p as { key: string }).key, v);
  }
  return out;
}

/**
 * Maps one row of GA4's BigQuery export (`events_YYYYMMDD`, as NDJSON): event_params and
 * user_properties flattened from their typed slots, `page_view` → `$pageview`, session_start and
 * first_visit dropped by rule, distinct_id = user_id else user_pseudo_id, `$session_id` from
 * ga_session_id, device, geo and first-touch traffic source mapped, and a uuid from the composite key
 * (GA4 rows have no id of their own).
 */
export function mapGa4Row(value: unknown): RecordResult {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { code: RejectCode.notAnObject, reason: 'the row is not an object' };
  const r = value as Record<string, any>;
  const name = r.event_name;
  if (typeof name !== 'string' || name === '') return { code: 'missing_event_name', reason: 'event_name is missing' };
  if (DROPPED.has(name)) return { drop: 'ga4_session_event' };
  const userId = idOf(r.user_id);
  const pseudo = idOf(r.user_pseudo_id);
  const distinctId = userId ?? pseudo;
  if (!distinctId) return { code: 'missing_identity', reason: 'neither user_id nor user_pseudo_id is set (user_pseudo_id is null without consent)' };
  const micros = typeof r.event_timestamp === 'string' || typeof r.event_timestamp === 'number' ? Number(r.event_timestamp) : NaN;
  const timestamp = micros > 0 ? epochToIso(micros, 'us', 'us') : undefined;
  if (!timestamp) return { code: RejectCode.badTimestamp, reason: `event_timestamp ${JSON.stringify(r.event_timestamp)?.slice(0, 40)} is not microseconds since the epoch within years 0000-9999` };

  const params = flatten(r.event_params);
  const properties: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) if (!TRAFFIC_PARAMS.has(k) || isValue(v)) setOwn(properties, PARAM_RENAMES.get(k) ?? k, v);
  /** The row's fields (dotted paths) that became a property: `carryRest` lands the others. */
  const used = new Set<string>();
  const put = (k: string, from: string, v: unknown) => { if (isValue(v)) { properties[k] = v; used.add(from); } };
  const fill = (k: string, from: string, v: unknown) => { if (!Object.hasOwn(properties, k)) put(k, from, v); };
  const d = r.device ?? {};
  const category = String(d.category ?? '').toLowerCase();
  const browserAt = isValue(d.web_info?.browser) ? 'device.web_info.browser' : 'device.browser';
  const browser = d.web_info?.browser ?? d.browser;
  const browserVersionAt = isValue(d.web_info?.browser_version) ? 'device.web_info.browser_version' : 'device.browser_version';
  put('$device_type', 'device.category', DEVICE_TYPES.get(category));
  put('$os', 'device.operating_system', d.operating_system);
  put('$os_version', 'device.operating_system_version', osVersion(d.operating_system_version, d.operating_system));
  // GA4's browser names are its own (`Edge`, `Safari (in-app)`, `Chrome` on an iPhone): PostHog's
  // breakdowns group by posthog-js's. A name that is another program's than posthog-js's (an app's web
  // view) is left to carryRest, so it lands beside `$browser` as `ga4_<path>`.
  if (typeof browser === 'string' && isValue(browser)) {
    properties.$browser = posthogBrowserName(browser, typeof d.operating_system === 'string' ? posthogOsName(d.operating_system) : undefined);
    if (!posthogFoldsBrowser(browser)) used.add(browserAt);
  } else put('$browser', browserAt, browser);
  put('$browser_version', browserVersionAt, d.web_info?.browser_version ?? d.browser_version);
  put('$host', 'device.web_info.hostname', d.web_info?.hostname);
  // On a desktop GA4 fills the mobile_* fields with the browser's maker and name (Google / Chrome,
  // Microsoft / Edge): they say nothing of the device then. A phone's are its own (Samsung / SM-G781B).
  if (category !== 'desktop' && !(isValue(browser) && d.mobile_model_name === browser)) {
    put('$device_manufacturer', 'device.mobile_brand_name', d.mobile_brand_name);
    put('$device_model', 'device.mobile_model_name', d.mobile_model_name);
  }
  put('$locale', 'device.language', d.language);
  const app = r.app_info ?? {};
  put('$app_version', 'app_info.version', app.version);
  put('$app_namespace', 'app_info.id', app.id);
  fill('$screen_name', 'event_params.firebase_screen_class', params.firebase_screen_class);
  const g = r.geo ?? {};
  put('$geoip_country_name', 'geo.country', g.country);
  put('$geoip_subdivision_1_name', 'geo.region', g.region);
  put('$geoip_city_name', 'geo.city', g.city);
  put('$geoip_continent_name', 'geo.continent', g.continent);
  const collected = r.collected_traffic_source;
  if (collected && typeof collected === 'object') for (const [from, to] of COLLECTED_TRAFFIC) fill(to, `collected_traffic_source.${from}`, collected[from]);
  put('$ga4_user_pseudo_id', 'user_pseudo_id', pseudo);
  put('$ga4_stream_id', 'stream_id', r.stream_id);
  // BigQuery writes an empty list on every event without products: that is no value.
  if (r.items && !(Array.isArray(r.items) && r.items.length === 0)) properties.items = r.items;
  if (r.ecommerce) properties.ecommerce = r.ecommerce;
  const userProps = flatten(r.user_properties);
  const set: Record<string, unknown> = {};
  const once: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(userProps)) {
    if (!SESSION_USER_PROPERTIES.has(k)) setOwn(FIRST_USER_PROPERTIES.has(k) ? once : set, k, v);
    else if (!Object.hasOwn(properties, k)) setOwn(properties, k, v);
    // The param of the same name wins; a user property that says otherwise is kept beside it.
    else if (!isDeepStrictEqual(properties[k], v)) fillOwn(properties, `ga4_user_properties_${k}`, v);
  }
  // When GA4 last set each user property: the person's `$set` holds values, not their times, so the
  // time stays on the event under the name of its property's value (`ga4_user_properties_plan`).
  for (const [k, at] of Object.entries(setTimes(r.user_properties))) fillOwn(properties, `ga4_user_properties_${k}_set_timestamp_micros`, at);
  const sessionId = params.ga_session_id ?? userProps.ga_session_id;
  // ga_session_id is the session's start in epoch seconds; the session belongs to its device.
  if (typeof sessionId === 'number' && sessionId > 0) {
    const session = sessionUuidV7(sessionId * 1000, `${sessionId}:${pseudo ?? distinctId}`);
    if (session) properties.$session_id = session;
  }

  const key = { user_pseudo_id: r.user_pseudo_id ?? null, user_id: r.user_id ?? null, event_timestamp: String(r.event_timestamp), event_name: name, event_bundle_sequence_id: r.event_bundle_sequence_id ?? null, batch_event_index: r.batch_event_index ?? null, batch_page_id: r.batch_page_id ?? null, batch_ordering_id: r.batch_ordering_id ?? null, stream_id: r.stream_id ?? null };
  const event: PostHogEvent = { uuid: uuidV5(canonicalJson(key), GA4_NAMESPACE), event: RENAMES.get(name) ?? name, distinct_id: distinctId, timestamp, properties };
  if (Object.keys(set).length) event.$set = set;
  const ts = r.traffic_source;
  if (ts && typeof ts === 'object') {
    for (const [from, to] of [['source', '$initial_utm_source'], ['medium', '$initial_utm_medium'], ['name', '$initial_utm_campaign']] as const) {
      if (isValue(ts[from])) { once[to] = ts[from]; used.add(`traffic_source.${from}`); }
    }
  }
  if (Object.keys(once).length) event.$set_once = once;
  carryRest(r, used, properties);
  return userId && pseudo ? { events: [event], identify: [{ distinctId: userId, anonId: pseudo }] } : { events: [event] };
}

/**
 * Fields of the row that `mapGa4Row` reads whole: the event's name, time and identity, the lists it
 * flattens, the product fields it keeps as they are.
 */
const READ_WHOLE = new Set(['event_name', 'event_timestamp', 'user_id', 'event_params', 'user_properties', 'items', 'ecommerce']);

/**
 * Every other field of the row with a value lands as `ga4_<path>`, its path's parts joined by `_`
 * (`geo.sub_continent` → `ga4_geo_sub_continent`, `privacy_info.analytics_storage` →
 * `ga4_privacy_info_analytics_storage`, `event_bundle_sequence_id` → `ga4_event_bundle_sequence_id`):
 * the export's own column names, so a user who knows GA4's schema finds them, in flat properties
 * PostHog can filter and break down by. Values stay as the export wrote them (INT64 as text); GA4's
 * placeholders and empty values are no value, as in the mapped fields. A property the row's params
 * already set keeps the param's value.
 */
function carryRest(r: Record<string, unknown>, used: ReadonlySet<string>, properties: Record<string, unknown>): void {
  const walk = (v: unknown, path: string) => {
    if (used.has(path)) return;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof ExactNumber)) {
      for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
    } else if (isValue(v) && !(Array.isArray(v) && v.length === 0)) {
      fillOwn(properties, `ga4_${path.replace(/\./g, '_')}`, v);
    }
  };
  for (const [k, v] of Object.entries(r)) if (!READ_WHOLE.has(k)) walk(v, k);
}

function fillOwn(properties: Record<string, unknown>, key: string, v: unknown): void {
  if (!Object.hasOwn(properties, key)) setOwn(properties, key, v);
}
