import { isDeepStrictEqual } from 'node:util';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { asPersonSees } from './person-view.js';

/**
 * Conformance with PostHog's own importer (`rust/batch-import-worker` in PostHog/posthog): its parser
 * unit tests, ported as data (`packages/source-<name>/fixtures/posthog-importer.json`), are run
 * through hogport and every field a Rust test asserts is compared with what hogport would send.
 * A field either matches, or differs in a way listed in {@link DELIBERATE} (why hogport's way is
 * better, and what hogport does instead, checked), or is a known defect in {@link KNOWN_DEFECTS}
 * (reported as a todo until it is fixed). Anything else fails.
 */

/** One Rust test as data. */
export interface ImporterCase {
  name: string;
  /** The Rust file the test lives in. */
  file: string;
  /** The importer's TransformContext flags the test sets, or `{function}` when it calls a function directly. */
  context: Record<string, unknown>;
  note?: string;
  /** The records, as the source exports them. */
  records: Array<Record<string, unknown>>;
  expect: Expectation[];
}

export interface Ref { record: number; output: Output; path?: string; index?: number }
export type Output = 'event' | '$identify' | '$groupidentify' | 'all' | 'error' | 'record';

/** What the Rust test asserts about one output of one record. */
export interface Expectation extends Ref {
  equals?: unknown;
  absent?: true;
  present?: true;
  notEmpty?: true;
  isUuid?: true;
  includes?: string;
  containsLower?: string[];
  containsLowerAny?: string[];
  contains?: string[];
  count?: number;
  minCount?: number;
  withinRun?: true;
  notWithinRun?: true;
  /** A value the Rust test passes in itself (a job id, a uuid it mints): nothing outside the test can equal it. */
  equalsArgument?: string;
  differsFrom?: Ref;
  sameAs?: Ref;
}

export interface ImporterFixture { cases: ImporterCase[]; completion?: Record<string, unknown> }

/** One event as hogport would send it, with the /batch/ body it would go in. */
export interface Sent { event: Record<string, any>; envelope: { api_key?: unknown; historical_migration?: unknown; sent_at?: unknown } }

/** Everything hogport made of one source record. */
export interface RecordOutcome {
  /** The record's own event(s), in the order sent, without its `$groupidentify` events. */
  events: Sent[];
  groupIdentifies: Sent[];
  /** Identity events the merge step sent for the record's user (attributed to its first record). */
  identifies: Sent[];
  /** The person's final `$set` from `~persons`, when there is one. */
  person?: Sent;
  rejected: Array<{ code: string; reason: string }>;
  dropped: string[];
}

export interface MigrationRun {
  migration: string;
  /** Per record, in case order. */
  outcomes: RecordOutcome[];
  start: number;
  end: number;
  /** Options the run asked for that hogport refused (the definition named them), so it ran without. */
  refusedOptions: string[];
}

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(full)));
    else out.push(full);
  }
  return out.sort();
}

async function text(file: string): Promise<string> {
  const data = await readFile(file);
  return (data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data).toString('utf8');
}

async function sentIn(dir: string): Promise<Sent[]> {
  const out: Sent[] = [];
  for (const f of await files(dir)) {
    const body = JSON.parse(await text(f)) as { batch: Array<Record<string, any>>; api_key?: unknown; historical_migration?: unknown; sent_at?: unknown };
    const envelope = { api_key: body.api_key, historical_migration: body.historical_migration, sent_at: body.sent_at };
    for (const event of body.batch) out.push({ event, envelope });
  }
  return out;
}

/**
 * Reads what a dry-run migration in a local store made of its records, one chunk per record:
 * `chunks[i]` is record i's chunk. The outbox holds what would be sent, `rejects/` what was refused,
 * the transform manifests what was dropped by rule. `owner(i)` names the user record i would
 * identify, so the merge step's identity events are given to the first record showing their pair (else the first
 * of their user).
 */
