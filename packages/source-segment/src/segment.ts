import { canonicalJson, normalizeTimestamp, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { RejectCode } from '@hogport/event';
import { idOf, type PostHogEvent, type RecordResult } from '@hogport/pipeline';

/** Namespace of the uuids derived from Segment messageIds. */
export const SEGMENT_NAMESPACE = uuidV5('hogport.segment', URL_NAMESPACE);

const UTM: Record<string, string> = { source: 'utm_source', medium: 'utm_medium', name: 'utm_campaign', term: 'utm_term', content: 'utm_content' };

/**
 * Maps one Segment message (from Segment's S3/GCS logs): track → the event, page → `$pageview`,
 * screen → `$screen`, identify → `$identify` with traits in `$set`, group → `$groupidentify`, alias →
 * `$create_alias`. The skew-corrected `timestamp` is used; distinct_id is userId, else anonymousId,
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

  const properties: Record<string, unknown> = { ...context(m.context), ...(m.properties && typeof m.properties === 'object' ? m.properties : {}) };
  if (anonymousId) properties.$segment_anonymous_id = anonymousId;
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
      if (typeof properties.url === 'string') properties.$current_url ??= properties.url;
      break;
    case 'screen':
      event = '$screen';
      if (m.name) properties.$screen_name = m.name;
      break;
    case 'identify': {
      const e: PostHogEvent = { ...base, event: '$identify', properties: { ...properties, ...(anonymousId && userId ? { $anon_distinct_id: anonymousId } : {}) } };
      if (m.traits && typeof m.traits === 'object') e.$set = m.traits;
      return { events: [e] };
    }
    case 'group': {
      const groupId = idOf(m.groupId);
      if (!groupId) return { code: 'missing_group_id', reason: 'a group message without groupId' };
      return { events: [{ ...base, event: '$groupidentify', properties: { ...properties, $group_type: 'company', $group_key: groupId, $group_set: m.traits ?? {} } }] };
    }
    case 'alias': {
      const previous = idOf(m.previousId);
      if (!previous || !userId) return { code: 'bad_alias', reason: 'an alias needs userId and previousId' };
      return { events: [{ ...base, event: '$create_alias', properties: { ...properties, alias: previous } }] };
    }
    default:
      return { code: 'unknown_type', reason: `message type ${JSON.stringify(type)} is not one of track, page, screen, identify, group, alias` };
  }
  const result: RecordResult = { events: [{ ...base, event, properties }] };
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

/** Segment's context under PostHog's names. */
function context(c: unknown): Record<string, unknown> {
  if (!c || typeof c !== 'object') return {};
  const ctx = c as Record<string, any>;
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => { if (v !== undefined && v !== null && v !== '') out[k] = v; };
  put('$ip', ctx.ip);
  put('$current_url', ctx.page?.url);
  put('$pathname', ctx.page?.path);
  put('$title', ctx.page?.title);
  put('$referrer', ctx.page?.referrer);
  put('$os', ctx.os?.name);
  put('$os_version', ctx.os?.version);
  put('$device_id', ctx.device?.id);
  put('$device_manufacturer', ctx.device?.manufacturer);
  put('$device_model', ctx.device?.model);
  put('$lib', ctx.library?.name);
  put('$lib_version', ctx.library?.version);
  put('$locale', ctx.locale);
  put('$timezone', ctx.timezone);
  put('$app_version', ctx.app?.version);
  put('$raw_user_agent', ctx.userAgent);
  const browser = typeof ctx.userAgent === 'string' ? browserOf(ctx.userAgent) : undefined;
  put('$browser', browser);
  for (const [k, utm] of Object.entries(UTM)) put(utm, ctx.campaign?.[k]);
  return out;
}

/** The browser family of a user agent, by the usual precedence (Edge and Opera claim Chrome; Chrome claims Safari). */
function browserOf(ua: string): string | undefined {
  if (/Edg\//.test(ua)) return 'Microsoft Edge';
  if (/OPR\//.test(ua)) return 'Opera';
  if (/Firefox\//.test(ua)) return 'Firefox';
  if (/Chrome\//.test(ua)) return 'Chrome';
  if (/Safari\//.test(ua)) return 'Safari';
  return undefined;
}
