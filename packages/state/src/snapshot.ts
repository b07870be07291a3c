import { isDerivedChunk, STAGES, upstreamOf, type ControlKind, type Layout, type Stage } from '@hogport/layout';
import { Checkpoint, Claim, Failure, Manifest, readControl, Unreadable } from '@hogport/manifest';
import type { ObjectInfo, Store } from '@hogport/store';
import pLimit from 'p-limit';
import {
  chunkState, claimTime, claimWriterSkewMs, CLOCK_SKEW_WARN_MS, ignoreCorrupt, LEASE_ALLOWANCE_MS, skewWords,
  type ChunkObjects, type ChunkState, type ChunkStatus, type Expectation, type LeaseJudge,
} from './index.js';

export interface SnapshotOptions {
  store: Store;
  layout: Layout;
  /** Chunk ids the plan has, so chunks nothing was written for yet show as pending or waiting. */
  planned: readonly string[];
  /** The stages to read (default: all three); a stage's expectations need the one before it. */
  stages?: readonly Stage[];
  /** What a stage expects of a chunk's manifest, from the upstream stage's manifest (a job's `expectFrom`). */
  expect(stage: Stage, chunk: string, upstream: Manifest | undefined): Expectation | undefined;
  /** Whether loads go to the dry-run outbox: then "loaded" means written there, not sent. */
  dryRun?: boolean;
  /** GETs at once. */
  concurrency?: number;
  /**
   * The store's time now, by its clock, which claims are judged on; read from the store (one
   * request, only when there are claims) when absent.
   */
  now?: number;
  /** How long past its lease a claim stands (LEASE_ALLOWANCE_MS by default). */
  leaseAllowanceMs?: number;
}

/** A chunk's state in one stage as `status --json` shows it. */
export interface ChunkView {
  status: ChunkStatus;
  counts?: { in: number; out: number; rejected: number; dropped: number };
  attempt?: string;
  finishedAt?: string;
  error?: { code: string; message: string };
  reason?: string;
  worker?: string;
  /** How far the running chunk's holder's clock was ahead of the store's (negative: behind) when it last renewed. */
  workerSkewMs?: number;
  /** Load only: events acknowledged by an unfinished attempt, which the next one skips. */
  acknowledged?: number;
  /** A done chunk's claim no worker holds (left by a process that died after committing): the next run removes it. */
  leftoverClaim?: { worker: string; attempt: string };
  /**
   * Load only, for a chunk loaded again after its events changed (a re-extract, late events): how
   * its events compared with what it had loaded (see the manifest's `delta`), and of the events
   * whose content changed, how many were kept out (`--resend-changed` sends them).
   */
  delta?: NonNullable<Manifest['delta']> & { keptOut: number };
}

export interface SnapshotJSON {
  migration: string;
  store: string;
  takenAt: string;
  /** Whether the destination is the dry-run outbox: then a loaded chunk was written there, not sent. */
  dryRun: boolean;
  stages: Stage[];
  chunks: Array<{ chunk: string } & Partial<Record<Stage, ChunkView>>>;
  totals: Partial<Record<Stage, Record<ChunkStatus, number>>>;
  /** Requests the snapshot took: listings, and reads of the objects they showed. */
  requests: { lists: number; reads: number };
}

const DERIVED_REASON = 'derived from the whole migration by the merge step; nothing to extract';

/**
 * One migration's state, read at one moment from listings of the store: each stage's manifests,
 * claims, failures and checkpoints, and only then the objects those listings show. A chunk
 * costs one read per stage it has a manifest in, whatever its state, instead of a read per
 * kind of object per stage; the expectations come from the upstream manifests already read.
 *
 * Status, verify, the report and the runner's skip decisions read this one view.
 */
export class MigrationSnapshot {
  readonly migration: string;
  readonly store: string;
  readonly takenAt: string;
  readonly dryRun: boolean;
  readonly stages: readonly Stage[];
  /** Every chunk the plan or the store knows, sorted. */
  readonly chunks: readonly string[];
  readonly requests: { lists: number; reads: number };
  private readonly states: Map<Stage, Map<string, ChunkState>>;
  private readonly checkpoints: Map<Stage, Map<string, Checkpoint>>;
  private readonly manifests: Map<Stage, Map<string, { value: Manifest; info: ObjectInfo }>>;

