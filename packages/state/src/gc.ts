import { isChunkId, isStage, STAGES, type ControlKind, type Layout, type Stage } from '@hogport/layout';
import { Checkpoint, Claim, Manifest, MergePart, MergeShard, readControl } from '@hogport/manifest';
import type { Store } from '@hogport/store';
import pLimit from 'p-limit';
import { claimExpired, LEASE_ALLOWANCE_MS } from './index.js';

/** The kinds of stage output a key can be (see packages/layout): with the merge's objects, the only keys gc ever deletes. */
export type OutputKind = 'raw' | 'events' | 'summary' | 'rejects' | 'outbox' | 'ledger' | 'changed';

/** A stage output, as its key says: whose it is and which attempt wrote it. */
export interface OutputKey {
  kind: OutputKind;
  stage: Stage;
  chunk: string;
  attempt: string;
  /** The sample lane it belongs to (load outputs of a `--sample` load). */
  sample?: string;
  /** When the attempt started, from its id (UTC, to the millisecond). */
  startedAt: number;
}

/** An output no manifest names and no live claim or checkpoint holds, from an attempt older than the safe age. */
export interface StageOrphan extends OutputKey {
  key: string;
  bytes: number;
}

/**
 * An object of the identity merge (see packages/layout): a group's partition into shards, or what
 * an id shard answered a user shard. Its key holds the digest of what it was made from.
 */
export interface MergeObjectKey {
  kind: 'merge-part' | 'merge-answers';
  /** The group (`g07`) of a part, the id shard (`ids-3`) of answers. */
  of: string;
  digest: string;
  /** The part's shard (`users-1`), or the user shard the answers go to. */
  to: string;
}

/**
 * A merge object its group's index or its shard's record no longer names (the group was partitioned
 * again, the shard merged again, or a merge race lost), superseded and written longer ago than the
 * safe age, both by the store's clock.
 */
export interface MergeOrphan extends MergeObjectKey {
  key: string;
  bytes: number;
}

export type Orphan = StageOrphan | MergeOrphan;

export interface OrphanScan {
  migration: string;
  orphans: Orphan[];
  /** Their total size in bytes. */
  bytes: number;
  /** Why every other stage output was kept, object by object. */
  kept: {
    /** Named by a manifest (of any stage or sample lane) as an output or an input, by a checkpoint, or by the merge's index of its group or record of its shard. */
    named: number;
    /** Of an attempt a live claim or a checkpoint holds: it may still be written, or resumed. */
    held: number;
    /** Of an attempt that started less than the safe age ago; of the merge, written or superseded less than it ago. */
    young: number;
    /** Of a chunk whose manifest, claim or checkpoint could not be read: what it names is unknown. */
    unsure: number;
  };
  /** Control objects that could not be read, by key: their chunks' outputs are all kept. */
  unreadable: string[];
}

export interface OrphanOptions {
  store: Store;
  layout: Layout;
  /** Only attempts that started at least this long ago; younger ones may still be running unseen. */
  minAgeMs: number;
  now?: number;
  /** GETs at once. */
  concurrency?: number;
}

/** `newAttemptId`'s shape: UTC time to the millisecond, a dash, a few letters and digits. */
const ATTEMPT = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-z]{1,16}$/;

