import { isDeepStrictEqual } from 'node:util';
import { canonicalJson, normalizeTimestamp, setOwn, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { RejectCode } from '@hogport/event';
import { hasValue, idOf, type PostHogEvent, type RecordResult } from '@hogport/pipeline';

/** Namespace of the uuids derived from Segment messageIds. */
export const SEGMENT_NAMESPACE = uuidV5('hogport.segment', URL_NAMESPACE);

/** Segment's group calls name no group type; PostHog needs one, the same for group calls and `$groups`. */
const GROUP_TYPE = 'company';

const UTM: Record<string, string> = { source: 'utm_source', medium: 'utm_medium', name: 'utm_campaign', term: 'utm_term', content: 'utm_content' };
const PAGE_PROPERTIES = [['url', '$current_url'], ['path', '$pathname'], ['title', '$title'], ['referrer', '$referrer']] as const;

/**
 * Maps one Segment message (from Segment's S3/GCS logs): track → the event, page → `$pageview`,
 * screen → `$screen`, identify → `$identify` with traits in `$set` (its link recorded for the merge step),
 * group → `$groupidentify`, alias → a recorded alias link (the merge step's `$create_alias`). The skew-corrected `timestamp` is used; distinct_id is userId, else anonymousId,
 * and an identify or track carrying both links them. The uuid derives from messageId, type and content.
 */
export function mapSegmentMessage(value: unknown): RecordResult {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { code: RejectCode.notAnObject, reason: 'the message is not an object' };
  const m = value as Record<string, any>;
  const type = m.type;
  const userId = idOf(m.userId);
  const anonymousId = idOf(m.anonymousId);
  const distinctId = userId ?? anonymousId;
  if (!distinctId) return { code: 'missing_identity', reason: 'neither userId nor anonymousId is set' };
  const raw = [m.timestamp, m.originalTimestamp, m.receivedAt].find((t) => typeof t === 'string');
  const timestamp = raw ? normalizeTimestamp(raw) : undefined;
  if (!timestamp) return { code: RejectCode.badTimestamp, reason: `no usable timestamp (${JSON.stringify(raw)?.slice(0, 40)})` };
  const messageId = idOf(m.messageId);
  if (!messageId) return { code: 'missing_message_id', reason: 'no messageId: without it a re-run could not recognise the event' };
  const uuid = messageUuid(m, messageId);
  const malformed = !isBag(m.properties) ? 'properties' : !isBag(m.traits) ? 'traits' : !isBag(m.context) ? 'context' : !isBag(m.context?.traits) ? 'context.traits' : undefined;
  if (malformed) {
    const v: unknown = malformed === 'context.traits' ? m.context.traits : m[malformed];
    return { code: RejectCode.badProperties, reason: `${malformed} is ${Array.isArray(v) ? 'an array' : `a ${typeof v}`}, not an object as Segment sends` };
  }

  const ctx = context(m.context);
  const properties: Record<string, unknown> = { ...ctx.properties, ...bag(m.properties) };
  // A page call's own properties describe the page viewed: they win over context.page, and move to
  // PostHog's names rather than being sent twice.
  if (type === 'page') {
    for (const [from, to] of PAGE_PROPERTIES) {
      const v = properties[from];
      delete properties[from];
      if (hasValue(v)) properties[to] = v;
    }
  }
  // A context value the event's own `segment_<key>` keeps out is counted.
  const changed = keepShadowed(properties, ctx) ? { changed: ['segment_context_shadowed'] } : {};
  if (anonymousId) properties.$segment_anonymous_id = anonymousId;
  // The user's traits as the sender knew them (analytics.js sends them with every call): the person's.
  const contextTraits = bag(m.context?.traits);
  const contextGroup = idOf(m.context?.groupId);
  if (contextGroup && type !== 'group') properties.$groups = { [GROUP_TYPE]: contextGroup };
  // A group call names its group itself, and a groupId that is no id cannot be a group: either way
  // the sender's value stays, under the name the rest of the context gets.
  else if (hasValue(m.context?.groupId) && !Object.hasOwn(properties, 'segment_groupId')) properties.segment_groupId = m.context.groupId;
  let event: string;
  const base = { uuid, distinct_id: distinctId, timestamp };
  switch (type) {
    case 'track':
      if (typeof m.event !== 'string' || m.event === '') return { code: RejectCode.missingEvent, reason: 'a track message without an event name' };
      event = m.event;
      break;
    case 'page':
      event = '$pageview';
      if (m.name) properties.$segment_page_name = m.name;
      break;
    case 'screen':
      event = '$screen';
      if (m.name) properties.$screen_name = m.name;
      break;
    case 'identify': {
      // The call's link goes through the merge step, which sends one `$identify` per pair however
      // often a user was identified; the call itself stays an event, carrying its traits.
      const e: PostHogEvent = { ...base, event: '$identify', properties };
      const traits = bag(m.traits);
      if (traits || contextTraits) e.$set = { ...contextTraits, ...traits };
      return userId && anonymousId && userId !== anonymousId
        ? { events: [e], identify: [{ distinctId: userId, anonId: anonymousId, at: timestamp, recorded: true }], ...changed }
        : { events: [e], ...changed };
    }
    case 'group': {
      const groupId = idOf(m.groupId);
      if (!groupId) return { code: 'missing_group_id', reason: 'a group message without groupId' };
      return { events: [{ ...base, event: '$groupidentify', properties: { ...properties, $group_type: GROUP_TYPE, $group_key: groupId, $group_set: m.traits ?? {} } }], ...changed };
    }
    case 'alias': {
      const previous = idOf(m.previousId);
      if (!previous || !userId) return { code: 'bad_alias', reason: 'an alias needs userId and previousId' };
      // An alias call is nothing but its link: the merge step sends it as PostHog's `$create_alias`, once per pair.
      return { events: [], identify: [{ distinctId: userId, anonId: previous, at: timestamp, kind: 'alias', recorded: true }] };
    }
    default:
      return { code: 'unknown_type', reason: `message type ${JSON.stringify(type)} is not one of track, page, screen, identify, group, alias` };
  }
  const e: PostHogEvent = { ...base, event, properties };
  if (contextTraits) e.$set = { ...contextTraits };
  const result: RecordResult = { events: [e], ...changed };
  return userId && anonymousId ? { ...result, identify: [{ distinctId: userId, anonId: anonymousId }] } : result;
}

/**
 * The uuid of a message: of its messageId, its type and what its sender wrote. A message Segment
 * delivers twice (at least once, by design) repeats all of those, so its copies share one uuid in
 * any chunk and collapse; two different messages that happen to share a messageId (copied ids,
 * hand-made data) get uuids of their own instead of one silently replacing the other. What Segment
 * sets on each delivery (receivedAt, sentAt and the skew-corrected timestamp made from them,
 * context it adds) is left out, so it cannot split one message into two.
 */
function messageUuid(m: Record<string, unknown>, messageId: string): string {
  const sent = {
    type: m.type ?? null, userId: m.userId ?? null, anonymousId: m.anonymousId ?? null, event: m.event ?? null, name: m.name ?? null,
    properties: m.properties ?? null, traits: m.traits ?? null, groupId: m.groupId ?? null, previousId: m.previousId ?? null,
    originalTimestamp: m.originalTimestamp ?? m.timestamp ?? null,
  };
  return uuidV5(`${String(m.type)}:${messageId}:${canonicalJson(sent)}`, SEGMENT_NAMESPACE);
}

/** Segment's `context.device.type` as PostHog's `$device_type`; a type not listed is kept as written. */
const DEVICE_TYPES = new Map([
  ['ios', 'Mobile'], ['android', 'Mobile'], ['mobile', 'Mobile'], ['phone', 'Mobile'],
  ['ipados', 'Tablet'], ['tablet', 'Tablet'],
  ['macos', 'Desktop'], ['mac', 'Desktop'], ['windows', 'Desktop'], ['linux', 'Desktop'], ['desktop', 'Desktop'],
]);

/**
 * Segment's context fields that take PostHog's names, as posthog-js (the page) and posthog-ios and
 * posthog-android (app, screen, network, device) send them: the name, and the context path it is read from.
 */
const CONTEXT_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['$ip', 'ip'],
  ['$current_url', 'page.url'], ['$pathname', 'page.path'], ['$title', 'page.title'], ['$referrer', 'page.referrer'],
  ['$os', 'os.name'], ['$os_version', 'os.version'],
  ['$device_id', 'device.id'], ['$device_manufacturer', 'device.manufacturer'], ['$device_model', 'device.model'], ['$device_name', 'device.name'], ['$device_type', 'device.type'],
  ['$screen_width', 'screen.width'], ['$screen_height', 'screen.height'], ['$screen_density', 'screen.density'],
  ['$app_name', 'app.name'], ['$app_version', 'app.version'], ['$app_build', 'app.build'], ['$app_namespace', 'app.namespace'],
  ['$network_wifi', 'network.wifi'], ['$network_bluetooth', 'network.bluetooth'], ['$network_cellular', 'network.cellular'], ['$network_carrier', 'network.carrier'],
  ['$geoip_city_name', 'location.city'], ['$geoip_country_name', 'location.country'], ['$geoip_subdivision_1_name', 'location.region'],
  ['$geoip_latitude', 'location.latitude'], ['$geoip_longitude', 'location.longitude'],
  ['$lib', 'library.name'], ['$lib_version', 'library.version'],
  ['$locale', 'locale'], ['$timezone', 'timezone'], ['$raw_user_agent', 'userAgent'],
  ...Object.entries(UTM).map(([k, utm]) => [utm, `campaign.${k}`] as const),
];