  constructor(init: {
    migration: string; store: string; takenAt: string; dryRun: boolean; stages: readonly Stage[]; chunks: readonly string[];
    states: Map<Stage, Map<string, ChunkState>>; checkpoints: Map<Stage, Map<string, Checkpoint>>;
    manifests: Map<Stage, Map<string, { value: Manifest; info: ObjectInfo }>>; requests: { lists: number; reads: number };
  }) {
    this.migration = init.migration;
    this.store = init.store;
    this.takenAt = init.takenAt;
    this.dryRun = init.dryRun;
    this.stages = init.stages;
    this.chunks = init.chunks;
    this.states = init.states;
    this.checkpoints = init.checkpoints;
    this.manifests = init.manifests;
    this.requests = init.requests;
  }

  /** A chunk's state in a stage; a chunk the snapshot does not know is pending or waiting. */
  state(stage: Stage, chunk: string): ChunkState {
    const s = this.states.get(stage)?.get(chunk);
    if (!s) throw new Error(`the snapshot did not read stage ${stage} of chunk ${chunk}`);
    return s;
  }

  /** Whether the snapshot has the chunk in that stage. */
  has(stage: Stage, chunk: string): boolean {
    return this.states.get(stage)?.has(chunk) ?? false;
  }

  /** A chunk's manifest in a stage read, shown or read for the stage after it. */
  manifest(stage: Stage, chunk: string): Manifest | undefined {
    return this.manifests.get(stage)?.get(chunk)?.value;
  }

  /** Progress of an unfinished chunk in a stage (load keeps one), when its listing showed one. */
  checkpoint(stage: Stage, chunk: string): Checkpoint | undefined {
    return this.checkpoints.get(stage)?.get(chunk);
  }

  /** Chunks per status in each stage read. */
  totals(): Partial<Record<Stage, Record<ChunkStatus, number>>> {
    const out: Partial<Record<Stage, Record<ChunkStatus, number>>> = {};
    for (const stage of this.stages) {
      const t: Record<ChunkStatus, number> = { done: 0, stale: 0, failed: 0, running: 0, pending: 0, waiting: 0 };
      for (const chunk of this.chunks) t[this.state(stage, chunk).status] += 1;
      out[stage] = t;
    }
    return out;
  }

  /** The shape `hogport status --json` prints. */
  toJSON(): SnapshotJSON {
    return {
      migration: this.migration, store: this.store, takenAt: this.takenAt, dryRun: this.dryRun, stages: [...this.stages],
      chunks: this.chunks.map((chunk) => {
        const row: { chunk: string } & Partial<Record<Stage, ChunkView>> = { chunk };
        for (const stage of this.stages) row[stage] = this.view(stage, chunk);
        return row;
      }),
      totals: this.totals(),
      requests: { ...this.requests },
    };
  }

  private view(stage: Stage, chunk: string): ChunkView {
    const s = this.state(stage, chunk);
    const v: ChunkView = { status: s.status };
    if (s.manifest) {
      const m = s.manifest.value;
      v.counts = { in: m.counts.in, out: m.counts.out, rejected: m.counts.rejected, dropped: m.counts.dropped };
      v.attempt = m.attempt;
      v.finishedAt = m.finishedAt;
      if (m.delta) v.delta = { ...m.delta, keptOut: m.delta.changed - m.delta.changedResent };
    }
    if (s.status === 'failed' && s.failure) v.error = s.failure.error;
    if (s.reason) v.reason = s.reason;
    if (s.status === 'running' && s.claim) {
      v.worker = s.claim.worker;
      const skew = claimWriterSkewMs(s.claim, s.claimWrittenAt);
      if (skew !== undefined) v.workerSkewMs = Math.round(skew);
    }
    if (s.leftoverClaim) v.leftoverClaim = { worker: s.leftoverClaim.worker, attempt: s.leftoverClaim.attempt };
    const cp = s.status !== 'done' ? this.checkpoint(stage, chunk) : undefined;
    if (cp) v.acknowledged = cp.counts.in;
    return v;
  }

