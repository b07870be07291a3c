import { canonicalJson, ownValue, setOwn, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { RejectCode } from '@hogport/event';
import { idOf, omitter, oncePer, putter, type Link, type PostHogEvent, type RecordResult } from '@hogport/pipeline';
import { countryName } from './countries.js';
import { mixpanelTime } from './time.js';

/**
 * The namespace PostHog's own Mixpanel import derives uuids with (the 16 ASCII bytes
 * `posthog_mixpanel`): using it over `$insert_id` lets a project that started with PostHog's importer
 * switch to hogport without duplicates.
 */
export const POSTHOG_MIXPANEL_NAMESPACE = new Uint8Array(Buffer.from('posthog_mixpanel', 'ascii'));
/** For records without `$insert_id`: a uuid from their content. */
export const MIXPANEL_CONTENT_NAMESPACE = uuidV5('hogport.mixpanel', URL_NAMESPACE);

export interface MixpanelMapping {
  renameEvents: Record<string, string>;
  dropProperties: string[];
  /** The project's time zone, for projects created before 2023 (which store local time). */
  timezone?: string;
}

/** Mixpanel internals that mean nothing in PostHog. */
const INTERNAL = new Set(['time', 'distinct_id', '$insert_id', '$mp_api_endpoint', 'mp_processing_time_ms', '$mp_api_timestamp_ms', 'mp_lib', '$import', '$mp_event_size', '$city', '$region', 'mp_country_code']);
/** Mixpanel's identity calls (Original ID Merge): they become user links, not events. */
const IDENTITY_EVENTS = new Set(['$identify', '$create_alias', '$merge']);
/** The prefix Simplified ID Merge puts on an anonymous `$device_id` to make its distinct_id. */
const DEVICE_PREFIX = '$device:';
// Looked up by names from data: Maps, so `constructor` finds nothing.
const RENAMES = new Map([['$mp_web_page_view', '$pageview']]);

/**
 * Maps one exported Mixpanel event. distinct_id is `$user_id` when the user is known, else the
 * event's distinct_id (`$device:<id>` or the bare device id for anonymous ones); every (user,
 * anonymous id) pair the event shows is handed to the identity merge, and Mixpanel's own identity
 * calls become links of their own. The uuid is PostHog's importer's: UUIDv5 of `$insert_id`.
 */
export function mapMixpanelRecord(value: unknown, mapping: MixpanelMapping): RecordResult {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { code: RejectCode.notAnObject, reason: 'the line is JSON but not an object' };
  const r = value as { event?: unknown; properties?: unknown };
  if (typeof r.event !== 'string' || r.event === '') return { code: RejectCode.missingEvent, reason: r.event === undefined || r.event === null || r.event === '' ? '"event" is missing or empty' : `"event" must be a string, not ${JSON.stringify(r.event).slice(0, 40)}` };
  const p = r.properties !== null && typeof r.properties === 'object' && !Array.isArray(r.properties) ? r.properties as Record<string, unknown> : undefined;
  if (!p) return { code: 'missing_properties', reason: '"properties" is missing or not an object' };

  const timestamp = mixpanelTime(p.time, mapping.timezone);
  if (!timestamp) return { code: 'bad_time', reason: p.time === undefined || p.time === null ? 'properties.time is missing' : `properties.time ${JSON.stringify(p.time)?.slice(0, 40)} is not epoch seconds or milliseconds` };
  if (IDENTITY_EVENTS.has(r.event)) return identityCall(r.event, p, timestamp);
  const userId = idOf(p.$user_id);
  const rawDistinct = idOf(p.distinct_id);
  const deviceId = idOf(p.$device_id);
  // A record with no distinct_id at all falls back to its bare device id, as PostHog's importer does.
  const distinctId = userId ?? rawDistinct ?? deviceId;
  if (!distinctId) return { code: RejectCode.missingDistinctId, reason: 'no distinct_id, $user_id or $device_id' };

  const insertId = idOf(p.$insert_id);
  const uuid = insertId
    ? uuidV5(insertId, POSTHOG_MIXPANEL_NAMESPACE)
    : uuidV5(canonicalJson({ event: r.event, distinct_id: distinctId, time: timestamp, properties: p }), MIXPANEL_CONTENT_NAMESPACE);

  const properties = withoutInternals(mapping)(p);
  // What the record's properties say themselves wins over what is derived.
  const put = putter(properties, { first: true });
  put('$geoip_city_name', p.$city);
  put('$geoip_subdivision_1_name', p.$region);
  put('$geoip_country_code', p.mp_country_code);
  if (typeof p.mp_country_code === 'string') put('$geoip_country_name', countryName(p.mp_country_code));
  put('$lib', p.mp_lib);
  const name = (ownValue(mapping.renameEvents, r.event) as string | undefined) ?? RENAMES.get(r.event) ?? r.event;
  if (name !== r.event) properties.$mixpanel_event_name = r.event;

  const event: PostHogEvent = { uuid, event: name, distinct_id: distinctId, timestamp, properties };
  const identify = userId ? userLinks(userId, deviceId, idOf(p.$distinct_id_before_identity), rawDistinct) : beforeIdentity(rawDistinct, idOf(p.$distinct_id_before_identity));
  return identify.length ? { events: [event], identify } : { events: [event] };
}

/**
 * The pairs an identified event shows (Simplified ID Merge): its device, in both of the forms
 * Mixpanel's SDKs give it as a distinct_id (the bare `$device_id` of older and mobile SDKs,
 * `$device:<id>` of newer ones), of which the merge links the ones events carry; the id it had
 * before identity; and an anonymous distinct_id of its own.
 */
function userLinks(userId: string, deviceId: string | undefined, before: string | undefined, rawDistinct: string | undefined): Link[] {
  const links: Link[] = [];
  const device = deviceId ? `${DEVICE_PREFIX}${deviceId}` : undefined;
  if (deviceId && deviceId !== userId) links.push({ distinctId: userId, anonId: deviceId, anonForms: [device!], properties: { $mixpanel_user_id: userId, $mixpanel_device_id: deviceId } });
  const isDevice = (id: string) => id === deviceId || id === device;
  if (before && before !== userId && !isDevice(before)) links.push({ distinctId: userId, anonId: before, properties: { $mixpanel_user_id: userId, $mixpanel_distinct_id_before_identity: before } });
  if (rawDistinct && rawDistinct !== userId && rawDistinct !== before && !isDevice(rawDistinct)) links.push({ distinctId: userId, anonId: rawDistinct, properties: { $mixpanel_user_id: userId, $mixpanel_distinct_id: rawDistinct } });
  return links;
}

/** Without `$user_id`, the id an event had before identity still belongs to its distinct_id. */
function beforeIdentity(rawDistinct: string | undefined, before: string | undefined): Link[] {
  if (!rawDistinct || !before || before === rawDistinct) return [];
  return [{ distinctId: rawDistinct, anonId: before, properties: { $mixpanel_distinct_id: rawDistinct, $mixpanel_distinct_id_before_identity: before } }];
}

/**
 * Mixpanel's own identity calls, as links the source recorded (sent even under
 * `identifyEvents: false`), through the merge step so that each pair is linked once across the
 * migration however often Mixpanel repeated the call:
 * - `$identify`: `$anon_distinct_id` joins `$identified_id` (PostHog's `$identify`);
 * - `$create_alias`: `alias` joins `distinct_id` (PostHog's `$create_alias`, on the alias: Mixpanel's
 *   `alias` is the new, identified id, and its distinct_id the one it had before);
 * - `$merge` joins two ids unconditionally, which PostHog does only with `$merge_dangerously`, even for
 *   two identified persons, and cannot undo. hogport carries it only where PostHog's `$identify`
 *   merges alike: one of the two ids is a `$device:` id, anonymous by construction. Any other `$merge`
 *   is dropped and counted (`mixpanel_merge_unsafe`).
 */
function identityCall(event: string, p: Record<string, unknown>, at: string): RecordResult {
  const distinct = idOf(p.distinct_id);
  if (event === '$identify') {
    const user = idOf(p.$identified_id) ?? distinct;
    const anon = idOf(p.$anon_distinct_id);
    if (!user || !anon) return { code: 'incomplete_identity_event', reason: '$identify names no $anon_distinct_id, or neither $identified_id nor distinct_id: there is nothing to link' };
    return linked(user, anon, at, 'identify', { $mixpanel_identified_id: user, $mixpanel_anon_distinct_id: anon });
  }
  if (event === '$create_alias') {
    const alias = idOf(p.alias);
    if (!alias || !distinct) return { code: 'incomplete_identity_event', reason: '$create_alias names no alias or no distinct_id: there is nothing to link' };
    return linked(alias, distinct, at, 'alias', { $mixpanel_alias: alias, $mixpanel_distinct_id: distinct });
  }
  const ids = Array.isArray(p.$distinct_ids) ? p.$distinct_ids.map(idOf) : [];
  if (ids.length !== 2 || !ids[0] || !ids[1]) return { code: 'incomplete_identity_event', reason: '$merge must name two ids in $distinct_ids' };
  const devices = ids.filter((id) => id!.startsWith(DEVICE_PREFIX));
  if (devices.length !== 1) return { drop: 'mixpanel_merge_unsafe' };
  const anon = devices[0]!;
  const user = ids.find((id) => id !== anon)!;
  return linked(user, anon, at, 'identify', { $mixpanel_distinct_ids: `${ids[0]},${ids[1]}` });
}

function linked(user: string, anon: string, at: string, kind: 'identify' | 'alias', properties: Record<string, string>): RecordResult {
  if (user === anon) return { drop: 'mixpanel_identity_self' };
  const link: Link = { distinctId: user, anonId: anon, at, kind, recorded: true, properties };
  // A `$device:` id the call names may be carried bare by the project's events (mobile SDKs).
  if (anon.startsWith(DEVICE_PREFIX) && anon.length > DEVICE_PREFIX.length) link.anonForms = [anon.slice(DEVICE_PREFIX.length)];
  return { events: [], identify: [link] };
}

const dropSet = oncePer((mapping: MixpanelMapping) => new Set(mapping.dropProperties));

/** A copy of a record's properties without Mixpanel's internals and the dropped ones, made once per mapping. */
const withoutInternals = oncePer((mapping: MixpanelMapping) => omitter([...new Set([...INTERNAL, ...mapping.dropProperties])]));


/**
 * One Engage profile as a person record: its properties as of its `$last_seen` (in the project's
 * zone), folded into what the events say of the person and sent once, in `~persons`.
 */
export function mapMixpanelProfile(value: unknown, mapping: MixpanelMapping, fallbackTime: string): RecordResult {
  if (value === null || typeof value !== 'object') return { code: RejectCode.notAnObject, reason: 'a profile must be an object' };
  const r = value as { $distinct_id?: unknown; $properties?: unknown };
  const distinctId = idOf(r.$distinct_id);
  if (!distinctId) return { code: RejectCode.missingDistinctId, reason: 'the profile has no $distinct_id' };
  const props = r.$properties !== null && typeof r.$properties === 'object' ? r.$properties as Record<string, unknown> : {};
  const drop = dropSet(mapping);
  const set: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) {
    if (drop.has(k) || k === '$last_seen' || k === '$distinct_id') continue;
    setOwn(set, PROFILE_RENAMES.get(k) ?? k, v);
  }
  const lastSeen = typeof props.$last_seen === 'string' ? profileTime(props.$last_seen, mapping.timezone) : undefined;
  return { person: { distinctId, at: lastSeen ?? fallbackTime, set } };
}

const PROFILE_RENAMES = new Map([['$email', 'email'], ['$name', 'name'], ['$first_name', 'first_name'], ['$last_name', 'last_name'], ['$phone', 'phone'], ['$created', 'created_at']]);

/** Engage's `2024-01-01T10:00:00` is wall time in the project's zone (UTC for newer projects). */
function profileTime(s: string, zone?: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(s);
  if (!m) return undefined;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return mixpanelTime(wall, zone);
}
