import { canonicalJson, epochToIso, normalizeTimestamp, setOwn, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { RejectCode } from '@hogport/event';
import { idOf, type PostHogEvent, type RecordResult } from '@hogport/pipeline';

/** Namespace of the uuids derived from Heap's ids. */
export const HEAP_NAMESPACE = uuidV5('hogport.heap', URL_NAMESPACE);

export type HeapTable = 'events' | 'users' | 'user_migrations';

/**
 * Which Heap table a chunk holds, by its chunk id: the file's path under the source location
 * (Heap Connect and exports name them so). Plan (which loads users last) and transform (which maps
 * them as users) both ask with the chunk id, so they cannot disagree, and the location's own name
 * (`s3://acme/heap-users-export/`) plays no part.
 */
export function heapTable(chunk: string): HeapTable {
  const name = chunk.toLowerCase();
  if (/user_migrations|migrations/.test(name)) return 'user_migrations';
  if (/(^|[/_~-])users?([/_.~-]|$)/.test(name)) return 'users';
  return 'events';
}

const EVENT_INTERNAL = new Set(['event_id', 'user_id', 'time', 'event_table_name', 'type', 'event', 'session_id']);
const USER_INTERNAL = new Set(['user_id', 'identity', 'joindate', 'last_modified']);

function heapTime(v: unknown): string | undefined {
  if (typeof v === 'number') return epochToIso(v, v > 1e14 ? 'us' : v > 1e11 ? 'ms' : 's', 'ms');
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return heapTime(Number(v));
  return normalizeTimestamp(v);
}

/**
 * Maps one row of a Heap export. Events: the event table's name, Heap's user_id as distinct_id (users
 * are linked to their identity through the users table), uuid from event_id. Users: a `$set` of
 * their properties, and their identity linked to Heap's user_id. User migrations (merged users): the
 * old user_id linked to the new one. Links go through the identity merge: one `$identify` per pair.
 */
export function mapHeapRow(value: unknown, table: HeapTable): RecordResult {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { code: RejectCode.notAnObject, reason: 'the row is not an object' };
  const r = value as Record<string, unknown>;
  if (table === 'user_migrations') {
    const from = idOf(r.from_user_id);
    const to = idOf(r.to_user_id);
    const at = heapTime(r.time) ?? heapTime(r.last_modified);
    if (!from || !to || !at) return { code: 'bad_migration', reason: 'a user migration needs from_user_id, to_user_id and a time' };
    return { events: [], identify: [{ distinctId: to, anonId: from, at }] };
  }
  const userId = idOf(r.user_id);
  if (table === 'users') {
    if (!userId) return { code: 'missing_user_id', reason: 'a user row without user_id' };
    const identity = idOf(r.identity);
    const at = heapTime(r.last_modified) ?? heapTime(r.joindate);
    if (!at) return { code: RejectCode.badTimestamp, reason: 'a user row needs last_modified or joindate' };
    const set: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) if (!USER_INTERNAL.has(k) && v !== null && v !== '') setOwn(set, k, v);
    const distinctId = identity ?? userId;
    const event: PostHogEvent = { uuid: uuidV5(`user:${userId}:${canonicalJson(set)}:${at}`, HEAP_NAMESPACE), event: '$set', distinct_id: distinctId, timestamp: at, properties: { $set: set } };
    const once = heapTime(r.joindate);
    if (once) event.$set_once = { heap_joined_at: once };
    return identity ? { events: [event], identify: [{ distinctId: identity, anonId: userId, at: heapTime(r.joindate) ?? at }] } : { events: [event] };
  }
  const name = [r.event_table_name, r.type, r.event].find((x) => typeof x === 'string' && x !== '') as string | undefined;
  if (!name) return { code: RejectCode.missingEvent, reason: 'no event_table_name, type or event column' };
  if (!userId) return { code: 'missing_user_id', reason: 'an event without user_id' };
  const timestamp = heapTime(r.time);
  if (!timestamp) return { code: RejectCode.badTimestamp, reason: `time ${JSON.stringify(r.time)?.slice(0, 40)} is not a date-time` };
  const eventId = idOf(r.event_id);
  const properties: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (!EVENT_INTERNAL.has(k) && v !== null && v !== '') setOwn(properties, k, v);
  if (r.session_id !== undefined && r.session_id !== null && r.session_id !== '') properties.$heap_session_id = String(r.session_id);
  const uuid = eventId ? uuidV5(`event:${eventId}`, HEAP_NAMESPACE) : uuidV5(canonicalJson({ name, userId, timestamp, properties }), HEAP_NAMESPACE);
  const event = name === 'pageviews' || name === 'pageview' ? '$pageview' : name;
  return { events: [{ uuid, event, distinct_id: userId, timestamp, properties }] };
}
