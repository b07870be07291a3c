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
  // The tags go into the serialised text, not the object: a store under a key from configuration
  // would turn a fast V8 object into a dictionary, which serialises at a third of the speed.
  let tags = tagsText(t.tags, ctx);
  if ((t.tags.migration && Object.hasOwn(properties, t.tags.migration)) || (t.tags.chunk && Object.hasOwn(properties, t.tags.chunk))) {
    // The source set a property of the same name: the tag replaces it where it stands.
    if (t.tags.migration) properties[t.tags.migration] = ctx.migration;
    if (t.tags.chunk) properties[t.tags.chunk] = ctx.chunk;
    tags = '';
  }
  let props = JSON.stringify(properties);
  if (tags) props = props.length === 2 ? `{${tags}}` : `${props.slice(0, -1)},${tags}}`;
  let line = `{"uuid":${JSON.stringify(event.uuid.toLowerCase())},"event":${JSON.stringify(event.event)},"distinct_id":${JSON.stringify(event.distinct_id)},"timestamp":${JSON.stringify(event.timestamp)},"properties":${props}`;
  if (event.$set) line += `,"$set":${JSON.stringify(event.$set)}`;
  if (event.$set_once) line += `,"$set_once":${JSON.stringify(event.$set_once)}`;
  line += '}';
  const size = Buffer.byteLength(line);
  if (size > MAX_EVENT_BYTES) return { code: 'too_large', reason: `the event is ${size} bytes serialised; capture refuses events over ${MAX_EVENT_BYTES}` };
  return { line };
}

let lastTags: { tags: TransformContext['transform']['tags']; migration: string; chunk: string; text: string } | undefined;

/** The tags as JSON members, made once per chunk rather than once per event. */
function tagsText(tags: TransformContext['transform']['tags'], ctx: TransformContext): string {
  if (lastTags?.tags === tags && lastTags.migration === ctx.migration && lastTags.chunk === ctx.chunk) return lastTags.text;
  const members: string[] = [];
  if (tags.migration) members.push(`${JSON.stringify(tags.migration)}:${JSON.stringify(ctx.migration)}`);
  if (tags.chunk) members.push(`${JSON.stringify(tags.chunk)}:${JSON.stringify(ctx.chunk)}`);
  lastTags = { tags, migration: ctx.migration, chunk: ctx.chunk, text: members.join(',') };
  return lastTags.text;
}