/** A context's properties, and for each one a PostHog name took, its path and the value as the sender wrote it. */
interface Context { properties: Record<string, unknown>; from: Map<string, { path: string; written: unknown }> }

/**
 * Segment's context under PostHog's names (CONTEXT_FIELDS), the rest carried by `carryRest`. Values
 * are taken as written: the browser, OS and device type a user agent implies, and the URL parts of
 * `$current_url` and `$referrer`, are derived once for every source by the pipeline's shared step, not here.
 */
function context(c: unknown): Context {
  const properties: Record<string, unknown> = {};
  const from: Context['from'] = new Map();
  if (!c || typeof c !== 'object') return { properties, from };
  const ctx = c as Record<string, any>;
  for (const [name, path] of CONTEXT_FIELDS) {
    const dot = path.indexOf('.');
    const written: unknown = dot < 0 ? ctx[path] : ctx[path.slice(0, dot)]?.[path.slice(dot + 1)];
    if (!hasValue(written)) continue;
    properties[name] = name === '$device_type' && typeof written === 'string' ? DEVICE_TYPES.get(written.toLowerCase()) ?? written : written;
    from.set(name, { path, written });
  }
  carryRest(ctx, properties, from);
  return { properties, from };
}

/**
 * A context value the event's own properties replace with a different one (a page call's `title`
 * over `context.page.title`, a `$ip` property over `context.ip`) is the sender's too: it lands under
 * the name the context's unmapped fields take, `segment_<path>` (`segment_ip`, or a field of the
 * `segment_page` object), so that nothing the sender wrote is lost and nothing is sent twice. Where
 * the event's own properties hold that `segment_<key>` themselves, theirs is kept whole and the
 * context's value is left out: true when that happened, for the caller to count.
 */
