import { isUuid } from '@hogport/common';
import type { PostHogEvent, TransformContext } from '@hogport/pipeline';
import { MAX_EVENT_BYTES } from '@hogport/loader';

/**
 * Applies the pipeline's transform options to an event a source mapped, and serialises it with
 * `uuid` first (the loader reads it without parsing). Returns a reason instead when capture would
 * refuse the event, so it becomes a reject rather than a failed request.
 */
export function finishEvent(event: PostHogEvent, ctx: TransformContext): { line: string } | { code: string; reason: string } {
  const t = ctx.transform;
  if (!isUuid(event.uuid)) return { code: 'bad_uuid', reason: `uuid "${event.uuid}" is not a valid UUID` };
  if (typeof event.event !== 'string' || event.event === '') return { code: 'missing_event', reason: 'the event name is empty' };
  if (typeof event.distinct_id !== 'string' || event.distinct_id === '') return { code: 'missing_distinct_id', reason: 'distinct_id is empty' };
  // Sources hand over fresh objects: enriching in place saves a copy of every event's properties.
  const properties: Record<string, unknown> = event.properties;
  if (t.geoipDisable) properties.$geoip_disable = true;
  if (t.ignoreSentAt) properties.$ignore_sent_at = true;
  if (t.lib === 'always' || (t.lib === 'if-absent' && properties.$lib === undefined)) {
    properties.$lib = 'hogport';
    properties.$lib_version = ctx.hogportVersion;
  }
  if (t.tags.migration) properties[t.tags.migration] = ctx.migration;
  if (t.tags.chunk) properties[t.tags.chunk] = ctx.chunk;
  const out: Record<string, unknown> = {
    uuid: event.uuid.toLowerCase(), event: event.event, distinct_id: event.distinct_id, timestamp: event.timestamp, properties,
  };
  if (event.$set) out.$set = event.$set;
  if (event.$set_once) out.$set_once = event.$set_once;
  const line = JSON.stringify(out);
  const size = Buffer.byteLength(line);
  if (size > MAX_EVENT_BYTES) return { code: 'too_large', reason: `the event is ${size} bytes serialised; capture refuses events over ${MAX_EVENT_BYTES}` };
  return { line };
}
