import { isUuid } from '@hogport/common';
import { Changed, MAX_EVENT_BYTES, RejectCode, type LongDistinctIds, type PostHogEvent, type Refusal } from './contract.js';
import { serialisationFailure } from './guard.js';
import { checkedId, idTooLong } from './ids.js';

/** The transform options the finish step applies (the definition's `transform` section). */
export interface EventSettings {
  geoipDisable: boolean;
  ignoreSentAt: boolean;
  lib: 'if-absent' | 'always' | 'never';
  tags: { migration: string | null; chunk: string | null };
  /** Default `reject`. */
  longDistinctIds?: LongDistinctIds;
}

export interface FinishContext {
  migration: string;
  chunk: string;
  transform: EventSettings;
  hogportVersion: string;
}

/**
 * The first members of every events line transform writes, in this order: load reads them
 * without parsing the rest (`readHead`).
 */
export const HEAD_KEYS = ['uuid', 'event', 'distinct_id', 'timestamp'] as const;

/** The text before each head value: `{"uuid":`, `,"event":`…, written and read alike. */
export const HEAD_PREFIXES = HEAD_KEYS.map((k, i) => `${i === 0 ? '{' : ','}${JSON.stringify(k)}:`) as [string, string, string, string];
const [UUID_AT, EVENT_AT, DISTINCT_ID_AT, TIMESTAMP_AT] = HEAD_PREFIXES;

/** Properties of identity events that hold a distinct_id of their own, which capture's length rule reaches too. */
const LINKED_IDS: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, { $identify: '$anon_distinct_id', $create_alias: 'alias' });

export type Finished = { line: string; changed?: string[] } | Refusal;

/**
 * The one finish step every event passes, from any source or the merge step: capture's rules
 * (uuid, name, distinct_id and its length, size), the pipeline's transform options, and the events
 * line in its fixed layout (`HEAD_KEYS` first). Returns a refusal instead when capture would refuse
 * the event, or when it cannot be serialised (nested too deeply), so it becomes a reject of its
 * record rather than a failed request or chunk. A truncated distinct_id is written back into the
 * event, so what the caller folds from it (person facts) names the id that was sent.
 */
export function finishEvent(event: PostHogEvent, ctx: FinishContext): Finished {
  const t = ctx.transform;
  if (typeof event.uuid !== 'string' || !isUuid(event.uuid)) return { code: RejectCode.badUuid, reason: `uuid ${JSON.stringify(event.uuid)} is not a valid UUID` };
  if (typeof event.event !== 'string' || event.event === '') return { code: RejectCode.missingEvent, reason: 'the event name is empty' };
  if (typeof event.distinct_id !== 'string' || event.distinct_id === '') return { code: RejectCode.missingDistinctId, reason: 'distinct_id is empty' };
  if (event.properties === null || typeof event.properties !== 'object' || Array.isArray(event.properties)) return { code: RejectCode.badProperties, reason: 'properties must be an object' };
  const mode = t.longDistinctIds ?? 'reject';
  let changed: string[] | undefined;
  // Nearly every id is short: it costs one length test and no allocation.
  if (idTooLong(event.distinct_id)) {
    const id = checkedId(event.distinct_id, mode, 'distinct_id');
    if ('code' in id) return id;
    if (id.changed) { event.distinct_id = id.id; changed = [id.changed]; }
  }
  // Sources hand over fresh objects: enriching in place saves a copy of every event's properties.
  const properties: Record<string, unknown> = event.properties;
  const linked = LINKED_IDS[event.event];
  if (linked && typeof properties[linked] === 'string') {
    const other = checkedId(properties[linked] as string, mode, linked);
    if ('code' in other) return other;
    if (other.changed) { properties[linked] = other.id; changed ??= [other.changed]; }
  }
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
  let line: string;
  try {
    let props = JSON.stringify(properties);
    if (tags) props = props.length === 2 ? `{${tags}}` : `${props.slice(0, -1)},${tags}}`;
    line = `${UUID_AT}${JSON.stringify(event.uuid.toLowerCase())}${EVENT_AT}${JSON.stringify(event.event)}${DISTINCT_ID_AT}${JSON.stringify(event.distinct_id)}${TIMESTAMP_AT}${JSON.stringify(event.timestamp)},"properties":${props}`;
    if (event.$set) line += `,"$set":${JSON.stringify(event.$set)}`;
    if (event.$set_once) line += `,"$set_once":${JSON.stringify(event.$set_once)}`;
    line += '}';
  } catch (err) {
    return serialisationFailure(err);
  }
  const size = Buffer.byteLength(line);
  if (size > MAX_EVENT_BYTES) return { code: RejectCode.tooLarge, reason: `the event is ${size} bytes serialised; capture refuses events over ${MAX_EVENT_BYTES}` };
  return changed ? { line, changed } : { line };
}