function keepShadowed(properties: Record<string, unknown>, ctx: Context): boolean {
  let leftOut = false;
  const made = new Set<string>();
  for (const [name, value] of Object.entries(ctx.properties)) {
    if (!ctx.from.has(name) && !isDeepStrictEqual(properties[name], value)) leftOut = true;
  }
  for (const [name, { path, written }] of ctx.from) {
    if (isDeepStrictEqual(properties[name], ctx.properties[name])) continue;
    const dot = path.indexOf('.');
    const key = `segment_${dot < 0 ? path : path.slice(0, dot)}`;
    const own = Object.hasOwn(properties, key) && properties[key] !== ctx.properties[key] && !made.has(key);
    if (own) { leftOut ||= dot >= 0 || !isDeepStrictEqual(properties[key], written); continue; }
    if (dot < 0) properties[key] = written;
    else {
      if (properties[key] === undefined) { properties[key] = {}; made.add(key); }
      setOwn(properties[key] as Record<string, unknown>, path.slice(dot + 1), written);
    }
  }
  return leftOut;
}

/**
 * What `context()` reads of each context object, and the context keys read whole (`traits` becomes
 * `$set`, `groupId` `$groups`, both in `mapSegmentMessage`). Anything else is carried by `carryRest`.
 */
const MAPPED_CONTEXT = new Map<string, ReadonlySet<string> | 'whole'>([['traits', 'whole'], ['groupId', 'whole']]);
for (const [, path] of CONTEXT_FIELDS) {
  const [key, field] = path.split('.') as [string, string | undefined];
  const fields = MAPPED_CONTEXT.get(key);
  MAPPED_CONTEXT.set(key, field === undefined ? 'whole' : new Set([...(fields instanceof Set ? fields : []), field]));
}

/**
 * The context fields no PostHog name takes, kept under the names PostHog's own Segment destination
 * (posthog-segment) gives them: every context key prefixed `segment_` (`context.userAgentData` →
 * `segment_userAgentData`, a custom `context.active` → `segment_active`). Of an object partly mapped
 * only the rest is carried (`context.device.advertisingId` → `segment_device.advertisingId`), so no
 * value is sent twice. Campaign fields beyond the five UTM ones become `utm_<key>`, as that
 * destination names every campaign field (`context.campaign.id` → `utm_id`). Empty values are no value,
 * as everywhere else in the mapping.
 */
function carryRest(ctx: Record<string, unknown>, out: Record<string, unknown>, from: Context['from']): void {
  for (const [key, value] of Object.entries(ctx)) {
    if (!hasValue(value)) continue;
    const mapped = MAPPED_CONTEXT.get(key);
    if (mapped === 'whole') continue;
    if (mapped && typeof value === 'object' && !Array.isArray(value)) {
      const rest: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (!mapped.has(k) && hasValue(v)) setOwn(rest, k, v);
      if (key === 'campaign') {
        for (const [k, v] of Object.entries(rest)) if (!Object.hasOwn(out, `utm_${k}`)) { setOwn(out, `utm_${k}`, v); from.set(`utm_${k}`, { path: `campaign.${k}`, written: v }); }
      } else if (Object.keys(rest).length > 0) setOwn(out, `segment_${key}`, rest);
    } else {
      setOwn(out, `segment_${key}`, value);
    }
  }
}

/** Absent, or an object as Segment's libraries send: hand-made logs may hold anything. */
function isBag(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'object' && !Array.isArray(v));
}

/** A checked bag's fields (none when absent). */
function bag(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' ? v as Record<string, unknown> : undefined;
}
