import { canonicalJson, gunzipIfGzipped, HOGPORT_VERSION, hasCode, splitLines, timeKey, type Logger, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { isDerivedChunk, type Layout } from '@hogport/layout';
import { encodeControl, Manifest, readControl, type OutputRef } from '@hogport/manifest';
import type { PostHogEvent, TransformSpec } from '@hogport/pipeline';
import type { Store } from '@hogport/store';
import pLimit from 'p-limit';
import { digestOf } from './stages/digest.js';
import { checkedLinkId, Changed, finishEvent } from '@hogport/event';
import { IdentityFacts, type PairFacts } from './stages/summary.js';
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
}

export interface MergeResult {
  /** Source chunks not transformed yet: nothing was merged. */
  waiting: string[];
  /** Every identities chunk, oldest first (load them before the events). */
  identities: string[];
  /** The persons chunk, when there is anyone to set (load it after all events). */
  persons?: string;
}

/**
 * The merge step: folds every transformed chunk's summary into the facts that span the migration.
 *
 * - Identities: one `$identify` (distinct_id = user, `$anon_distinct_id` = the anonymous id), or
 *   `$create_alias` for a pair a source aliased, per pair, timestamped at its first sighting, uuid
 *   from the pair. Identities chunks only grow: each merge
 *   that finds new pairs writes a new `~identities-NNNN` chunk holding just those, so a loaded pair
 *   is never sent again, whatever the chunking, re-runs or workers.
 * - Persons: one `$set` per person with each property's latest value (and `$set_once` with the
 *   earliest), timestamped at the person's last event, in `~persons`, loaded after every event so
 *   the latest values win even when chunks load out of order. Rewritten when the facts change.
 *
 * Output is a function of the summaries alone, and commits like any chunk (create-if-absent or
 * replace-if-unchanged on its transform manifest), so concurrent merges cannot both win.
 */
export async function mergeIdentities(options: MergeOptions): Promise<MergeResult> {
  const { store, layout, log } = options;
  const limit = pLimit(16);
  const manifests = await Promise.all(options.chunks.map((chunk) => limit(async () => ({ chunk, m: (await readControl(store, layout.manifest('transform', chunk), Manifest))?.value }))));
  const waiting = manifests.filter((x) => !x.m).map((x) => x.chunk);
  const existing = await derivedChunks(store, layout);
  if (waiting.length > 0) return { waiting, identities: existing.identities };

  const facts = new IdentityFacts();
  const summaries = manifests.flatMap(({ chunk, m }) => m!.outputs.filter((o) => o.role === 'summary').map((o) => ({ chunk, o })));
  for (const { o } of summaries) await eachLine(store, o.key, (line) => facts.addLine(line));
  const inputDigest = digestOf(summaries.map(({ chunk, o }) => [chunk, o.contentSha256 ?? o.sha256]));

  const known = new Set<string>();
  for (const chunk of existing.identities) {
    const m = (await readControl(store, layout.manifest('transform', chunk), Manifest))!.value;
    for (const o of m.outputs.filter((x) => x.role === 'events')) {
      await eachLine(store, o.key, (line) => {
        const e = JSON.parse(line) as { event: string; distinct_id: string; properties: { $anon_distinct_id?: string; alias?: string } };
        known.add(`${e.distinct_id}\u0000${e.event === '$create_alias' ? e.properties.alias : e.properties.$anon_distinct_id}`);
      });
    }
  }
  const fresh = [...sendablePairs(facts, options).entries()].filter(([key]) => !known.has(key)).map(([, p]) => p)
    .sort((a, b) => (timeKey(a.first) < timeKey(b.first) ? -1 : timeKey(a.first) > timeKey(b.first) ? 1 : a.user < b.user ? -1 : a.user > b.user ? 1 : a.anon < b.anon ? -1 : 1));
  const identities = [...existing.identities];
  if (fresh.length > 0) {
    const next = existing.identities.length === 0 ? 1 : Number(IDENTITIES.exec(existing.identities.at(-1)!)![1]) + 1;
    const chunk = `~identities-${String(next).padStart(4, '0')}`;
    if (await commitDerived(options, chunk, fresh.map(identityEvent), inputDigest, undefined)) {
      identities.push(chunk);
      log.info({ chunk, pairs: fresh.length }, 'new identities merged');
    } else {
      identities.splice(0, identities.length, ...(await derivedChunks(store, layout)).identities);
    }
  }

  if (facts.persons.size === 0) return { waiting: [], identities };
  const people = [...facts.persons.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, p]): PostHogEvent => {
    const $set = Object.fromEntries([...p.set].map(([k, [, v]]) => [k, v]));
    const $set_once = Object.fromEntries([...p.once].map(([k, [, v]]) => [k, v]));
    const properties: Record<string, unknown> = {};
    if (Object.keys($set).length) properties.$set = $set;
    if (Object.keys($set_once).length) properties.$set_once = $set_once;
    return { uuid: uuidV5(`persons:${id}:${canonicalJson(properties)}:${p.last}`, MERGE_NAMESPACE), event: '$set', distinct_id: id, timestamp: p.last, properties };
  }).filter((e) => Object.keys(e.properties).length > 0);
  if (people.length === 0) return { waiting: [], identities };
  const current = await readControl(store, layout.manifest('transform', PERSONS_CHUNK), Manifest);
  if (current?.value.inputDigest !== inputDigest) await commitDerived(options, PERSONS_CHUNK, people, inputDigest, current?.info.etag);
  return { waiting: [], identities, persons: PERSONS_CHUNK };
}