  /**
   * What `hogport status` prints: a table of chunks per state and stage, then each chunk that needs
   * a look. `definition` is the pipeline file as the user named it, for the commands it suggests.
   */
  toText(definition?: string): string {
    const json = this.toJSON();
    const lines: string[] = [`migration ${this.migration} in ${this.store}`, ''];
    const cols: ChunkStatus[] = ['done', 'stale', 'failed', 'running', 'pending', 'waiting'];
    lines.push(['stage'.padEnd(10), ...cols.map((c) => c.padStart(8)), '   records in/out/rejected/dropped'].join(''));
    for (const stage of this.stages) {
      const sums = { in: 0, out: 0, rejected: 0, dropped: 0 };
      for (const row of json.chunks) {
        const v = row[stage]!;
        if (v.counts && v.status === 'done') { sums.in += v.counts.in; sums.out += v.counts.out; sums.rejected += v.counts.rejected; sums.dropped += v.counts.dropped; }
      }
      lines.push([stage.padEnd(10), ...cols.map((c) => String(json.totals[stage]![c]).padStart(8)), `   ${sums.in}/${sums.out}/${sums.rejected}/${sums.dropped}`].join(''));
    }
    const problems: string[] = [];
    for (const row of json.chunks) {
      for (const stage of this.stages) {
        const v = row[stage]!;
        if (v.status === 'failed') problems.push(`  ${stage} ${row.chunk}: failed: ${v.error?.code ?? ''} ${v.error?.message ?? ''}`);
        if (v.status === 'stale') problems.push(`  ${stage} ${row.chunk}: stale: ${v.reason ?? ''}`);
        if (v.status === 'running') {
          const skewed = v.workerSkewMs !== undefined && Math.abs(v.workerSkewMs) > CLOCK_SKEW_WARN_MS
            ? ` (its clock is ${skewWords(v.workerSkewMs)} the store's: sync it with NTP)` : '';
          problems.push(`  ${stage} ${row.chunk}: running on ${v.worker ?? '?'}${skewed}`);
        }
        if (v.acknowledged) problems.push(`  ${stage} ${row.chunk}: ${v.acknowledged} events acknowledged so far; the next attempt resumes after them`);
        if (v.leftoverClaim) problems.push(`  ${stage} ${row.chunk}: done, with a claim left by ${v.leftoverClaim.worker} after its commit; the next run removes it`);
        if (v.delta?.keptOut) problems.push(`  ${stage} ${row.chunk}: ${keptOutText(v.delta, definition, row.chunk)}`);
      }
    }
    if (problems.length > 0) lines.push('', ...problems);
    lines.push('');
    const total = this.chunks.length;
    const summary = this.stages.map((s) => `${s} ${json.totals[s]!.done}/${total} done${json.totals[s]!.failed ? ` (${json.totals[s]!.failed} failed)` : ''}`).join(', ');
    const complete = this.stages.length === STAGES.length && this.stages.every((s) => json.totals[s]!.done === total);
    const end = this.dryRun ? ' — dry run complete: the events are in the outbox, nothing was sent' : ' — migration complete';
    lines.push(`${total} chunks: ${summary}${complete ? end : ''}`);
    return lines.join('\n');
  }
}

/** The store's time now; this machine's when the store cannot tell it (claims are then judged as before). */
async function storeTime(store: Store): Promise<number> {
  return store.now().catch(() => Date.now());
}

/**
 * Events of a loaded chunk whose content changed since, kept out of PostHog, in words: what
 * re-sending them does, and the commands that list and send them.
 */
export function keptOutText(delta: NonNullable<Manifest['delta']>, definition = '<definition>', chunk = '<chunk>'): string {
  const kept = delta.changed - delta.changedResent;
  const twice = Math.min(delta.changedKey, kept);
  return `${kept} event(s) changed since they were loaded (same uuid, other content) and were kept out; `
    + `hogport inspect ${definition} ${chunk} --changed lists them, hogport load ${definition} --resend-changed sends them`
    + (twice > 0 ? ` (${twice} with another name, distinct_id or day: PostHog would then keep both versions)` : ' (PostHog replaces the version it has)');
}

