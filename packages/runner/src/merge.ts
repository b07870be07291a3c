import { canonicalJson, HOGPORT_VERSION, hasCode, HogportError, timeKey, type Logger, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { isDerivedChunk, type Layout } from '@hogport/layout';
import { encodeControl, Manifest, MergePart, MergeShard, readControl, type OutputRef } from '@hogport/manifest';
import type { PostHogEvent, TransformSpec } from '@hogport/pipeline';
import type { Store } from '@hogport/store';
import pLimit from 'p-limit';
import { digestOf } from './stages/digest.js';
import { checkedLinkId, Changed, finishEvent } from '@hogport/event';
import { IdentityFacts, type PairFacts, type PersonFacts } from './stages/summary.js';
import { storedLines } from './inspect.js';
import { decodePair, encodePair, ExternalSorter, spoolDir, SpooledLines } from './spill.js';
import { EventTally } from './stages/tally.js';
import { GzipLinesWriter } from './stages/writer.js';

/** Namespace of the `$identify` and person `$set` events the merge step makes. */
export const MERGE_NAMESPACE = uuidV5('hogport.merge', URL_NAMESPACE);
export const PERSONS_CHUNK = '~persons';
const IDENTITIES = /^~identities-(\d{4,})$/;

export interface MergeOptions {
  store: Store;
  layout: Layout;
  /** Every source chunk of the migration: the merge waits until all are transformed. */
  chunks: readonly string[];
  transform: TransformSpec;
  worker: string;
  log: Logger;
  /**
   * Shards the merge is cut into (default 1): each is merged on its own, in bounded memory, and any
   * process can take any shard. Keep one number for a migration: another number merges every shard again.
   */
  shards?: number;
  /** This process is part `index` of `count` (from 0): it starts with its share of groups and shards, then helps with the rest. */
  part?: { index: number; count: number };
  /** Local folder for sort runs and spooled parts (default: the OS temp dir). */
  spillDir?: string;
  /** Characters a sort holds in memory before it writes a run to disk. */
  spillChars?: number;
}

export interface MergeResult {
  /** Source chunks not transformed yet: nothing was merged. */
  waiting: string[];
  /** Every identities chunk, oldest first (load them before the events). */
  identities: string[];
  /** The persons chunks, one per shard with anyone to set (load them after all events). */
  persons: string[];
}

/** Chunks are spread over this many partition groups by a hash of their id: a changed chunk re-partitions its group only. */
const GROUPS = 64;
const ASK = '{"ask":';
const CARRIED = '{"carried":';
const KNOWN = '{"known":';

/**
 * The merge step: folds every transformed chunk's summary into the facts that span the migration.
 *
 * - Identities: one `$identify` (distinct_id = user, `$anon_distinct_id` = the anonymous id), or
 *   `$create_alias` for a pair a source aliased, per pair, timestamped at its first sighting, uuid
 *   from the pair. Identities chunks only grow: each merge that finds new pairs writes a new
 *   `~identities-NNNN` chunk holding just those, so a loaded pair is never sent again, whatever the
 *   chunking, re-runs or workers.
 * - Persons: one `$set` per person with each property's latest value (and `$set_once` with the
 *   earliest), timestamped at the person's last event, in `~persons` (`~persons-<shard>` when
 *   sharded), loaded after every event so the latest values win even when chunks load out of order.
 *   Rewritten when the facts change.
 *
 * In bounded memory, whatever the number of persons: the summaries are partitioned by a hash of
 * their key into shards in the store (person facts by distinct id, links by user), and each shard is
 * folded in key order through an external sort on local disk, one key at a time. An anonymous id
 * with other forms needs to know which forms events carried, which its id shard knows: the id
 * shards answer the user shards in objects of their own. Every step records the digest of what it
 * read, so a re-run redoes only what changed.
 *
 * Output is a function of the summaries alone, and commits like any chunk (create-if-absent or
 * replace-if-unchanged on its transform manifest), so concurrent merges cannot both win.
 */
export async function mergeIdentities(options: MergeOptions): Promise<MergeResult> {
  const { store, layout, log } = options;
  const shards = options.shards ?? 1;
  const limit = pLimit(16);
  const manifests = await Promise.all(options.chunks.map((chunk) => limit(async () => ({ chunk, m: (await readControl(store, layout.manifest('transform', chunk), Manifest))?.value }))));
  const waiting = manifests.filter((x) => !x.m).map((x) => x.chunk);
  if (waiting.length > 0) return { waiting, identities: (await identityChunks(store, layout)).map((c) => c.chunk), persons: [] };

  const spool = await spoolDir(options.spillDir);
  try {
    const groups = new Map<string, Array<{ chunk: string; key: string; sha: string }>>();
    for (const { chunk, m } of manifests) {
      for (const o of m!.outputs.filter((x) => x.role === 'summary')) {
        const g = `g${String(hash32(chunk) % GROUPS).padStart(2, '0')}`;
        const list = groups.get(g) ?? [];
        list.push({ chunk, key: o.key, sha: o.contentSha256 ?? o.sha256 });
        groups.set(g, list);
      }
    }
    // One shard reads the summaries as they are; more read the parts a partition wrote, a shard's each.
    const inputsOf = new Map<string, ShardInput[]>();
    if (shards === 1) {
      const all = [...groups.values()].flat().sort((a, b) => (a.chunk < b.chunk ? -1 : a.chunk > b.chunk ? 1 : a.key < b.key ? -1 : 1)).map((i): ShardInput => ({ key: i.key, sha256: i.sha, summary: true }));
      inputsOf.set('ids-0', all);
      inputsOf.set('users-0', all);
    } else {
      const parts: MergePart[] = [];
      for (const g of mine([...groups.keys()].sort(), options.part)) parts.push(await partitioned(options, shards, g, groups.get(g)!, spool.file));
      parts.sort((a, b) => (a.group < b.group ? -1 : 1));
      for (const p of parts) for (const [name, o] of Object.entries(p.parts)) inputsOf.set(name, [...(inputsOf.get(name) ?? []), o]);
    }
    const ids = range(shards).map((i) => `ids-${i}`);
    const idRecords: MergeShard[] = [];
    for (const shard of mine(ids, options.part)) idRecords.push(await mergeIdShard(options, shards, shard, inputsOf.get(shard) ?? [], spool.file));
    idRecords.sort((a, b) => (a.shard < b.shard ? -1 : 1));
    for (const shard of mine(range(shards).map((i) => `users-${i}`), options.part)) await mergeUserShard(options, shards, shard, inputsOf.get(shard) ?? [], idRecords);
    const persons = idRecords.flatMap((r) => (r.chunk ? [r.chunk] : []));
    log.debug({ shards, groups: groups.size, persons: persons.length }, 'identities merged');
    return { waiting: [], identities: (await identityChunks(store, layout)).map((c) => c.chunk), persons };
  } finally {
    await spool.remove();
  }
}

/** The persons chunk of a shard: `~persons` when the merge is one shard, as it always was. */
export function personsChunk(shard: number, shards: number): string {
  return shards === 1 ? PERSONS_CHUNK : `${PERSONS_CHUNK}-${String(shard).padStart(3, '0')}`;
}

export function isPersonsChunk(id: string): boolean {
  return id === PERSONS_CHUNK || /^~persons-\d{3}$/.test(id);
}

/**
 * A group's summaries split by shard: `ids-<n>` holds person facts (by distinct id) and, for a link
 * whose anonymous id has other forms, one question per form (by that form); `users-<n>` holds the
 * links (by the user as sent). Each line is a key and a line (`encodePair`), ready for the shard's sort.
 */
async function partitioned(options: MergeOptions, shards: number, group: string, items: Array<{ chunk: string; key: string; sha: string }>, file: (name: string) => string): Promise<MergePart> {
  const { store, layout } = options;
  items.sort((a, b) => (a.chunk < b.chunk ? -1 : a.chunk > b.chunk ? 1 : a.key < b.key ? -1 : 1));
  const digest = digestOf({ merge: 2, shards, mode: options.transform.longDistinctIds ?? 'reject', summaries: items.map((i) => [i.chunk, i.sha]) });
  const current = (await readControl(store, layout.mergePartIndex(group), MergePart).catch(() => undefined))?.value;
  if (current?.digest === digest) return current;
  const writers = new Map<string, SpooledLines>();
  const out = (part: string, key: string, line: string) => {
    let w = writers.get(part);
    if (!w) { w = new SpooledLines(file(part)); writers.set(part, w); }
    return w.write(encodePair(key, line));
  };
  try {
    for (const item of items) for await (const line of storedLines(store, item.key)) await routed(line, options, shards, out);
    const stored: MergePart['parts'] = {};
    for (const [part, w] of [...writers.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) stored[part] = await w.store(store, layout.mergePart(group, digest, part));
    writers.clear();
    const index: MergePart = { kind: 'hogport.merge-part', version: 1, migration: layout.migration, group, shards, digest, chunks: new Set(items.map((i) => i.chunk)).size, parts: stored, at: new Date().toISOString() };
    await store.write(layout.mergePartIndex(group), encodeControl(MergePart, index));
    return index;
  } finally {
    for (const w of writers.values()) await w.discard();
  }
}

/**
 * Where a summary line goes: a link to its user's shard (and, when its anonymous id has other forms,
 * a question per form to that form's id shard), a person's facts to the person's id shard.
 */
async function routed(line: string, options: MergeOptions, shards: number, out: (part: string, key: string, value: string) => Promise<void> | undefined, only?: 'ids' | 'users'): Promise<void> {
  // Summary lines are the merge's bulk: the key is read off the line's start, and only a link with
  // other forms of its anonymous id is parsed whole.
  if (line.startsWith(PAIR_START)) {
    const user = leadingString(line, PAIR_START.length - 1);
    if (user !== undefined && !line.includes('"forms":')) {
      if (only === 'ids') return;
      const sent = sentUser(user, options);
      await out(`users-${hash32(sent) % shards}`, sent, line);
      return;
    }
  } else if (line.startsWith(PERSON_START)) {
    if (only === 'users') return;
    const id = leadingString(line, PERSON_START.length - 1);
    if (id !== undefined) { await out(`ids-${hash32(id) % shards}`, id, line); return; }
  }
  const o = parseLine(line);
  if (o?.pair) {
    const [user, anon] = o.pair;
    const sent = sentUser(user, options);
    if (only !== 'ids') await out(`users-${hash32(sent) % shards}`, sent, line);
    if (o.forms && only !== 'users') for (const form of [anon, ...o.forms]) await out(`ids-${hash32(form) % shards}`, form, `${ASK}${JSON.stringify([user, anon, form])}}`);
  } else if (typeof o?.person === 'string' && only !== 'users') {
    await out(`ids-${hash32(o.person) % shards}`, o.person, line);
  }
}

const PAIR_START = '{"pair":["';
const PERSON_START = '{"person":"';

/** The JSON string that starts at `at` (its opening quote), decoded; undefined if there is none. */
function leadingString(line: string, at: number): string | undefined {
  for (let i = at + 1; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x5c) { i++; continue; }
    if (c === 0x22) {
      const raw = line.slice(at, i + 1);
      return raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
    }
  }
  return undefined;
}

/** What a shard reads: a part (key and value lines), or with one shard the summaries themselves, routed as they are read. */
interface ShardInput {
  key: string;
  sha256: string;
  summary?: true;
}

/** Adds a shard's inputs to its sort. */
async function feed(options: MergeOptions, shard: string, inputs: readonly ShardInput[], sorter: ExternalSorter): Promise<void> {
  for (const input of inputs) {
    for await (const line of storedLines(options.store, input.key)) {
      // Once per line of the shard: an await only when the sort spills.
      if (!input.summary) { const [k, v] = decodePair(line); const w = sorter.add(k, v); if (w) await w; continue; }
      await routed(line, options, 1, (part, k, v) => (part === shard ? sorter.add(k, v) : undefined), shard.startsWith('ids-') ? 'ids' : 'users');
    }
  }
}

/**
 * An id shard: each person's facts folded into one `$set`, and the questions of links answered:
 * which forms of an anonymous id an event carried. Answers go to the user shard of the link.
 */
async function mergeIdShard(options: MergeOptions, shards: number, shard: string, inputs: readonly ShardInput[], file: (name: string) => string): Promise<MergeShard> {
  const { store, layout, log } = options;
  const n = Number(shard.slice('ids-'.length));
  const digest = digestOf({ shard, shards, mode: options.transform.longDistinctIds ?? 'reject', inputs: inputs.map((i) => i.sha256) });
  const chunk = personsChunk(n, shards);
  const record = (await readControl(store, layout.mergeShard(shard), MergeShard).catch(() => undefined))?.value;
  const persons = await readControl(store, layout.manifest('transform', chunk), Manifest);
  if (record?.digest === digest && (!record.chunk || persons?.value.inputDigest === digest)) return record;

  const sorter = new ExternalSorter({ ...(options.spillDir ? { dir: options.spillDir } : {}), ...(options.spillChars ? { maxChars: options.spillChars } : {}) });
  const answers = new Map<string, SpooledLines>();
  const derived = new DerivedWriter(options, chunk);
  const personsCurrent = persons?.value.inputDigest === digest;
  let people = 0;
  try {
    await feed(options, shard, inputs, sorter);
    await eachKey(sorter, async (id, values) => {
      const facts = new IdentityFacts();
      const asks: Array<[string, string, string]> = [];
      for (const v of values) {
        if (v.startsWith(ASK)) asks.push((JSON.parse(v) as { ask: [string, string, string] }).ask);
        else facts.addLine(v);
      }
      const p = facts.persons.get(id);
      if (p) {
        const e = personEvent(id, p);
        if (e) { people += 1; if (!personsCurrent) await derived.add(e); }
      }
      if (!p?.carried) return;
      for (const [user, anon, form] of asks) {
        const sent = sentUser(user, options);
        const to = `users-${hash32(sent) % shards}`;
        let w = answers.get(to);
        if (!w) { w = new SpooledLines(file(`answers-${to}`)); answers.set(to, w); }
        await w.write(encodePair(sent, `${CARRIED}${JSON.stringify([user, anon, form])}}`));
      }
    });
    const outputs: MergeShard['outputs'] = {};
    for (const [to, w] of [...answers.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) outputs[to] = await w.store(store, layout.mergeAnswers(shard, digest, to));
    answers.clear();
    let committed: string | undefined;
    if (people > 0) {
      if (personsCurrent) committed = chunk;
      else if (await derived.commit(digest, persons?.info.etag, { shard: n, shards })) committed = chunk;
      else committed = (await readControl(store, layout.manifest('transform', chunk), Manifest))?.value.inputDigest === digest ? chunk : undefined;
    }
    if (committed === undefined && people > 0) throw new HogportError('E_MERGE_RACE', `another merge replaced ${chunk} with other facts while this one ran: run again to merge what the store holds now`);
    const next: MergeShard = { kind: 'hogport.merge-shard', version: 1, migration: layout.migration, shard, shards, digest, ...(committed ? { chunk: committed } : {}), outputs, counts: { persons: people }, at: new Date().toISOString() };
    await store.write(layout.mergeShard(shard), encodeControl(MergeShard, next));
    log.debug({ shard, persons: people }, 'id shard merged');
    return next;
  } finally {
    derived.discard();
    for (const w of answers.values()) await w.discard();
    await sorter.close();
  }
}

/**
 * A user shard: each user's links folded into the pairs the merge sends, less those an identities
 * chunk already holds; the new ones go, oldest first, into a new `~identities-NNNN`.
 */
async function mergeUserShard(options: MergeOptions, shards: number, shard: string, own: readonly ShardInput[], idRecords: readonly MergeShard[]): Promise<void> {
  const { store, layout, log } = options;
  const n = Number(shard.slice('users-'.length));
  const inputs = [...own, ...idRecords.flatMap((r) => (r.outputs[shard] ? [r.outputs[shard]!] : []))];
  const digest = digestOf({ shard, shards, mode: options.transform.longDistinctIds ?? 'reject', identifyEvents: options.transform.identifyEvents !== false, inputs: inputs.map((i) => i.sha256) });
  const record = (await readControl(store, layout.mergeShard(shard), MergeShard).catch(() => undefined))?.value;
  if (record?.digest === digest) return;

  const spill = { ...(options.spillDir ? { dir: options.spillDir } : {}), ...(options.spillChars ? { maxChars: options.spillChars } : {}) };
  const sorter = new ExternalSorter(spill);
  const fresh = new ExternalSorter(spill);
  const refused: Record<string, number> = {};
  try {
    await feed(options, shard, inputs, sorter);
    for (const c of await identityChunks(store, layout)) {
      // Chunks of this shard count in full; those of another shard count never; chunks merged under
      // another number of shards (or before there were any) are sorted out by the user they link.
      const own = c.shards === shards && c.shard === n;
      if (c.shards === shards && !own) continue;
      for (const key of c.events) {
        for await (const line of storedLines(store, key)) {
          const e = JSON.parse(line) as { event: string; distinct_id: string; properties: { $anon_distinct_id?: string; alias?: string } };
          if (!own && hash32(e.distinct_id) % shards !== n) continue;
          await sorter.add(e.distinct_id, `${KNOWN}${JSON.stringify([e.distinct_id, e.event === '$create_alias' ? e.properties.alias : e.properties.$anon_distinct_id])}}`);
        }
      }
    }
    await eachKey(sorter, async (_user, values) => {
      const facts = new IdentityFacts();
      const carried = new Set<string>();
      const known = new Set<string>();
      for (const v of values) {
        if (v.startsWith(CARRIED)) carried.add((JSON.parse(v) as { carried: string[] }).carried.join('\u0000'));
        else if (v.startsWith(KNOWN)) known.add((JSON.parse(v) as { known: string[] }).known.join('\u0000'));
        else facts.addLine(v);
      }
      for (const [key, p] of sendablePairs(facts, (pair, form) => carried.has(`${pair.user}\u0000${pair.anon}\u0000${form}`), options, refused)) {
        if (known.has(key)) continue;
        await fresh.add(`${timeKey(p.first)}\u0000${p.user}\u0000${p.anon}`, JSON.stringify(p));
      }
    });
    if (refused[Changed.nonMergeableLink]) log.warn({ pairs: refused[Changed.nonMergeableLink] }, 'pairs naming an id PostHog refuses to merge (anonymous, null, 0…) are not linked');
    const long = Object.entries(refused).filter(([code]) => code !== Changed.nonMergeableLink).reduce((a, [, k]) => a + k, 0);
    if (long > 0) log.warn({ pairs: long }, 'pairs with an id longer than capture keeps are not identified (set transform.longDistinctIds: truncate to send their first 200 characters)');

    let chunk: string | undefined;
    if (fresh.size > 0) {
      // Numbers are shared by every shard: one taken by another shard's commit means trying the next,
      // one taken by another merge of this shard's same inputs means this merge's work is done.
      for (;;) {
        const existing = await identityChunks(store, layout);
        const theirs = existing.find((c) => c.shard === n && c.shards === shards && c.inputDigest === digest);
        if (theirs) { chunk = theirs.chunk; break; }
        const next = existing.length === 0 ? 1 : Number(IDENTITIES.exec(existing.at(-1)!.chunk)![1]) + 1;
        const candidate = `~identities-${String(next).padStart(4, '0')}`;
        const writer = new DerivedWriter(options, candidate);
        for await (const [, v] of fresh.sorted()) await writer.add(identityEvent(JSON.parse(v) as PairFacts));
        if (await writer.commit(digest, undefined, { shard: n, shards })) {
          chunk = candidate;
          log.info({ chunk, pairs: fresh.size }, 'new identities merged');
          break;
        }
      }
    }
    const next: MergeShard = { kind: 'hogport.merge-shard', version: 1, migration: layout.migration, shard, shards, digest, ...(chunk ? { chunk } : {}), outputs: {}, counts: { pairs: fresh.size }, at: new Date().toISOString() };
    await store.write(layout.mergeShard(shard), encodeControl(MergeShard, next));
  } finally {
    await sorter.close();
    await fresh.close();
  }
}

/** Calls `fn` with each key and all its values, in key order: the values of one key at a time are in memory. */
async function eachKey(sorter: ExternalSorter, fn: (key: string, values: string[]) => Promise<void>): Promise<void> {
  let key: string | undefined;
  let values: string[] = [];
  for await (const batch of sorter.batches()) {
    for (const [k, v] of batch) {
      if (k !== key) {
        if (key !== undefined) await fn(key, values);
        key = k;
        values = [];
      }
      values.push(v);
    }
  }
  if (key !== undefined) await fn(key, values);
}

/** A person's `$set` as the merge sends it, or undefined when it has nothing to set. */
function personEvent(id: string, p: PersonFacts): PostHogEvent | undefined {
  const $set = Object.fromEntries([...p.set].map(([k, [, v]]) => [k, v]));
  const $set_once = Object.fromEntries([...p.once].map(([k, [, v]]) => [k, v]));
  const properties: Record<string, unknown> = {};
  if (Object.keys($set).length) properties.$set = $set;
  if (Object.keys($set_once).length) properties.$set_once = $set_once;
  if (Object.keys(properties).length === 0) return undefined;
  return { uuid: uuidV5(`persons:${id}:${canonicalJson(properties)}:${p.last}`, MERGE_NAMESPACE), event: '$set', distinct_id: id, timestamp: p.last, properties };
}

/** The user of a link as it is sent (truncated when so configured): links of one sent user fold together. */
function sentUser(user: string, options: MergeOptions): string {
  const checked = checkedLinkId(user, options.transform.longDistinctIds, 'distinct_id');
  return 'code' in checked ? user : checked.id;
}

/** FNV-1a over UTF-16 units: a fast, stable spread of keys over shards and groups. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Items in the order this part takes them: its own share first, then the others' (done ones are skipped cheaply). */
function mine<T>(items: readonly T[], part: MergeOptions['part']): T[] {
  if (!part || part.count <= 1) return [...items];
  const own = items.filter((_, i) => i % part.count === part.index);
  const rest = items.filter((_, i) => i % part.count !== part.index);
  return [...own, ...rest];
}

function parseLine(line: string): { pair?: [string, string, string]; forms?: string[]; person?: unknown } | undefined {
  try {
    return JSON.parse(line) as { pair?: [string, string, string]; forms?: string[]; person?: unknown };
  } catch {
    return undefined;
  }
}

/**
 * The pairs the merge sends, keyed by the ids as sent: an anonymous id with other forms is linked in
 * each form an event carried (the form the data uses, decided from the data), or in its own form when
 * none did. Ids capture or PostHog's merge would refuse are left out here, so they are not found "new"
 * again by every later merge; truncated ids are compared as sent. Under `identifyEvents: false` only
 * the links a source recorded itself are sent. Pairs that come to one key (a pair both aliased and
 * identified, two long ids that truncate alike) are one link, at the first sighting.
 */
function sendablePairs(facts: IdentityFacts, carriedBy: (pair: PairFacts, form: string) => boolean, options: MergeOptions, refused: Record<string, number>): Map<string, PairFacts> {
  const mode = options.transform.longDistinctIds;
  const sendable = new Map<string, PairFacts>();
  const merged = new IdentityFacts();
  for (const p of facts.pairs.values()) {
    if (options.transform.identifyEvents === false && !p.recorded) continue;
    const forms = p.forms ? [p.anon, ...p.forms] : [p.anon];
    const carried = forms.filter((f) => carriedBy(p, f));
    const user = checkedLinkId(p.user, mode, 'distinct_id');
    if ('code' in user) { refused[user.code] = (refused[user.code] ?? 0) + 1; continue; }
    for (const form of carried.length > 0 ? carried : [p.anon]) {
      const anon = checkedLinkId(form, mode, '$anon_distinct_id');
      if ('code' in anon) { refused[anon.code] = (refused[anon.code] ?? 0) + 1; continue; }
      if (anon.id === user.id) continue;
      const { forms: _, ...rest } = p;
      merged.addLink({ ...rest, user: user.id, anon: anon.id });
    }
  }
  for (const p of merged.pairs.values()) sendable.set(`${p.user}\u0000${p.anon}`, p);
  return sendable;
}

/**
 * A pair as PostHog's identity event: `$identify` (`$anon_distinct_id`) or, for an alias,
 * `$create_alias` (`alias`), both on the user's distinct_id, so PostHog merges the other id's person
 * into the user's. The source's id properties go with it, except any named like the link's own ids.
 */
function identityEvent(p: PairFacts): PostHogEvent {
  const { alias: _a, $anon_distinct_id: _b, ...props } = p.props ?? {};
  return p.alias
    ? { uuid: uuidV5(`alias:${p.user}:${p.anon}`, MERGE_NAMESPACE), event: '$create_alias', distinct_id: p.user, timestamp: p.first, properties: { ...props, alias: p.anon } }
    : { uuid: uuidV5(`identify:${p.user}:${p.anon}`, MERGE_NAMESPACE), event: '$identify', distinct_id: p.user, timestamp: p.first, properties: { ...props, $anon_distinct_id: p.anon } };
}

/** An identities chunk as its manifest tells: which shard made it, from what, and its events. */
interface IdentityChunk {
  chunk: string;
  shard?: number;
  shards?: number;
  inputDigest?: string;
  events: string[];
}

/** The identities chunks a listing of transform manifests shows, oldest first. */
async function identityChunks(store: Store, layout: Layout): Promise<IdentityChunk[]> {
  const ids: string[] = [];
  for await (const obj of store.list(layout.manifests('transform'))) {
    const id = layout.chunkOf('manifests', 'transform', obj.key);
    if (id && isDerivedChunk(id) && IDENTITIES.test(id)) ids.push(id);
  }
  const limit = pLimit(16);
  const read = await Promise.all(ids.sort().map((chunk) => limit(async () => {
    const m = (await readControl(store, layout.manifest('transform', chunk), Manifest))?.value;
    if (!m) return undefined;
    const shard = m.stats.shard;
    const shards = m.stats.shards;
    return {
      chunk, events: m.outputs.filter((o) => o.role === 'events').map((o) => o.key),
      ...(typeof shard === 'number' ? { shard } : {}), ...(typeof shards === 'number' ? { shards } : {}), ...(m.inputDigest ? { inputDigest: m.inputDigest } : {}),
    } satisfies IdentityChunk;
  })));
  return read.filter((c): c is IdentityChunk => c !== undefined);
}

/**
 * A derived chunk's events, written as they come, then committed by its transform manifest
 * (create-if-absent, or replace-if-unchanged with `etag`). The events object is started at the first
 * event, so a chunk that gets none leaves nothing behind.
 */
class DerivedWriter {
  private writer: GzipLinesWriter | undefined;
  private readonly startedAt = new Date();
  private readonly attempt = `${this.startedAt.toISOString().replace(/[-:.]/g, '')}-merge`;
  private readonly ctx;
  private min: string | undefined;
  private max: string | undefined;
  private readonly droppedBy: Record<string, number> = {};
  private seen = 0;
  private written = 0;
  private readonly tally = new EventTally();

  constructor(private readonly options: MergeOptions, readonly chunk: string) {
    this.ctx = { migration: options.layout.migration, chunk, transform: options.transform, hogportVersion: HOGPORT_VERSION, log: options.log };
  }

  async add(e: PostHogEvent): Promise<void> {
    this.seen += 1;
    const done = finishEvent(e, this.ctx);
    if (!('line' in done)) {
      // Person facts hold values from many events: one that cannot be sent costs that person only, counted.
      this.droppedBy[done.code] = (this.droppedBy[done.code] ?? 0) + 1;
      this.options.log.warn({ chunk: this.chunk, distinctId: e.distinct_id.slice(0, 200), code: done.code, reason: done.reason }, 'the merge step left out an event capture would refuse');
      return;
    }
    this.written += 1;
    this.writer ??= new GzipLinesWriter(this.options.store, this.options.layout.events(this.chunk, this.attempt), 'events');
    await this.writer.writeLine(done.line);
    this.tally.add(e.event, e.timestamp);
    if (this.min === undefined || timeKey(e.timestamp) < timeKey(this.min)) this.min = e.timestamp;
    if (this.max === undefined || timeKey(e.timestamp) > timeKey(this.max)) this.max = e.timestamp;
  }

  /** Commits; false if another merge committed first. */
  async commit(inputDigest: string, etag: string | undefined, stats: Record<string, number>): Promise<boolean> {
    const { store, layout } = this.options;
    const writer = this.writer ?? new GzipLinesWriter(store, layout.events(this.chunk, this.attempt), 'events');
    this.writer = undefined;
    const out: OutputRef = await writer.finish();
    const finishedAt = new Date();
    const manifest: Manifest = {
      kind: 'hogport.manifest', version: 1, stage: 'transform', migration: layout.migration, chunk: this.chunk, attempt: this.attempt, attemptNumber: 1,
      worker: this.options.worker, hogportVersion: HOGPORT_VERSION, configHash: digestOf({ merge: 1, transform: this.options.transform }), inputDigest,
      inputs: [], outputs: [out], counts: { unit: 'records', in: this.seen, out: this.written, rejected: 0, dropped: this.seen - this.written, droppedBy: this.droppedBy, events: this.written },
      bytes: { in: 0, out: out.bytes }, ...(this.min && this.max ? { eventTime: { min: this.min, max: this.max } } : {}),
      ...this.tally.fields(),
      startedAt: this.startedAt.toISOString(), finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - this.startedAt.getTime(), stats: { derived: true, ...stats },
    };
    try {
      await store.writeIf(layout.manifest('transform', this.chunk), encodeControl(Manifest, manifest), etag ? { ifMatch: etag } : { ifAbsent: true });
      return true;
    } catch (err) {
      if (hasCode(err, 'E_PRECONDITION')) return false;
      throw err;
    }
  }

  /** Drops what was written (an object no manifest names, which gc removes). */
  discard(): void {
    this.writer?.abort(new Error('discarded'));
    this.writer = undefined;
  }
}