export async function readMigration(storeDir: string, migration: string, chunks: string[], owner: (i: number) => Owner): Promise<RecordOutcome[]> {
  const root = path.join(storeDir, migration);
  const outcomes: RecordOutcome[] = [];
  for (const chunk of chunks) {
    const sent = await sentIn(path.join(root, 'outbox', chunk));
    const rejected: RecordOutcome['rejected'] = [];
    for (const stage of ['transform', 'load']) {
      for (const f of await files(path.join(root, 'rejects', stage, chunk))) {
        for (const line of (await text(f)).split('\n')) if (line) rejected.push(JSON.parse(line) as { code: string; reason: string });
      }
    }
    const manifest = await readFile(path.join(root, 'manifests', 'transform', `${chunk}.json`), 'utf8').then((s) => JSON.parse(s) as { counts?: { droppedBy?: Record<string, number> } }, () => undefined);
    outcomes.push({
      events: sent.filter((s) => s.event.event !== '$groupidentify'),
      groupIdentifies: sent.filter((s) => s.event.event === '$groupidentify'),
      identifies: [],
      rejected,
      dropped: Object.entries(manifest?.counts?.droppedBy ?? {}).flatMap(([rule, n]) => Array<string>(n).fill(rule)),
    });
  }
  const derived = (await readdir(path.join(root, 'outbox')).catch(() => [] as string[])).filter((c) => c.startsWith('~'));
  for (const chunk of derived.sort()) {
    for (const s of await sentIn(path.join(root, 'outbox', chunk))) {
      const anon = s.event.properties?.$anon_distinct_id ?? s.event.properties?.alias;
      const mine = (j: number) => owner(j).user === s.event.distinct_id;
      let i = chunks.findIndex((_, j) => mine(j) && (chunk === '~persons' || (owner(j).anon ?? []).includes(anon)));
      if (i < 0) i = chunks.findIndex((_, j) => mine(j));
      if (i < 0) continue;
      if (chunk === '~persons') outcomes[i]!.person = s;
      else outcomes[i]!.identifies.push(s);
    }
  }
  return outcomes;
}

/** The user a record is about, and the anonymous ids it could link to them. */
export interface Owner { user?: string; anon?: string[] }

/** A dotted path into a value; a missing step gives undefined. */
export function valueAt(value: unknown, dotted: string): unknown {
  let v: any = value;
  for (const step of dotted.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, step)) return undefined;
    v = v[step];
  }
  return v;
}

/** Where the importer's and hogport's events name the same thing differently, hogport's name. */
const SAME_FIELD: Record<string, string> = { 'inner.distinct_id': 'distinct_id', 'inner.uuid': 'uuid', 'inner.event': 'event', 'inner.timestamp': 'timestamp' };

export function pick(outcome: RecordOutcome, ref: Ref): Sent | undefined {
  if (ref.output === 'event') return outcome.events[ref.index ?? 0];
  if (ref.output === '$identify') return outcome.identifies[ref.index ?? 0];
  if (ref.output === '$groupidentify') return outcome.groupIdentifies[ref.index ?? 0];
  return undefined;
}

