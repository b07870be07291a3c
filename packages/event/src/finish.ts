import { isUuid } from '@hogport/common';
import { Changed, MAX_EVENT_BYTES, RejectCode, type LongDistinctIds, type NonMergeableIds, type PostHogEvent, type Refusal } from './contract.js';
import { serialisationFailure } from './guard.js';
import { checkedId, checkedLinkId, idTooLong, isNonMergeableId } from './ids.js';

/** The transform options the finish step applies (the definition's `transform` section). */
export interface EventSettings {
  geoipDisable: boolean;
  ignoreSentAt: boolean;
  lib: 'if-absent' | 'always' | 'never';
  tags: { migration: string | null; chunk: string | null };
  /** Default `reject`. */
  longDistinctIds?: LongDistinctIds;
  /** Default `keep`. */
  nonMergeableIds?: NonMergeableIds;
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
const LINKED_IDS: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, { $identify: '$anon_distinct_id', $create_alias: 'alias', $merge_dangerously: 'alias' });

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
  const refusedId = isNonMergeableId(event.distinct_id);
  if (refusedId) {
    if (t.nonMergeableIds === 'reject') return nonMergeable(event.distinct_id);
    (changed ??= []).push(Changed.nonMergeableDistinctId);
  }
  // Sources hand over fresh objects: enriching in place saves a copy of every event's properties.
  const properties: Record<string, unknown> = event.properties;
  const linked = LINKED_IDS[event.event];
  if (linked && typeof properties[linked] === 'string') {
    // Either side refused is a link PostHog refuses: it names neither.
    const other = refusedId ? { code: Changed.nonMergeableLink, reason: '' } : checkedLinkId(properties[linked] as string, mode, linked);
    if ('code' in other && other.code === Changed.nonMergeableLink) {
      // The identity event loses the link PostHog would refuse; whatever else it carries ($set) still goes.
      delete properties[linked];
      (changed ??= []).push(Changed.nonMergeableLink);
    } else if ('code' in other) {
      return other;
    } else if (other.changed) { properties[linked] = other.id; (changed ??= []).push(other.changed); }
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

function nonMergeable(id: string): Refusal {
  return {
    code: RejectCode.nonMergeableDistinctId,
    reason: `distinct_id ${JSON.stringify(id.slice(0, 40))} is an id PostHog refuses to merge: every event with it would land on one person. transform.nonMergeableIds: keep sends such events anyway, counted`,
  };
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

/**
 * A user link a record shows: the merge step sends one identity event for each pair across the
 * migration, at its first sighting.
 */
export interface Link {
  /** The identified side: the identity event's distinct_id. */
  distinctId: string;
  /** The anonymous (or other) side: `$anon_distinct_id`, or `alias` for an alias. */
  anonId: string;
  /** When the pair was seen; else the record's first event's time. */
  at?: string;
  /** `alias` sends PostHog's `$create_alias` (`alias` = anonId); by default a `$identify`. */
  kind?: 'identify' | 'alias';
  /**
   * The source recorded this link itself (an identify or alias call), rather than hogport inferring it
   * from ids that appear together: it is sent even under `transform.identifyEvents: false`.
   */
  recorded?: boolean;
  /** The source's own ids the identity event carries (`$amplitude_user_id`…); they never override the link's. */
  properties?: Record<string, string>;
  /**
   * Other forms the anonymous id takes in this source (`$device:<id>` for a bare device id): the merge
   * links whichever forms carried events in the migration, and `anonId` when none did.
   */
  anonForms?: readonly string[];
}

/** A link as the merge step will see it: ids as they are sent, refused forms left out. */
export interface FinishedLink {
  user: string;
  anon: string;
  at: string;
  alias?: true;
  recorded?: true;
  props?: Record<string, string>;
  forms?: string[];
}

/** Counted in changedBy when a record's user link is left out because one of its ids is longer than capture keeps. */
export const LINK_REFUSED = 'identity_link_refused';

/** A record's events as lines, its links as the merge step will send them, and what was changed on the way. */
export interface FinishedRecord {
  lines: string[];
  links: FinishedLink[];
  /** Each name once; undefined when nothing was changed. */
  changed?: string[];
  /**
   * Set when the record was nothing but links (a source's identify call) and none of them can be
   * sent: nothing of it goes, and it counts as dropped by this rule.
   */
  drop?: string;
}

/** `finishEvent`, with whatever it throws (a value nested past serialising) as the refusal of its record. */
function finishedOrRefused(e: PostHogEvent, ctx: FinishContext): Finished {
  try {
    return finishEvent(e, ctx);
  } catch (err) {
    return serialisationFailure(err);
  }
}

/**
 * Finishes one source record: every event through `finishEvent` (a throw there, or a refusal,
 * refuses the whole record, since its events stand or fall together), and its user links through
 * the rules of the ids they name (`checkedLinkId`: length, and ids PostHog refuses to merge), so
 * the merge step sees only ids it can send and compares them as sent. A link without its own time
 * takes the record's first event's. The transform stage (and anything that must decide a record as
 * it does) calls this once per record.
 */
export function finishRecord(events: readonly PostHogEvent[], links: readonly Link[] | undefined, ctx: FinishContext): FinishedRecord | Refusal {
  const lines: string[] = [];
  // Most records change nothing and link nothing: no allocation for them.
  let changed: string[] | undefined;
  for (const e of events) {
    const done = finishedOrRefused(e, ctx);
    if (!('line' in done)) return done;
    lines.push(done.line);
    if (done.changed) changed = marked(changed, ...done.changed);
  }
  if (!links || links.length === 0) return changed ? { lines, links: NO_LINKS, changed } : { lines, links: NO_LINKS };
  const out: FinishedLink[] = [];
  const mode = ctx.transform.longDistinctIds ?? 'reject';
  for (const link of links) {
    const at = link.at ?? events[0]?.timestamp;
    if (!at) continue;
    const user = checkedLinkId(link.distinctId, mode, 'distinct_id');
    if ('code' in user) { changed = marked(changed, refusedAs(user)); continue; }
    // The anonymous id, then its other forms, each as it can be sent. The forms spell the same id:
    // when the id itself is refused ("undefined"), `$device:undefined` is no better, and none is linked.
    const anons: string[] = [];
    let truncated = user.changed !== undefined;
    let refused: string | undefined;
    for (const form of link.anonForms ? [link.anonId, ...link.anonForms] : [link.anonId]) {
      const anon = checkedLinkId(form, mode, '$anon_distinct_id');
      if ('code' in anon) { refused = refusedAs(anon); if (anons.length === 0) break; continue; }
      if (anon.changed) truncated = true;
      if (!anons.includes(anon.id)) anons.push(anon.id);
    }
    if (refused) changed = marked(changed, refused);
    if (anons.length === 0) continue;
    if (truncated) changed = marked(changed, Changed.distinctIdTruncated);
    const f: FinishedLink = { user: user.id, anon: anons[0]!, at };
    if (link.kind === 'alias') f.alias = true;
    if (link.recorded) f.recorded = true;
    if (link.properties && Object.keys(link.properties).length > 0) f.props = link.properties;
    if (anons.length > 1) f.forms = anons.slice(1);
    out.push(f);
  }
  if (events.length === 0 && out.length === 0) {
    return { lines, links: out, changed: changed ?? [], drop: changed?.includes(Changed.nonMergeableLink) ? Changed.nonMergeableLink : LINK_REFUSED };
  }
  return changed ? { lines, links: out, changed } : { lines, links: out };
}

/**
 * What a source knows of a person apart from any event (an Engage profile, a users table row): it
 * folds into the person facts only, and the merge step's `~persons` sends it with everything else
 * known of that person, so it is sent once.
 */
export interface PersonRecord {
  distinctId: string;
  /** When the values were current: they win over older `$set` values of the person's events. */
  at: string;
  set?: Record<string, unknown>;
  setOnce?: Record<string, unknown>;
}

/** A valid uuid for the event a person record is checked as; it is never sent. */
const PERSON_CHECK_UUID = '00000000-0000-4000-8000-000000000000';

/**
 * Checks a person record by the rules its `$set` meets when `~persons` sends it: the finish step
 * every event passes, on the event it would be alone. Returns the record with its id as it is sent,
 * and what was changed, or why it is refused (which makes it a reject of its record, with its position).
 */
export function finishPerson(person: PersonRecord, ctx: FinishContext): { person: PersonRecord; changed?: string[] } | Refusal {
  const properties: Record<string, unknown> = {};
  if (person.set) properties.$set = person.set;
  if (person.setOnce) properties.$set_once = person.setOnce;
  const e: PostHogEvent = { uuid: PERSON_CHECK_UUID, event: '$set', distinct_id: person.distinctId, timestamp: person.at, properties };
  const done = finishedOrRefused(e, ctx);
  if (!('line' in done)) return done;
  const out = e.distinct_id === person.distinctId ? person : { ...person, distinctId: e.distinct_id };
  return done.changed ? { person: out, changed: done.changed } : { person: out };
}

/** The changedBy name of a refused link id. */
function refusedAs(r: Refusal): string {
  return r.code === Changed.nonMergeableLink ? Changed.nonMergeableLink : LINK_REFUSED;
}

const NO_LINKS: FinishedLink[] = Object.freeze([]) as unknown as FinishedLink[];

/** The change names so far with `names` added, each once. */
function marked(changed: string[] | undefined, ...names: string[]): string[] {
  const out = changed ?? [];
  for (const n of names) if (!out.includes(n)) out.push(n);
  return out;
}