function attemptTime(attempt: string): number | undefined {
  const m = ATTEMPT.exec(attempt);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * What stage output `key` is, or undefined for anything else (control objects, reports, checks,
 * scopes, keys hogport does not know): only keys of exactly the layout's output shapes, with a
 * valid chunk id and attempt id, can ever be collected.
 */
export function parseOutputKey(layout: Layout, key: string): OutputKey | undefined {
  const head = `${layout.migration}/`;
  if (!key.startsWith(head)) return undefined;
  let rest = key.slice(head.length);
  const sample = layout.sampleOf(key);
  if (sample !== undefined) rest = rest.slice(`samples/${sample}/`.length);
  else if (rest.startsWith('samples/')) return undefined;
  const parts = rest.split('/');
  const found = (kind: OutputKind, stage: Stage, chunk: string | undefined, attempt: string | undefined): OutputKey | undefined => {
    if (chunk === undefined || attempt === undefined || !isChunkId(chunk)) return undefined;
    // A sample lane holds load outputs only; extract and transform outputs are shared by every lane.
    if (sample !== undefined && stage !== 'load') return undefined;
    const startedAt = attemptTime(attempt);
    if (startedAt === undefined) return undefined;
    return { kind, stage, chunk, attempt, startedAt, ...(sample !== undefined ? { sample } : {}) };
  };
  const file = (name: string | undefined, suffix: string) => (name !== undefined && name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined);
  const seq = (name: string | undefined, suffix: string) => /^\d+$/.test(file(name, suffix) ?? '');
  switch (parts[0]) {
    case 'raw':
      return parts.length >= 4 && parts.slice(3).every((p) => p !== '') ? found('raw', 'extract', parts[1], parts[2]) : undefined;
    case 'events':
      return parts.length === 3 ? found('events', 'transform', parts[1], file(parts[2], '.jsonl.gz')) : undefined;
    case 'summaries':
      return parts.length === 3 ? found('summary', 'transform', parts[1], file(parts[2], '.jsonl.gz')) : undefined;
    case 'rejects': {
      const stage = parts[1];
      if (stage === undefined || !isStage(stage)) return undefined;
      if (parts.length === 4) return found('rejects', stage, parts[2], file(parts[3], '.jsonl.gz'));
      if (parts.length === 5 && stage === 'load' && seq(parts[4], '.jsonl.gz')) return found('rejects', stage, parts[2], parts[3]);
      return undefined;
    }
    case 'outbox':
      return parts.length === 4 && seq(parts[3], '.json.gz') ? found('outbox', 'load', parts[1], parts[2]) : undefined;
    case 'ledgers':
      return parts.length === 4 && parts[1] === 'load' ? found('ledger', 'load', parts[2], file(parts[3], '.tsv.gz')) : undefined;
    case 'changed':
      return parts.length === 4 && parts[1] === 'load' ? found('changed', 'load', parts[2], file(parts[3], '.jsonl.gz')) : undefined;
    default:
      return undefined;
  }
}

/** A merge object's name part, as the layout checks it. */
const MERGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * What merge object `key` is: `merge/parts/<group>/<digest>/<part>.jsonl.gz` or
 * `merge/answers/<shard>/<digest>/<to>.jsonl.gz`, directly under the migration (the merge serves
 * every sample lane). Indexes and shard records are control objects, never collected.
 */
export function parseMergeKey(layout: Layout, key: string): MergeObjectKey | undefined {
  const head = `${layout.migration}/merge/`;
  if (!key.startsWith(head)) return undefined;
  const parts = key.slice(head.length).split('/');
  if (parts.length !== 4 || !parts[3]!.endsWith('.jsonl.gz')) return undefined;
  const [what, of, digest] = parts as [string, string, string];
  const to = parts[3]!.slice(0, -'.jsonl.gz'.length);
  if (![of, digest, to].every((p) => MERGE_NAME.test(p))) return undefined;
  if (what === 'parts') return { kind: 'merge-part', of, digest, to };
  if (what === 'answers') return { kind: 'merge-answers', of, digest, to };
  return undefined;
}

/**
 * Finds the outputs of discarded attempts: a failed or killed attempt, a chunk redone, a merge race
 * lost. The commit point of a chunk is its manifest, and only what a manifest names counts, so
 * everything else of an attempt no live claim holds is garbage once it is old enough.
 *
 * Order matters, because workers may be running: the outputs are listed first, then the claims,
 * then the checkpoints, then the manifests. An output listed is either named by a manifest
 * committed before the manifests are read, or its attempt still held a claim (or a checkpoint,
 * for a load to be resumed) when they were read, or it is an attempt nobody can commit any more.
 * Nothing here deletes; see `deleteOrphans`.
 */
export async function findOrphans(options: OrphanOptions): Promise<OrphanScan> {
  const { store, layout } = options;
  const now = options.now ?? Date.now();
  const limit = pLimit(options.concurrency ?? 16);

  const outputs: Array<OutputKey & { key: string; bytes: number }> = [];
  const merged: Array<MergeObjectKey & { key: string; bytes: number; modifiedAt: number | undefined }> = [];
  const samples = new Set<string>();
  for await (const obj of store.list(`${layout.migration}/`)) {
    const sample = layout.sampleOf(obj.key);
    if (sample !== undefined) samples.add(sample);
    const parsed = parseOutputKey(layout, obj.key);
    if (parsed) outputs.push({ ...parsed, key: obj.key, bytes: obj.size });
    const merge = parsed ? undefined : parseMergeKey(layout, obj.key);
    if (merge) merged.push({ ...merge, key: obj.key, bytes: obj.size, modifiedAt: obj.modifiedAt });
  }

  // Every lane's control folders: the full migration's three stages, and each sample's load.
  const lanes: Array<{ layout: Layout; stages: readonly Stage[] }> = [
    { layout, stages: STAGES },
    ...[...samples].sort().map((id) => ({ layout: layout.sampled(id), stages: ['load'] as const })),
  ];
  const unreadable: string[] = [];
  /** Chunks whose control objects (in any lane) could not be read. */
  const unsure = new Set<string>();
  const read = async <T>(kind: ControlKind, schema: Parameters<typeof readControl>[2], each: (value: T, lane: Layout, stage: Stage, chunk: string, writtenAt: number | undefined) => void): Promise<void> => {
    for (const lane of lanes) {
      for (const stage of lane.stages) {
        const prefix = kind === 'claims' ? lane.layout.claims(stage) : kind === 'checkpoints' ? lane.layout.checkpoints(stage) : lane.layout.manifests(stage);
        const keys: Array<{ key: string; chunk: string }> = [];
        for await (const obj of store.list(prefix)) {
          const chunk = lane.layout.chunkOf(kind, stage, obj.key);
          if (chunk) keys.push({ key: obj.key, chunk });
        }
        await Promise.all(keys.map(({ key, chunk }) => limit(async () => {
          try {
            const got = await readControl(store, key, schema);
            if (got) each(got.value as T, lane.layout, stage, chunk, got.info.modifiedAt);
          } catch (err) {
            if ((err as { code?: string }).code !== 'E_CORRUPT_CONTROL') throw err;
            unreadable.push(key);
            unsure.add(chunk);
          }
        })));
      }
    }
  };

  const heldAttempts = new Set<string>();
  const named = new Set<string>();
  // A claim is judged on the store's clock, as the workers judge it; past its lease and the allowance, its holder cannot commit.
  const judge = { storeNow: await store.now(), allowanceMs: LEASE_ALLOWANCE_MS };
  await read<Claim>('claims', Claim, (claim, _lane, _stage, _chunk, writtenAt) => {
    if (!claimExpired(claim, writtenAt, judge)) heldAttempts.add(claim.attempt);
  });
  await read<Checkpoint>('checkpoints', Checkpoint, (cp) => {
    // A load resumes from its checkpoint, possibly under a new attempt: what it wrote so far stays.
    heldAttempts.add(cp.attempt);
    named.add(cp.input.key);
    for (const o of cp.outputs) named.add(o.key);
  });
  await read<Manifest>('manifests', Manifest, (m) => {
    for (const o of m.outputs) named.add(o.key);
    for (const i of m.inputs) named.add(i.key);
  });

  // The merge names what it reads next in a group's index and a shard's record, read after the
  // objects were listed: a merge object written before is either named there or superseded.
  const records = new Map<string, { named: Set<string>; modifiedAt: number | undefined } | 'unreadable' | 'absent'>();
  await Promise.all([...new Set(merged.map((o) => `${o.kind}\t${o.of}`))].map((id) => limit(async () => {
    const [kind, of] = id.split('\t') as [MergeObjectKey['kind'], string];
    const key = kind === 'merge-part' ? layout.mergePartIndex(of) : layout.mergeShard(of);
    try {
      const got = kind === 'merge-part' ? await readControl(store, key, MergePart) : await readControl(store, key, MergeShard);
      if (!got) { records.set(id, 'absent'); return; }
      const objects = 'parts' in got.value ? got.value.parts : got.value.outputs;
      records.set(id, { named: new Set(Object.values(objects).map((o) => o.key)), modifiedAt: got.info.modifiedAt });
    } catch (err) {
      if ((err as { code?: string }).code !== 'E_CORRUPT_CONTROL') throw err;
      records.set(id, 'unreadable');
      unreadable.push(key);
    }
  })));

  const scan: OrphanScan = { migration: layout.migration, orphans: [], bytes: 0, kept: { named: 0, held: 0, young: 0, unsure: 0 }, unreadable: unreadable.sort() };
  const old = (at: number | undefined) => at !== undefined && judge.storeNow - at >= options.minAgeMs;
  for (const { modifiedAt, ...o } of merged) {
    const record = records.get(`${o.kind}\t${o.of}`);
    if (record === 'unreadable') scan.kept.unsure += 1;
    else if (record !== 'absent' && record?.named.has(o.key)) scan.kept.named += 1;
    // A merge still running writes its objects before the record that names them; one that read the
    // record before it was replaced may still be reading what it named then.
    else if (!old(modifiedAt) || (record !== 'absent' && !old(record?.modifiedAt))) scan.kept.young += 1;
    else {
      scan.orphans.push(o);
      scan.bytes += o.bytes;
    }
  }
  for (const o of outputs) {
    if (named.has(o.key)) scan.kept.named += 1;
    else if (heldAttempts.has(o.attempt)) scan.kept.held += 1;
    else if (unsure.has(o.chunk)) scan.kept.unsure += 1;
    else if (now - o.startedAt < options.minAgeMs) scan.kept.young += 1;
    else {
      scan.orphans.push(o);
      scan.bytes += o.bytes;
    }
  }
  scan.orphans.sort((a, b) => (a.key < b.key ? -1 : 1));
  return scan;
}

/** Deletes what `findOrphans` found; returns how many objects and bytes went. */
export async function deleteOrphans(store: Store, orphans: readonly Orphan[], concurrency = 16): Promise<{ deleted: number; bytes: number }> {
  const limit = pLimit(concurrency);
  await Promise.all(orphans.map((o) => limit(() => store.delete(o.key))));
  return { deleted: orphans.length, bytes: orphans.reduce((a, o) => a + o.bytes, 0) };
}
