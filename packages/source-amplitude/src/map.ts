import { canonicalJson, ExactNumber, isUuid, normalizeTimestamp, ownValue, setOwn, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { deviceTypeOfOs, posthogOsName, sessionUuidV7, type DeviceType } from '@hogport/conventions';
import { RejectCode } from '@hogport/event';
import { hasValue, idOf, oncePer, type Link, type PostHogEvent } from '@hogport/pipeline';

/** Namespace of the uuids hogport derives for Amplitude records without a `uuid`. */
export const AMPLITUDE_NAMESPACE = uuidV5('hogport.amplitude', URL_NAMESPACE);

/** The user-set part of the mapping; everything else is fixed by the contract. */
export interface AmplitudeMapping {
  /** Amplitude event names to rename, applied before the built-in renames. */
  renameEvents: Record<string, string>;
  /** Property names removed from event_properties and user_properties. */
  dropProperties: string[];
}

export type Mapped =
  | { events: PostHogEvent[]; identify?: Link[]; changed?: string[] }
  | { drop: string }
  | { code: string; reason: string };

// Looked up by names from data: a Map, so `constructor` finds nothing.
const BUILT_IN_RENAMES = new Map([
  ['[Amplitude] Page Viewed', '$pageview'],
  ['[Amplitude] Element Clicked', '$autocapture'],
  ['[Amplitude] Element Changed', '$autocapture'],
]);
const SESSION_EVENTS = new Set(['session_start', 'session_end']);
const PAGE_PROPERTIES: Record<string, string> = {
  '[Amplitude] Page URL': '$current_url',
  '[Amplitude] Page Domain': '$host',
  '[Amplitude] Page Path': '$pathname',
  '[Amplitude] Page Title': '$title',
  '[Amplitude] Referrer': '$referrer',
  '[Amplitude] Referring Domain': '$referring_domain',
  '[Amplitude] Viewport Height': '$viewport_height',
  '[Amplitude] Viewport Width': '$viewport_width',
  // Set by Amplitude's older web SDKs and by PostHog's importer read as the page's referrer.
  referrer: '$referrer',
  referring_domain: '$referring_domain',
};
const PAGE_ENTRIES = Object.entries(PAGE_PROPERTIES);
const dropSet = oncePer((mapping: AmplitudeMapping) => new Set(mapping.dropProperties));
const DEVICE_TYPES = new Map<string, DeviceType>([['desktop', 'Desktop'], ['mobile', 'Mobile'], ['tablet', 'Tablet']]);

/**
 * What a record that is not a mapping-level failure can have wrong and still be carried: counted in
 * the manifest's `changedBy`, one name per bag.
 */
export const AmplitudeChanged = {
  userPropertiesNotObject: 'amplitude_user_properties_not_object',
  groupsNotObject: 'amplitude_groups_not_object',
  groupPropertiesNotObject: 'amplitude_group_properties_not_object',
} as const;

/**
 * Maps one Amplitude export record to PostHog events: the event itself, plus a `$groupidentify`
 * per group whose properties the record carries. `session_start`/`session_end` are dropped by rule,
 * as PostHog's own import does; a record without a name, an identity or a usable time is refused
 * with the reason. Everything derived (uuids, the session id) depends only on the record, so every
 * re-run gives the same events. The record is the mapper's to keep: its objects become the event's
 * (it is fresh from JSON.parse, and nothing else holds it).
 */
export function mapAmplitudeRecord(value: unknown, mapping: AmplitudeMapping): Mapped {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { code: RejectCode.notAnObject, reason: 'the line is JSON but not an object' };
  const r = value as Record<string, unknown>;
  const sourceName = r.event_type;
  if (typeof sourceName !== 'string' || sourceName === '') return { code: 'missing_event_type', reason: sourceName === undefined || sourceName === null || sourceName === '' ? 'event_type is missing or empty' : `event_type must be a string, not ${JSON.stringify(sourceName).slice(0, 40)}` };
  if (SESSION_EVENTS.has(sourceName)) return { drop: 'amplitude_session_event' };
  // event_properties are what the event says: sent without them it would be another event, and a
  // re-run with the record fixed could not replace it (PostHog cannot delete events). A reject keeps
  // the record, its position and the reason until the export is fixed.
  if (!bag(r.event_properties)) return { code: RejectCode.badProperties, reason: `event_properties is ${kindOf(r.event_properties)}, not an object: the event cannot be sent without its properties` };

  const userId = idOf(r.user_id);
  const deviceId = idOf(r.device_id);
  const distinctId = userId ?? deviceId;
  if (!distinctId) return { code: 'missing_identity', reason: 'neither user_id nor device_id is set: the event cannot be given a distinct_id' };

  const timeField = (['event_time', 'client_event_time', 'server_received_time'] as const).find((f) => typeof r[f] === 'string' && r[f] !== '');
  const timestamp = timeField ? amplitudeTime(r[timeField] as string) : undefined;
  if (!timestamp) {
    return { code: RejectCode.badTimestamp, reason: timeField ? `${timeField} "${String(r[timeField]).slice(0, 40)}" is not a date-time` : 'none of event_time, client_event_time, server_received_time is set' };
  }

  let uuid: string;
  if (typeof r.uuid === 'string' && isUuid(r.uuid)) uuid = r.uuid.toLowerCase();
  else if (typeof r.$insert_id === 'string' && r.$insert_id !== '') uuid = uuidV5(`insert_id:${r.$insert_id}`, AMPLITUDE_NAMESPACE);
  else uuid = uuidV5(canonicalJson({ event_type: sourceName, user_id: userId ?? null, device_id: deviceId ?? null, timestamp, event_properties: r.event_properties ?? null }), AMPLITUDE_NAMESPACE);

  // The other bags describe the person and the groups, which other events describe too: the event
  // stands on its own without them, so it is sent, and what was left out is counted.
  let changed: string[] | undefined;
  if (!bag(r.user_properties)) (changed ??= []).push(AmplitudeChanged.userPropertiesNotObject);
  if (!bag(r.groups)) (changed ??= []).push(AmplitudeChanged.groupsNotObject);
  if (!bag(r.group_properties)) (changed ??= []).push(AmplitudeChanged.groupPropertiesNotObject);

  const drop = dropSet(mapping);
  // The parsed record is ours: its event_properties become the event's properties in place. A
  // fresh object built key by key turns into a slow dictionary for V8, which then serialises at a
  // third of the speed; adding keys to a parsed object keeps it fast.
  const properties = object(r.event_properties);
  if (drop.size > 0) for (const k of drop) if (Object.hasOwn(properties, k)) delete properties[k];
  // Amplitude's own names stay beside PostHog's: a chart built on either keeps working.
  for (const [from, to] of PAGE_ENTRIES) if (properties[from] !== undefined && properties[to] === undefined) properties[to] = properties[from];

  const renamed = (ownValue(mapping.renameEvents, sourceName) as string | undefined) ?? BUILT_IN_RENAMES.get(sourceName) ?? sourceName;
  // Named stores (p.$x = …), not a helper storing by key: V8 keeps an object built by named stores
  // fast up to 128 added fields, but by keyed stores only up to 12, and a slow object serialises at a third of the speed.
  const p = properties;
  if (renamed !== sourceName) p.$amplitude_event_type = sourceName;
  if (hasValue(userId)) p.$amplitude_user_id = userId;
  if (hasValue(deviceId)) p.$amplitude_device_id = deviceId;
  if (hasValue(r.amplitude_id)) p.$amplitude_id = r.amplitude_id;
  if (hasValue(r.event_id)) p.$amplitude_event_id = r.event_id;
  if (hasValue(r.$insert_id)) p.$amplitude_insert_id = r.$insert_id;
  if (typeof r.session_id === 'number' && r.session_id > 0) p.$amplitude_session_id = r.session_id;
  if (hasValue(r.platform)) p.$amplitude_platform = r.platform;
  if (hasValue(deviceId)) p.$device_id = deviceId;
  if (r.platform === 'Web') {
    // On the web Amplitude puts the browser in os_name and the OS in device_family.
    if (hasValue(r.os_name)) p.$browser = r.os_name;
    if (hasValue(r.os_version)) p.$browser_version = r.os_version;
    if (hasValue(r.device_family)) p.$os = r.device_family;
  } else {
    if (hasValue(r.os_name)) p.$os = r.os_name;
    if (hasValue(r.os_version)) p.$os_version = r.os_version;
  }
  const device = deviceOf(r);
  if (device.type) p.$device_type = device.type;
  const model = r.device_model ?? device.model;
  if (hasValue(model)) p.$device_model = model;
  const manufacturer = r.device_manufacturer ?? r.device_brand;
  if (hasValue(manufacturer)) p.$device_manufacturer = manufacturer;
  if (typeof r.library === 'string' && r.library !== '') {
    const slash = r.library.indexOf('/');
    p.$lib = slash > 0 ? r.library.slice(0, slash) : r.library;
    if (slash > 0 && slash < r.library.length - 1) p.$lib_version = r.library.slice(slash + 1);
  }
  if (hasValue(r.version_name)) p.$app_version = r.version_name;
  if (hasValue(r.ip_address)) p.$ip = r.ip_address;
  if (hasValue(r.country)) p.$geoip_country_name = r.country;
  if (hasValue(r.region)) p.$geoip_subdivision_1_name = r.region;
  if (hasValue(r.city)) p.$geoip_city_name = r.city;
  if (hasValue(r.location_lat)) p.$geoip_latitude = r.location_lat;
  if (hasValue(r.location_lng)) p.$geoip_longitude = r.location_lng;
  const session = sessionUuid(r.session_id, deviceId ?? userId!);
  if (session) p.$session_id = session;
  // As PostHog's own importer marks what it imported, so a filter made for its imports finds these.
  p.analytics_source = 'amplitude';

  const groups = groupsOf(r.groups);
  if (groups.first.length > 0) properties.$groups = Object.fromEntries(groups.first);

  const event: PostHogEvent = { uuid, event: renamed, distinct_id: distinctId, timestamp, properties };
  const { $set, $set_once } = personProperties(object(r.user_properties), drop);
  if ($set) event.$set = $set;
  if ($set_once) event.$set_once = $set_once;

  const events = [event];
  for (const [type, key, props] of groupIdentifies(object(r.group_properties), groups)) {
    events.push({
      uuid: uuidV5(`groupidentify:${uuid}:${type}:${key}`, AMPLITUDE_NAMESPACE),
      event: '$groupidentify', distinct_id: distinctId, timestamp,
      properties: { $group_type: type, $group_key: key, $group_set: props },
    });
  }
  // The ids PostHog's importer puts on the `$identify` it generates (amplitude/identify.rs).
  const out: Mapped = userId && deviceId ? { events, identify: [{ distinctId: userId, anonId: deviceId, properties: { $amplitude_user_id: userId, $amplitude_device_id: deviceId } }] } : { events };
  if (changed) out.changed = changed;
  return out;
}

/**
 * The `$session_id` of an Amplitude session (the shared deterministic UUIDv7, `sessionUuidV7`):
 * Amplitude's session_id is the session's start in epoch ms, and a session belongs to its device.
 * -1 (or nothing) means no session.
 */
export function sessionUuid(sessionId: unknown, device: string): string | undefined {
  if (typeof sessionId !== 'number' || !Number.isSafeInteger(sessionId) || sessionId <= 0) return undefined;
  return sessionUuidV7(sessionId, `${sessionId}:${device}`);
}

/**
 * `$device_type` and, where device_type names a device rather than a kind, the model. Amplitude's
 * device_type holds a kind (`mobile`), a device (`Apple iPhone 15`, `Apple iPad Pro`) or, from some
 * SDKs, an OS (`iOS`, `Windows`, `Mac`): PostHog's importer maps the OS ones (Android and iOS to
 * Mobile, Windows and Linux to Desktop; Mac too here). An iPad is a tablet whatever the platform
 * says; otherwise the platform (`iOS`, `Android`) says Mobile. The web's OS comes from
 * device_family, and the shared conventions derive its device type from it.
 */
function deviceOf(r: Record<string, unknown>): { type?: DeviceType; model?: unknown } {
  const dt = typeof r.device_type === 'string' && r.device_type !== '' ? r.device_type : undefined;
  const kind = dt ? DEVICE_TYPES.get(dt.toLowerCase()) : undefined;
  if (kind) return { type: kind };
  const os = dt ? posthogOsName(dt) : undefined;
  const fromOs = os ? deviceTypeOfOs(os) : undefined;
  if (fromOs) return { type: fromOs };
  const named = `${dt ?? ''} ${typeof r.device_family === 'string' ? r.device_family : ''} ${typeof r.device_model === 'string' ? r.device_model : ''}`;
  const type = /ipad|tablet/i.test(named) ? 'Tablet'
    : typeof r.platform === 'string' && r.platform !== 'Web' ? deviceTypeOfOs(posthogOsName(r.platform)) : undefined;
  return type ? { type, model: dt } : { model: dt };
}

/**
 * user_properties: `initial_*` set once under PostHog's names (`initial_referrer` →
 * `$initial_referrer`, as PostHog's importer and UI name first-touch values), everything else set;
 * Amplitude's "EMPTY" means no value.
 */
function personProperties(props: Record<string, unknown>, drop: Set<string>): { $set?: Record<string, unknown>; $set_once?: Record<string, unknown> } {
  let plain = true;
  for (const k in props) {
    const v = props[k];
    if (v === 'EMPTY' || v === null || v === undefined || drop.has(k) || k.startsWith('initial_')) { plain = false; break; }
  }
  // Most records need nothing moved or removed: the parsed object serves as it is (and stays fast).
  if (plain) return Object.keys(props).length > 0 ? { $set: props } : {};
  const $set: Record<string, unknown> = {};
  const $set_once: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) {
    if (v === 'EMPTY' || v === null || v === undefined || drop.has(k)) continue;
    if (k.startsWith('initial_')) setOwn($set_once, `$${k}`, v);
    else setOwn($set, k, v);
  }
  const out: { $set?: Record<string, unknown>; $set_once?: Record<string, unknown> } = {};
  for (const _ in $set) { out.$set = $set; break; }
  for (const _ in $set_once) { out.$set_once = $set_once; break; }
  return out;
}

