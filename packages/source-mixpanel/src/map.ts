import { canonicalJson, ownValue, setOwn, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { RejectCode } from '@hogport/event';
import { idOf, omitter, type PostHogEvent, type RecordResult } from '@hogport/pipeline';
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
const INTERNAL = new Set(['time', 'distinct_id', '$insert_id', '$mp_api_endpoint', 'mp_processing_time_ms', '$mp_api_timestamp_ms', 'mp_lib', '$import', '$mp_event_size', 'mp_sent_by_lib_version', '$city', '$region', 'mp_country_code']);
/** Mixpanel's own identity bookkeeping; the pairs come from the events' `$user_id`/`$device_id` instead. */
const IDENTITY_EVENTS = new Set(['$identify', '$create_alias', '$merge']);
// Looked up by names from data: Maps, so `constructor` finds nothing.
const RENAMES = new Map([['$mp_web_page_view', '$pageview']]);

/**
 * Maps one exported Mixpanel event. distinct_id is `$user_id` when the user is known, else the
 * event's distinct_id (`$device:<id>` for anonymous ones); every (user, anonymous id) pair the event
 * shows is handed to the identity merge. The uuid is PostHog's importer's: UUIDv5 of `$insert_id`.
 */
export function mapMixpanelRecord(value: unknown, mapping: MixpanelMapping): RecordResult {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { code: RejectCode.notAnObject, reason: 'the line is JSON but not an object' };
  const r = value as { event?: unknown; properties?: unknown };
  if (typeof r.event !== 'string' || r.event === '') return { code: RejectCode.missingEvent, reason: '"event" is missing or empty' };
  if (IDENTITY_EVENTS.has(r.event)) return { drop: 'mixpanel_identity_event' };
  const p = r.properties !== null && typeof r.properties === 'object' && !Array.isArray(r.properties) ? r.properties as Record<string, unknown> : undefined;
  if (!p) return { code: 'missing_properties', reason: '"properties" is missing or not an object' };

  const timestamp = mixpanelTime(p.time, mapping.timezone);
  if (!timestamp) return { code: 'bad_time', reason: `properties.time ${JSON.stringify(p.time)?.slice(0, 40)} is not epoch seconds or milliseconds` };
  const userId = idOf(p.$user_id);
  const rawDistinct = idOf(p.distinct_id);
  const deviceId = idOf(p.$device_id);
  const distinctId = userId ?? rawDistinct ?? (deviceId ? `$device:${deviceId}` : undefined);
  if (!distinctId) return { code: RejectCode.missingDistinctId, reason: 'no distinct_id, $user_id or $device_id' };

  const insertId = idOf(p.$insert_id);
  const uuid = insertId
    ? uuidV5(insertId, POSTHOG_MIXPANEL_NAMESPACE)
    : uuidV5(canonicalJson({ event: r.event, distinct_id: distinctId, time: timestamp, properties: p }), MIXPANEL_CONTENT_NAMESPACE);

  const properties = withoutInternals(mapping)(p);
  const put = (k: string, v: unknown) => { if (v !== undefined && v !== null && v !== '' && properties[k] === undefined) properties[k] = v; };
  put('$geoip_city_name', p.$city);
  put('$geoip_subdivision_1_name', p.$region);
  put('$geoip_country_code', p.mp_country_code);
  put('$lib', p.mp_lib);
  const name = (ownValue(mapping.renameEvents, r.event) as string | undefined) ?? RENAMES.get(r.event) ?? r.event;
  if (name !== r.event) properties.$mixpanel_event_name = r.event;

  const event: PostHogEvent = { uuid, event: name, distinct_id: distinctId, timestamp, properties };
  const identify: Array<{ distinctId: string; anonId: string }> = [];
  if (userId) {
    const anon = new Set<string>();
    if (deviceId) anon.add(`$device:${deviceId}`);
    const before = idOf(p.$distinct_id_before_identity);
    if (before) anon.add(before);
    if (rawDistinct && rawDistinct !== userId) anon.add(rawDistinct);
    for (const a of anon) if (a !== userId) identify.push({ distinctId: userId, anonId: a });
  }
  return identify.length ? { events: [event], identify } : { events: [event] };
}

const dropSets = new WeakMap<MixpanelMapping, Set<string>>();
function dropSet(mapping: MixpanelMapping): Set<string> {
  let s = dropSets.get(mapping);
  if (!s) { s = new Set(mapping.dropProperties); dropSets.set(mapping, s); }
  return s;
}

const omitters = new WeakMap<MixpanelMapping, (record: object) => Record<string, unknown>>();
/** A copy of a record's properties without Mixpanel's internals and the dropped ones, made once per mapping. */
function withoutInternals(mapping: MixpanelMapping): (record: object) => Record<string, unknown> {
  let omit = omitters.get(mapping);
  if (!omit) { omit = omitter([...new Set([...INTERNAL, ...mapping.dropProperties])]); omitters.set(mapping, omit); }
  return omit;
}


/** One Engage profile as a person `$set`, timestamped at its `$last_seen` (in the project's zone). */
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
  const timestamp = lastSeen ?? fallbackTime;
  const uuid = uuidV5(`profile:${distinctId}:${canonicalJson(set)}:${timestamp}`, MIXPANEL_CONTENT_NAMESPACE);
  return { events: [{ uuid, event: '$set', distinct_id: distinctId, timestamp, properties: { $set: set } }] };
}

const PROFILE_RENAMES = new Map([['$email', 'email'], ['$name', 'name'], ['$first_name', 'first_name'], ['$last_name', 'last_name'], ['$phone', 'phone'], ['$created', 'created_at']]);

/** Engage's `2024-01-01T10:00:00` is wall time in the project's zone (UTC for newer projects). */
function profileTime(s: string, zone?: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(s);
  if (!m) return undefined;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return mixpanelTime(wall, zone);
}