/** Lists each stage's control objects, reads what the listings show, and decides every chunk's state. */
export async function takeSnapshot(options: SnapshotOptions): Promise<MigrationSnapshot> {
  const { store, layout } = options;
  const stages = options.stages ? STAGES.filter((s) => options.stages!.includes(s)) : [...STAGES];
  const limit = pLimit(options.concurrency ?? 16);
  const requests = { lists: 0, reads: 0 };
  const takenAt = new Date(options.now ?? Date.now()).toISOString();

  const list = async (kind: ControlKind, stage: Stage, prefix: string): Promise<Map<string, ObjectInfo>> => {
    requests.lists += 1;
    const out = new Map<string, ObjectInfo>();
    for await (const obj of store.list(prefix)) {
      const id = layout.chunkOf(kind, stage, obj.key);
      if (id) out.set(id, obj);
    }
    return out;
  };
  // An expectation needs the stage before: read it too, without showing it.
  const read = new Set<Stage>(stages);
  for (const s of stages) { const up = upstreamOf(s); if (up) read.add(up); }
  const listings = new Map<Stage, { manifests: Map<string, ObjectInfo>; claims: Map<string, ObjectInfo>; failures: Map<string, ObjectInfo>; checkpoints: Map<string, ObjectInfo>; unreadable: Map<string, ObjectInfo> }>();
  await Promise.all([...read].map(async (stage) => {
    const [manifests, claims, failures, checkpoints, unreadable] = await Promise.all([
      list('manifests', stage, layout.manifests(stage)),
      stages.includes(stage) ? list('claims', stage, layout.claims(stage)) : new Map<string, ObjectInfo>(),
      stages.includes(stage) ? list('failures', stage, layout.failures(stage)) : new Map<string, ObjectInfo>(),
      stages.includes(stage) ? list('checkpoints', stage, layout.checkpoints(stage)) : new Map<string, ObjectInfo>(),
      stage === 'extract' && stages.includes(stage) ? list('unreadable', stage, layout.unreadables()) : new Map<string, ObjectInfo>(),
    ]);
    listings.set(stage, { manifests, claims, failures, checkpoints, unreadable });
  }));

  const ids = new Set(options.planned);
  for (const stage of stages) {
    const l = listings.get(stage)!;
    for (const m of [l.manifests, l.claims, l.failures]) for (const id of m.keys()) ids.add(id);
  }
  const chunks = [...ids].sort();
  const judge: LeaseJudge = {
    storeNow: options.now ?? ([...listings.values()].some((l) => l.claims.size > 0) ? await storeTime(store) : Date.now()),
    allowanceMs: options.leaseAllowanceMs ?? LEASE_ALLOWANCE_MS,
  };

  const get = <T>(fn: () => Promise<T>) => limit(async () => { requests.reads += 1; return fn(); });
  // Manifests of every chunk the snapshot shows, in each stage read (an object deleted since it was
  // listed reads as absent); claims, failures and checkpoints only where a listing showed one.
  const manifests = new Map<Stage, Map<string, { value: Manifest; info: ObjectInfo }>>();
  await Promise.all([...read].map(async (stage) => {
    const listed = listings.get(stage)!.manifests;
    const got = new Map<string, { value: Manifest; info: ObjectInfo }>();
    await Promise.all(chunks.filter((c) => listed.has(c)).map((chunk) => get(async () => {
      const m = await readControl(store, layout.manifest(stage, chunk), Manifest);
      if (m) got.set(chunk, m);
    })));
    manifests.set(stage, got);
  }));

  const states = new Map<Stage, Map<string, ChunkState>>();
  const checkpoints = new Map<Stage, Map<string, Checkpoint>>();
  await Promise.all(stages.map(async (stage) => {
    const l = listings.get(stage)!;
    const up = upstreamOf(stage);
    const byChunk = new Map<string, ChunkState>();
    const cps = new Map<string, Checkpoint>();
    await Promise.all(chunks.map(async (chunk) => {
      const [failure, claim, unreadable, checkpoint] = await Promise.all([
        l.failures.has(chunk) ? get(() => readControl(store, layout.failure(stage, chunk), Failure).catch(ignoreCorrupt)) : undefined,
        l.claims.has(chunk) ? get(() => readControl(store, layout.claim(stage, chunk), Claim).catch(ignoreCorrupt)) : undefined,
        l.unreadable.has(chunk) ? get(() => readControl(store, layout.unreadable(chunk), Unreadable).catch(ignoreCorrupt)) : undefined,
        l.checkpoints.has(chunk) ? get(() => readControl(store, layout.checkpoint(stage, chunk), Checkpoint).catch(() => undefined)) : undefined,
      ]);
      const manifest = manifests.get(stage)!.get(chunk);
      const objects: ChunkObjects = {
        ...(manifest ? { manifest } : {}), ...(failure ? { failure: failure.value } : {}),
        ...(claim ? { claim: claim.value, ...claimTime(claim.info) } : {}), ...(unreadable ? { unreadable: unreadable.value } : {}),
      };
      const expected = options.expect(stage, chunk, up ? manifests.get(up)!.get(chunk)?.value : undefined);
      byChunk.set(chunk, stage === 'extract' && isDerivedChunk(chunk) ? { stage, chunk, status: 'done', reason: DERIVED_REASON } : chunkState(stage, chunk, objects, expected, judge));
      if (checkpoint) cps.set(chunk, checkpoint.value);
    }));
    states.set(stage, byChunk);
    checkpoints.set(stage, cps);
  }));
  return new MigrationSnapshot({ migration: layout.migration, store: store.url, takenAt, dryRun: Boolean(options.dryRun), stages, chunks, states, checkpoints, manifests, requests });
}