/**
 * Amplitude groups (`{type: name}` or `{type: [names]}`): `first` is PostHog's `$groups` (one key per
 * type, the first), `all` every group the record names.
 */
function groupsOf(value: unknown): { first: Array<[string, string]>; all: Array<[string, string]> } {
  const first: Array<[string, string]> = [];
  const all: Array<[string, string]> = [];
  for (const [type, v] of Object.entries(object(value))) {
    let firstOfType = true;
    for (const key of Array.isArray(v) ? v : [v]) {
      if (!((typeof key === 'string' && key !== '') || typeof key === 'number' || key instanceof ExactNumber)) continue;
      if (firstOfType) first.push([type, String(key)]);
      firstOfType = false;
      all.push([type, String(key)]);
    }
  }
  return { first, all };
}

/**
 * One `$groupidentify` per group of the record, once each, as PostHog's importer sends them: with
 * the group's properties where group_properties has them (`{type: {key: {props}}}`, or
 * `{type: {props}}` for the record's own group of that type), else an empty `$group_set`, which
 * still creates the group in PostHog. Groups only group_properties names come too.
 */
function groupIdentifies(value: Record<string, unknown>, groups: { first: Array<[string, string]>; all: Array<[string, string]> }): Array<[string, string, Record<string, unknown>]> {
  if (groups.all.length === 0 && isEmpty(value)) return [];
  const props = new Map<string, [string, string, Record<string, unknown>]>();
  const firstOf = new Map(groups.first);
  for (const [type, v] of Object.entries(value)) {
    const inner = object(v);
    const entries = Object.entries(inner);
    if (entries.length === 0) continue;
    const nested = entries.every(([, x]) => x !== null && typeof x === 'object' && !Array.isArray(x));
    if (nested) {
      for (const [key, p] of entries) props.set(`${type}\u0000${key}`, [type, key, object(p)]);
    } else if (firstOf.has(type)) {
      props.set(`${type}\u0000${firstOf.get(type)!}`, [type, firstOf.get(type)!, inner]);
    }
  }
  const out: Array<[string, string, Record<string, unknown>]> = [];
  const seen = new Set<string>();
  for (const [type, key] of groups.all) {
    const id = `${type}\u0000${key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(props.get(id) ?? [type, key, {}]);
  }
  for (const [id, entry] of props) if (!seen.has(id)) { seen.add(id); out.push(entry); }
  return out;
}

function isEmpty(o: Record<string, unknown>): boolean {
  for (const _ in o) return false;
  return true;
}

/** Whether a property bag can be read: an object, or absent (null, as Amplitude writes an empty one). */
function bag(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'object' && !Array.isArray(v));
}

function kindOf(v: unknown): string {
  return Array.isArray(v) ? 'an array' : typeof v === 'string' ? 'a string' : `a ${typeof v}`;
}

/** `v` itself when it is an object (callers may add to it), else a fresh empty one. */
function object(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {};
}

/**
 * Amplitude's `YYYY-MM-DD HH:MM:SS.ffffff` (UTC, no zone) is the normal form but for the `T` and the
 * `Z`: with them, the normaliser takes it on its fast path. Anything else is parsed as ISO 8601.
 */
function amplitudeTime(s: string): string | undefined {
  return normalizeTimestamp(s.length === 26 && s.charCodeAt(10) === 0x20 ? `${s.slice(0, 10)}T${s.slice(11)}Z` : s);
}