let lastTags: { tags: EventSettings['tags']; migration: string; chunk: string; text: string } | undefined;

/** The tags as JSON members, made once per chunk rather than once per event. */
function tagsText(tags: EventSettings['tags'], ctx: FinishContext): string {
  if (lastTags?.tags === tags && lastTags.migration === ctx.migration && lastTags.chunk === ctx.chunk) return lastTags.text;
  const members: string[] = [];
  if (tags.migration) members.push(`${JSON.stringify(tags.migration)}:${JSON.stringify(ctx.migration)}`);
  if (tags.chunk) members.push(`${JSON.stringify(tags.chunk)}:${JSON.stringify(ctx.chunk)}`);
  lastTags = { tags, migration: ctx.migration, chunk: ctx.chunk, text: members.join(',') };
  return lastTags.text;
}

/** A user link a record shows: the merge step makes one `$identify` of each. */
export interface Link { distinctId: string; anonId: string; at?: string }

/** Counted in changedBy when a record's user link is left out because one of its ids is longer than capture keeps. */
export const LINK_REFUSED = 'identity_link_refused';

/** A record's events as lines, its links as the merge step will send them, and what was changed on the way. */
export interface FinishedRecord {
  lines: string[];
  links: Array<{ user: string; anon: string; at: string }>;
  /** Each name once; undefined when nothing was changed. */
  changed?: string[];
}

/**
 * Finishes one source record: every event through `finishEvent` (a throw there, or a refusal,
 * refuses the whole record, since its events stand or fall together), and its user links through
 * the same distinct_id rule, so the merge step sees only ids it can send and compares them as
 * sent. A link without its own time takes the record's first event's. The transform stage (and
 * anything that must decide a record as it does) calls this once per record.
 */
export function finishRecord(events: readonly PostHogEvent[], links: readonly Link[] | undefined, ctx: FinishContext): FinishedRecord | Refusal {
  const lines: string[] = [];
  // Most records change nothing and link nothing: no allocation for them.
  let changed: string[] | undefined;
  for (const e of events) {
    let done: Finished;
    try {
      done = finishEvent(e, ctx);
    } catch (err) {
      done = serialisationFailure(err);
    }
    if (!('line' in done)) return done;
    lines.push(done.line);
    if (done.changed) changed = marked(changed, ...done.changed);
  }
  if (!links || links.length === 0) return changed ? { lines, links: NO_LINKS, changed } : { lines, links: NO_LINKS };
  const out: FinishedRecord['links'] = [];
  const mode = ctx.transform.longDistinctIds ?? 'reject';
  for (const link of links) {
    const at = link.at ?? events[0]?.timestamp;
    if (!at) continue;
    const user = checkedId(link.distinctId, mode, 'distinct_id');
    const anon = checkedId(link.anonId, mode, '$anon_distinct_id');
    if ('code' in user || 'code' in anon) { changed = marked(changed, LINK_REFUSED); continue; }
    if (user.changed || anon.changed) changed = marked(changed, Changed.distinctIdTruncated);
    out.push({ user: user.id, anon: anon.id, at });
  }
  return changed ? { lines, links: out, changed } : { lines, links: out };
}

const NO_LINKS: FinishedRecord['links'] = Object.freeze([]) as unknown as FinishedRecord['links'];

/** The change names so far with `names` added, each once. */
function marked(changed: string[] | undefined, ...names: string[]): string[] {
  const out = changed ?? [];
  for (const n of names) if (!out.includes(n)) out.push(n);
  return out;
}