/**
 * The pairs the merge sends, keyed by the ids as sent: an anonymous id with other forms is linked in
 * each form an event carried (the form the data uses, decided from the data), or in its own form when
 * none did. Ids capture or PostHog's merge would refuse are left out here, so they are not found "new"
 * again by every later merge; truncated ids are compared as sent. Under `identifyEvents: false` only
 * the links a source recorded itself are sent. Pairs that come to one key (a pair both aliased and
 * identified, two long ids that truncate alike) are one link, at the first sighting.
 */
function sendablePairs(facts: IdentityFacts, options: MergeOptions): Map<string, PairFacts> {
  const mode = options.transform.longDistinctIds;
  const refused: Record<string, number> = {};
  const sendable = new Map<string, PairFacts>();
  const merged = new IdentityFacts();
  for (const p of facts.pairs.values()) {
    if (options.transform.identifyEvents === false && !p.recorded) continue;
    const forms = p.forms ? [p.anon, ...p.forms] : [p.anon];
    const carried = forms.filter((f) => facts.persons.get(f)?.carried);
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
  if (refused[Changed.nonMergeableLink]) options.log.warn({ pairs: refused[Changed.nonMergeableLink] }, 'pairs naming an id PostHog refuses to merge (anonymous, null, 0…) are not linked');
  const long = Object.entries(refused).filter(([code]) => code !== Changed.nonMergeableLink).reduce((a, [, n]) => a + n, 0);
  if (long > 0) options.log.warn({ pairs: long }, 'pairs with an id longer than capture keeps are not identified (set transform.longDistinctIds: truncate to send their first 200 characters)');
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

/** The derived chunks a listing of transform manifests shows. */
async function derivedChunks(store: Store, layout: Layout): Promise<{ identities: string[] }> {
  const identities: string[] = [];
  for await (const obj of store.list(layout.manifests('transform'))) {
    const id = layout.chunkOf('manifests', 'transform', obj.key);
    if (id && isDerivedChunk(id) && IDENTITIES.test(id)) identities.push(id);
  }
  return { identities: identities.sort() };
}

/** Writes a derived chunk's events and commits its transform manifest; false if another worker committed first. */
async function commitDerived(options: MergeOptions, chunk: string, events: PostHogEvent[], inputDigest: string, etag: string | undefined): Promise<boolean> {
  const { store, layout } = options;
  const startedAt = new Date();
  const attempt = `${startedAt.toISOString().replace(/[-:.]/g, '')}-merge`;
  const writer = new GzipLinesWriter(store, layout.events(chunk, attempt), 'events');
  const ctx = { migration: layout.migration, chunk, transform: options.transform, hogportVersion: HOGPORT_VERSION, log: options.log };
  let min: string | undefined;
  let max: string | undefined;
  const droppedBy: Record<string, number> = {};
  let written = 0;
  const tally = new EventTally();
  for (const e of events) {
    const done = finishEvent(e, ctx);
    if (!('line' in done)) {
      // Person facts hold values from many events: one that cannot be sent costs that person only, counted.
      droppedBy[done.code] = (droppedBy[done.code] ?? 0) + 1;
      options.log.warn({ chunk, distinctId: e.distinct_id.slice(0, 200), code: done.code, reason: done.reason }, 'the merge step left out an event capture would refuse');
      continue;
    }
    written += 1;
    await writer.writeLine(done.line);
    tally.add(e.event, e.timestamp);
    if (min === undefined || timeKey(e.timestamp) < timeKey(min)) min = e.timestamp;
    if (max === undefined || timeKey(e.timestamp) > timeKey(max)) max = e.timestamp;
  }
  const out: OutputRef = await writer.finish();
  const finishedAt = new Date();
  const manifest: Manifest = {
    kind: 'hogport.manifest', version: 1, stage: 'transform', migration: layout.migration, chunk, attempt, attemptNumber: 1,
    worker: options.worker, hogportVersion: HOGPORT_VERSION, configHash: digestOf({ merge: 1, transform: options.transform }), inputDigest,
    inputs: [], outputs: [out], counts: { unit: 'records', in: events.length, out: written, rejected: 0, dropped: events.length - written, droppedBy, events: written },
    bytes: { in: 0, out: out.bytes }, ...(min && max ? { eventTime: { min, max } } : {}),
    ...tally.fields(),
    startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - startedAt.getTime(), stats: { derived: true },
  };
  try {
    await store.writeIf(layout.manifest('transform', chunk), encodeControl(Manifest, manifest), etag ? { ifMatch: etag } : { ifAbsent: true });
    return true;
  } catch (err) {
    if (hasCode(err, 'E_PRECONDITION')) return false;
    throw err;
  }
}

async function eachLine(store: Store, key: string, fn: (line: string) => void): Promise<void> {
  const stream = await gunzipIfGzipped(await store.read(key));
  for await (const { line } of splitLines(stream)) if (line !== '') fn(line);
}