/** hogport's value for what the expectation names; `undefined` where hogport has none. */
export function hogportValue(outcomes: RecordOutcome[], ref: Ref): unknown {
  const o = outcomes[ref.record];
  if (!o) return undefined;
  if (ref.output === 'all') return o.events.length + o.groupIdentifies.length + o.identifies.length;
  if (ref.output === 'error') return o.rejected[0]?.reason;
  if (ref.output === 'record') return undefined;
  const sent = pick(o, ref);
  if (!sent || !ref.path) return undefined;
  if (ref.path === 'error') return undefined;
  if (ref.path === 'inner.data') return sent.event;
  const path = SAME_FIELD[ref.path] ?? ref.path;
  return valueAt(ref.output === 'event' && /^\$set(_once)?\./.test(path) ? asPersonSees(sent.event) : sent.event, path);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const within = (v: unknown, run: MigrationRun) => typeof v === 'string' && Date.parse(v) >= run.start - 1000 && Date.parse(v) <= run.end + 1000;

/** Whether a value meets an expectation: undefined when it does, else what is wrong. */
export function unmet(exp: Expectation, value: unknown, run: MigrationRun): string | undefined {
  const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
  if (exp.equalsArgument !== undefined) return `the Rust test passes ${exp.equalsArgument} in itself; hogport has ${show(value)}`;
  if ('equals' in exp && !isDeepStrictEqual(value, exp.equals)) return `expected ${show(exp.equals)}, hogport has ${show(value)}`;
  if (exp.absent && value !== undefined) return `expected nothing, hogport has ${show(value)}`;
  if (exp.present && value === undefined) return 'expected a value, hogport has nothing';
  if (exp.notEmpty && (value === undefined || value === '' || (typeof value === 'object' && value !== null && Object.keys(value).length === 0))) return `expected a non-empty value, hogport has ${show(value)}`;
  if (exp.isUuid && !(typeof value === 'string' && UUID.test(value))) return `expected a UUID, hogport has ${show(value)}`;
  if (exp.includes !== undefined && !(typeof value === 'string' && value.includes(exp.includes))) return `expected text with ${JSON.stringify(exp.includes)}, hogport has ${show(value)}`;
  const lower = typeof value === 'string' ? value.toLowerCase() : '';
  if (exp.contains && !(typeof value === 'string' && exp.contains.every((w) => value.includes(w)))) return `expected a message with ${exp.contains.join(', ')}, hogport has ${show(value)}`;
  if (exp.containsLower && !(typeof value === 'string' && exp.containsLower.every((w) => lower.includes(w)))) return `expected a message naming ${exp.containsLower.join(' and ')}, hogport has ${show(value)}`;
  if (exp.containsLowerAny && !(typeof value === 'string' && exp.containsLowerAny.some((w) => lower.includes(w)))) return `expected a message naming ${exp.containsLowerAny.join(' or ')}, hogport has ${show(value)}`;
  if (exp.count !== undefined && value !== exp.count) return `expected ${exp.count} outputs, hogport has ${show(value)}`;
  if (exp.minCount !== undefined && !(typeof value === 'number' && value >= exp.minCount)) return `expected at least ${exp.minCount} outputs, hogport has ${show(value)}`;
  if (exp.withinRun && !within(value, run)) return `expected the time of the run, hogport has ${show(value)}`;
  if (exp.notWithinRun && (value === undefined || within(value, run))) return `expected a time other than the run's, hogport has ${show(value)}`;
  if (exp.differsFrom) {
    const other = hogportValue(run.outcomes, exp.differsFrom);
    if (value === undefined || other === undefined || isDeepStrictEqual(value, other)) return `expected a value other than record ${exp.differsFrom.record}'s (${show(other)}), hogport has ${show(value)}`;
  }
  if (exp.sameAs) {
    const other = hogportValue(run.outcomes, exp.sameAs);
    if (value === undefined || !isDeepStrictEqual(value, other)) return `expected record ${exp.sameAs.record}'s value ${show(other)}, hogport has ${show(value)}`;
  }
  return undefined;
}

/** What a difference table entry looks at. */
export interface Seen { source: string; case: ImporterCase; exp: Expectation; record: Record<string, unknown>; outcome: RecordOutcome; run: MigrationRun; value: unknown }

/** A way hogport differs from PostHog's importer on purpose. */
export interface Deliberate {
  id: string;
  /** The fields it concerns, for the README's tables. */
  fields: string;
  why: string;
  applies(s: Seen): boolean;
  /** What hogport does instead, checked on the run: undefined when it holds, else what is wrong. */
  holds(s: Seen): string | undefined;
}

/** A difference nobody chose: a defect, reported as a todo (with the defect named) until it is fixed. */
export interface KnownDefect { id: string; defect: string; applies(s: Seen): boolean }

const refusedIds = new Set(['anonymous', 'guest', 'distinctid', 'distinct_id', 'id', 'not_authenticated', 'email', 'undefined', 'true', 'false']);
const refusedExact = new Set(['[object Object]', 'NaN', 'None', 'none', 'null', '0']);
/** Ids PostHog refuses to merge (capture's list), and empty or blank ones. */
export function unmergeable(id: unknown): boolean {
  if (typeof id !== 'string') return id === undefined || id === null;
  const s = id.trim();
  return s === '' || refusedIds.has(s.toLowerCase()) || refusedExact.has(s);
}
const isString = (v: unknown): v is string => typeof v === 'string';
const rejectedWith = (s: Seen, ...codes: string[]) => s.outcome.rejected.some((r) => codes.includes(r.code));
const ownEvent = (s: Seen) => s.outcome.events[0]?.event;
const isUuid = (v: unknown) => typeof v === 'string' && UUID.test(v);
const bad = (ok: boolean, why: string) => (ok ? undefined : why);
const linkKey = (i: Sent) => JSON.stringify([i.event.distinct_id, i.event.properties?.$anon_distinct_id]);
/** The identity event an earlier record of the case sent for this record's own pair. */
function earlierLink(s: Seen): string | undefined {
  const trim = (v: unknown) => (typeof v === 'string' ? v.trim() : v);
  const pair = JSON.stringify([trim(s.record.user_id), trim(s.record.device_id)]);
  return s.run.outcomes.slice(0, s.exp.record).flatMap((o) => o.identifies.map(linkKey)).find((k) => k === pair);
}
const groupKey = (g: Sent) => JSON.stringify([g.event.properties?.$group_type, g.event.properties?.$group_key, g.event.properties?.$group_set]);
/** The record's `$groupidentify` events that repeat one an earlier record of the case sent. */
function repeatedGroupIdentifies(s: Seen): number {
  const earlier = new Set(s.run.outcomes.slice(0, s.exp.record).flatMap((o) => o.groupIdentifies.map(groupKey)));
  return s.outcome.groupIdentifies.filter((g) => earlier.has(groupKey(g))).length;
}

export const DELIBERATE: Deliberate[] = [
  {
    id: 'reject-without-identity',
    fields: '`distinct_id` of a record with no user or device id',
    why: 'PostHog\'s importer gives such an event a random distinct_id (a throwaway person per event), or skips it silently (Mixpanel); hogport rejects it with its reason and position, so it is counted and can be fixed and re-run.',
    // Not for an expected error: that one names what is wrong, and this reject may name something else.
    applies: (s) => s.exp.output !== 'error' && rejectedWith(s, 'missing_identity', 'missing_distinct_id'),
    holds: (s) => bad(s.outcome.events.length === 0 && s.outcome.rejected.every((r) => r.reason !== ''), 'the record should be rejected with a reason and send nothing'),
  },
  {
    id: 'long-distinct-ids',
    fields: 'ids longer than 200 characters',
    why: 'capture keeps the first 200 characters of a distinct_id, so every user sharing them would become one person; hogport rejects the record with the reason (or truncates on purpose with `transform.longDistinctIds: truncate`, counted).',
    applies: (s) => s.exp.output !== 'error' && rejectedWith(s, 'distinct_id_too_long'),
    holds: (s) => bad(s.outcome.events.length === 0 && s.outcome.identifies.length === 0, 'a rejected record should send nothing'),
  },
  {
    id: 'one-link-per-pair',
    fields: '`$identify` for a pair seen before',
    why: 'hogport sends one `$identify` per (user, anonymous id) pair across the whole migration, at the pair\'s first sighting with a uuid from the pair, whatever the chunking, the workers and the re-runs; a later record of the same pair sends none.',
    applies: (s) => s.exp.output === '$identify' && s.outcome.identifies.length === 0 && earlierLink(s) !== undefined,
    holds: (s) => bad(s.run.outcomes.flatMap((o) => o.identifies).filter((i) => linkKey(i) === earlierLink(s)).length === 1, 'the pair should have exactly one identity event'),
  },
  {
    id: 'uuid-deterministic',
    fields: '`uuid`',
    why: 'PostHog\'s importer mints a random UUIDv7 where the record has no uuid (and for every event it generates); hogport derives each uuid from the record or the identity pair, so a re-run sends the very same events and PostHog collapses them instead of counting them twice. Two identical records without an id are therefore one event.',
    applies: (s) => (s.exp.path === 'uuid' || s.exp.path === 'inner.uuid') && (s.exp.equalsArgument !== undefined || s.exp.differsFrom !== undefined),
    holds: (s) => bad(isUuid(s.value), `hogport should send a uuid, it has ${JSON.stringify(s.value)}`),
  },
  {
    id: 'timestamp-instant',
    fields: '`timestamp`',
    why: 'the same instant, written the same way on every run: UTC with milliseconds (microseconds when the source has them) and `Z`, where the importer writes `+00:00`.',
    applies: (s) => s.exp.path === 'timestamp' && isString(s.exp.equals),
    holds: (s) => bad(isString(s.value) && Date.parse(s.value) === Date.parse(s.exp.equals as string), `hogport has ${JSON.stringify(s.value)}, another instant`),
  },
  {
    id: 'batch-key',
    fields: '`team_id`, `token`',
    why: 'a /batch/ request carries the project key once, in its body, and capture finds the team from it; the dry-run outbox writes `[redacted]` in its place, so an outbox can be shared.',
    applies: (s) => ['team_id', 'token', 'inner.token'].includes(s.exp.path ?? ''),
    holds: (s) => {
      const sent = pick(s.outcome, s.exp);
      return bad(isString(sent?.envelope.api_key) && sent!.envelope.api_key !== '', 'the batch should carry the project key (redacted in a dry run)');
    },
  },
  {
    id: 'batch-historical',
    fields: '`historical_migration`',
    why: 'capture honours historical_migration only on the /batch/ body, which is where hogport sets it; the importer writes it into its own capture message and, redundantly, into every event\'s properties.',
    applies: (s) => s.exp.path === 'inner.historical_migration' || s.exp.path === 'properties.historical_migration',
    holds: (s) => bad(pick(s.outcome, s.exp)?.envelope.historical_migration === true, 'the batch should be sent with historical_migration: true'),
  },
  {
    id: 'migration-tags',
    fields: '`analytics_source`, `$import_job_id`',
    why: 'every event is tagged with the migration id and its chunk (`$hogport_migration`, `$hogport_chunk`; names set in `transform.tags`), which `hogport verify` counts per chunk; the tags are the same on every re-run, where a job id changes.',
    applies: (s) => s.exp.path === 'properties.analytics_source' || s.exp.path === 'properties.$import_job_id',
    holds: (s) => {
      const p = pick(s.outcome, s.exp)?.event.properties as Record<string, unknown> | undefined;
      return bad(p?.$hogport_migration === s.run.migration && isString(p?.$hogport_chunk), 'the event should carry $hogport_migration and $hogport_chunk');
    },
  },
  {
    id: 'capture-clock',
    fields: '`now`, `sent_at`',
    why: 'capture stamps `now` when a request arrives; hogport sends `sent_at` with the batch and `$ignore_sent_at: true` on each event, so capture takes the event\'s timestamp as it is and a re-send keeps it.',
    applies: (s) => s.exp.path === 'inner.now' || s.exp.path === 'inner.sent_at',
    holds: (s) => {
      const sent = pick(s.outcome, s.exp);
      return bad(within(sent?.envelope.sent_at, s.run) && sent?.event.properties?.$ignore_sent_at === true, 'the batch should carry sent_at and the event $ignore_sent_at: true');
    },
  },
  {
    id: 'ip-property',
    fields: '`ip`',
    why: 'capture takes a request\'s own address, which is the importer\'s; hogport sends the source\'s IP as `$ip`, and `$geoip_disable: true` so that no event is placed where the importer runs (the importer writes the loopback address instead).',
    applies: (s) => s.exp.path === 'inner.ip',
    holds: (s) => {
      const p = pick(s.outcome, s.exp)?.event.properties as Record<string, unknown> | undefined;
      if (isString(s.exp.equals) && s.exp.equals !== '127.0.0.1') return bad(p?.$ip === s.exp.equals, `$ip should be ${s.exp.equals}`);
      return bad(p?.$geoip_disable === true, 'the event should carry $geoip_disable: true');
    },
  },
  {
    id: 'capture-internal',
    fields: '`is_cookieless_mode`',
    why: 'a field of the importer\'s own capture message; a /batch/ event without `$cookieless_mode` is not cookieless.',
    applies: (s) => s.exp.path === 'inner.is_cookieless_mode',
    holds: (s) => bad(pick(s.outcome, s.exp)?.event.properties?.$cookieless_mode === undefined, 'the event should not be cookieless'),
  },
  {
    id: 'os-not-browser',
    fields: '`os_name`, `os_version` off the web',
    why: 'outside the web, Amplitude\'s os_name and os_version are the operating system: hogport writes `$os`/`$os_version`, and `$browser`/`$browser_version` only for platform Web, where Amplitude puts the browser there. The importer writes every os_name as `$browser`.',
    applies: (s) => s.source === 'amplitude' && (s.exp.path === 'properties.$browser' || s.exp.path === 'properties.$browser_version') && s.record.platform !== 'Web',
    holds: (s) => {
      const p = ownEvent(s)?.properties as Record<string, unknown> | undefined;
      const want = s.exp.path === 'properties.$browser' ? s.record.os_name : s.record.os_version;
      return bad((s.exp.path === 'properties.$browser' ? p?.$os : p?.$os_version) === want && p?.$browser === undefined, `the OS should be in ${s.exp.path === 'properties.$browser' ? '$os' : '$os_version'}`);
    },
  },
  {
    id: 'group-identify-per-record',
    fields: '`$groupidentify`',
    why: 'chunks are transformed apart and re-runs must give the same events, so what one process saw earlier cannot decide what is sent: every record with group properties sends its `$groupidentify` (uuid from the record), and PostHog applies an unchanged `$group_set` as no change.',
    applies: (s) => s.exp.output === 'all' && s.exp.count !== undefined && repeatedGroupIdentifies(s) > 0,
    holds: (s) => bad(s.value === s.exp.count! + repeatedGroupIdentifies(s), 'hogport sends more than the importer besides the repeated $groupidentify'),
  },
  {
    id: 'numeric-ids',
    fields: 'a number as `user_id`',
    why: 'PostHog\'s importer fails the line; hogport keeps the id as text with every digit: one odd field does not cost the record.',
    applies: (s) => s.exp.output === 'error' && (typeof s.record.user_id === 'number' || typeof s.record.device_id === 'number'),
    holds: (s) => bad(ownEvent(s)?.distinct_id === String(s.record.user_id ?? s.record.device_id), 'the id should be kept as text'),
  },
  {
    id: 'no-link-for-unmergeable-ids',
    fields: 'identity events for empty, blank or refused ids',
    why: 'an empty or blank id, or one PostHog refuses to merge (`null`, `undefined`, …), never goes into an `$identify`: PostHog would refuse the merge or join unrelated users. The record\'s event still lands under its usable id.',
    applies: (s) => s.exp.output === '$identify' && ['user_id', 'device_id'].some((f) => Object.hasOwn(s.record, f) && unmergeable(s.record[f])),
    holds: (s) => bad(s.outcome.identifies.length === 0, 'no identity event should name the id'),
  },
  {
    id: 'importer-internals',
    fields: '`data.user_properties_updated`, `is_attribution_event`, `paying`',
    why: 'these Rust tests check how the importer\'s record type reads a field it never sends; hogport sends none of them either, and a line without `event_type` is rejected with its reason.',
    applies: (s) => s.exp.output === 'record',
    holds: (s) => bad(s.outcome.events.length + s.outcome.rejected.length + s.outcome.dropped.length > 0, 'the record should be accounted for'),
  },
  {
    id: 'repair-person-bags',
    fields: 'a non-object `user_properties`, `groups` or `group_properties`',
    why: 'the importer fails the line; these bags describe the person and the groups, which other events describe too, so hogport sends the event without them and counts the repair in the manifest\'s `changedBy` (`amplitude_user_properties_not_object`…). A non-object `event_properties` is what the event says: that one is a `bad_properties` reject.',
    applies: (s) => s.source === 'amplitude' && s.exp.output === 'error' && ['user_properties', 'groups', 'group_properties'].some((f) => recordHas(s, f, notObject)) && !recordHas(s, 'event_properties', notObject),
    holds: (s) => bad(s.outcome.rejected.length === 0 || s.outcome.rejected.every((r) => r.code !== 'bad_properties'), 'the event should not be refused for a person or group bag'),
  },
  {
    id: 'keep-distinct-id-link-before-identity',
    fields: '`$distinct_id_before_identity`',
    why: 'the importer replaces an upper-case distinct_id by `$distinct_id_before_identity`, guessing from its letters that it is anonymous (an upper-case user id is taken for a device). hogport keeps the event\'s own distinct_id and links the two ids, so both reach one person whichever is anonymous; with generated identity events turned off (`transform.identifyEvents: false`) it sends no link it inferred, as asked, and the event keeps its own id.',
    applies: (s) => s.source === 'mixpanel' && isString(valueAt(s.record, 'properties.$distinct_id_before_identity')) && (s.exp.path === 'inner.distinct_id' || s.exp.path === 'distinct_id'),
    holds: (s) => {
      const own = valueAt(s.record, 'properties.distinct_id');
      const before = valueAt(s.record, 'properties.$distinct_id_before_identity');
      const linked = s.run.outcomes.flatMap((o) => o.identifies).some((i) => new Set([i.event.distinct_id, i.event.properties?.$anon_distinct_id]).has(own) && new Set([i.event.distinct_id, i.event.properties?.$anon_distinct_id]).has(before));
      if (s.case.context.generate_identify_events === false) return bad(ownEvent(s)?.distinct_id === own && !linked, `the event should keep ${JSON.stringify(own)}, and no link be inferred with identity events off`);
      return bad(ownEvent(s)?.distinct_id === own && linked, `the event should keep ${JSON.stringify(own)} and an identity event link it to ${JSON.stringify(before)}`);
    },
  },
];

const recordHas = (s: Seen, field: string, test: (v: unknown) => boolean) => Object.hasOwn(s.record, field) && test(s.record[field]);
const notObject = (v: unknown) => v === null || typeof v !== 'object' || Array.isArray(v);

/** Differences nobody chose that hogport has not fixed yet: none today. A row or case that meets one is a todo. */
export const KNOWN_DEFECTS: KnownDefect[] = [];

/**
 * The transform options that stand for an importer case's context: its `generate_identify_events`
 * off is `identifyEvents: false`, its `import_events` off (identities only) is `importEvents: false`.
 */
export function importerTransform(context: ImporterCase['context']): Record<string, unknown> {
  return {
    ...(context.generate_identify_events === false ? { identifyEvents: false } : {}),
    ...(context.import_events === false ? { importEvents: false } : {}),
  };
}

export type ConformanceVerdict =
  | { kind: 'match' }
  | { kind: 'deliberate'; id: string; why: string }
  | { kind: 'defect'; id: string; defect: string; problem: string }
  | { kind: 'fail'; problem: string };

/** The verdict on one expectation: matches, differs deliberately (and hogport's way holds), a known defect, or a failure. */
export function judge(source: string, c: ImporterCase, exp: Expectation, run: MigrationRun, record: Record<string, unknown>): ConformanceVerdict {
  const outcome = run.outcomes[exp.record]!;
  const value = hogportValue(run.outcomes, exp);
  const problem = unmet(exp, value, run);
  if (problem === undefined) return { kind: 'match' };
  const seen: Seen = { source, case: c, exp, record, outcome, run, value };
  const deliberate = DELIBERATE.find((d) => d.applies(seen));
  const failing = deliberate ? deliberate.holds(seen) : problem;
  if (deliberate && failing === undefined) return { kind: 'deliberate', id: deliberate.id, why: deliberate.why };
  const known = KNOWN_DEFECTS.find((d) => d.applies(seen));
  const said = deliberate ? `${problem}; deliberately different (${deliberate.id}), but ${failing}` : problem;
  return known ? { kind: 'defect', id: known.id, defect: known.defect, problem: said } : { kind: 'fail', problem: said };
}

/**
 * Writes a pipeline definition with a dry-run destination, runs `hogport run` on it and reads what
 * it made of the records. Transform options hogport refuses (an option the importer has that this
 * hogport lacks) are dropped and named in `refusedOptions`, so the case still runs without them.
 */
export async function runDryMigration(options: {
  dir: string; migration: string; source: string; transform?: Record<string, unknown>; env?: Record<string, string>;
  chunks: string[]; owner: (i: number) => Owner;
  run: (args: string[], env?: Record<string, string>) => Promise<{ code: number | null; stderr: string }>;
}): Promise<MigrationRun> {
  const transform = { ...options.transform };
  const refusedOptions: string[] = [];
  for (;;) {
    const file = path.join(options.dir, 'pipeline.yaml');
    await rm(path.join(options.dir, 'store'), { recursive: true, force: true });
    await writeFile(file, [
      `id: ${options.migration}`, 'store: ./store', `source: ${options.source}`,
      `transform: ${JSON.stringify(transform)}`, 'destination: { type: dry-run }', 'concurrency: 1',
    ].join('\n'));
    const start = Date.now();
    const result = await options.run(['run', file], options.env);
    const end = Date.now();
    const refused = Object.keys(transform).find((k) => result.code === 2 && result.stderr.includes(k));
    if (refused) { delete transform[refused]; refusedOptions.push(refused); continue; }
    if (result.code !== 0) throw new Error(`hogport run exited with ${result.code}: ${result.stderr.slice(-2000)}`);
    const outcomes = await readMigration(path.join(options.dir, 'store'), options.migration, options.chunks, options.owner);
    return { migration: options.migration, outcomes, start, end, refusedOptions };
  }
}

/**
 * Runs every case (each its own migration, through `runCase`) and gives every expectation a subtest:
 * passing when it matches or differs deliberately, a todo naming the defect when it is a known
 * one, failing otherwise. Once a defect is fixed its expectations simply pass. Returns the tally.
 */
const MATCHERS = ['equals', 'absent', 'present', 'notEmpty', 'isUuid', 'includes', 'contains', 'containsLower', 'containsLowerAny', 'count', 'minCount', 'withinRun', 'notWithinRun', 'equalsArgument', 'differsFrom', 'sameAs'] as const;
const OUTPUTS: readonly string[] = ['event', '$identify', '$groupidentify', 'all', 'error', 'record'];

/** A fixture mistake (a matcher misspelt, a record that is not there) would make an expectation that cannot fail: refuse it. */
export function fixtureProblems(cases: ImporterCase[]): string[] {
  const problems: string[] = [];
  for (const c of cases) {
    for (const [n, exp] of c.expect.entries()) {
      const at = `${c.name} #${n}`;
      const matchers = MATCHERS.filter((m) => m in exp);
      const unknown = Object.keys(exp).filter((k) => !['record', 'output', 'path', 'index', ...MATCHERS].includes(k));
      if (matchers.length !== 1) problems.push(`${at}: ${matchers.length} matchers (${matchers.join(', ')}), one expected`);
      if (unknown.length) problems.push(`${at}: unknown keys ${unknown.join(', ')}`);
      if (!Number.isInteger(exp.record) || !c.records[exp.record]) problems.push(`${at}: no record ${exp.record}`);
      if (!OUTPUTS.includes(exp.output)) problems.push(`${at}: unknown output ${exp.output}`);
      if (exp.output !== 'all' && !exp.path) problems.push(`${at}: no path`);
      for (const ref of [exp.differsFrom, exp.sameAs]) if (ref && !c.records[ref.record]) problems.push(`${at}: refers to no record ${ref.record}`);
    }
  }
  return problems;
}

export async function checkImporterCases(t: TestContext, source: string, cases: ImporterCase[], runCase: (c: ImporterCase) => Promise<MigrationRun>): Promise<Record<ConformanceVerdict['kind'], number>> {
  const problems = fixtureProblems(cases);
  if (problems.length) throw new Error(`the importer fixture cannot be checked:\n${problems.join('\n')}`);
  const tally = { match: 0, deliberate: 0, defect: 0, fail: 0 };
  const runs: MigrationRun[] = [];
  for (const c of cases) {
    const run = await runCase(c);
    runs.push(run);
    await t.test(c.name, async (ct) => {
      for (const [n, exp] of c.expect.entries()) {
        const v = judge(source, c, exp, run, c.records[exp.record]!);
        tally[v.kind] += 1;
        const name = `record ${exp.record} ${exp.output}${exp.index ? `[${exp.index}]` : ''} ${exp.path ?? ''} #${n}`;
        if (v.kind === 'defect') await ct.test(name, { todo: `${v.id}: ${v.defect}` }, () => { throw new Error(v.problem); });
        else if (v.kind === 'fail') await ct.test(name, () => { throw new Error(v.problem); });
        else await ct.test(name, () => { if (v.kind === 'deliberate') ct.diagnostic(`${name}: deliberate (${v.id})`); });
      }
    });
  }
  const refused = [...new Set(runs.flatMap((r) => r.refusedOptions))];
  if (refused.length) t.diagnostic(`hogport refused transform.${refused.join(', transform.')}: those cases ran without`);
  t.diagnostic(`${source} importer fields: ${tally.match} match, ${tally.deliberate} differ deliberately, ${tally.defect} known defects, ${tally.fail} unexplained`);
  return tally;
}
