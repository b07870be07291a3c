import { describeError, HogportError, hasCode } from '@hogport/common';
import type { Layout, Stage } from '@hogport/layout';
import { Claim, encodeControl, Failure, Manifest, readControl, Unreadable } from '@hogport/manifest';
import type { ObjectInfo, Store } from '@hogport/store';

/**
 * Where a chunk stands in a stage, derived from the store alone:
 * - done: a manifest commits it and its inputs and config are unchanged;
 * - stale: a manifest commits it, but its upstream output or the config changed since;
 * - failed: the latest attempt failed (its error is in the failure record);
 * - running: another worker holds an unexpired claim on it;
 * - pending: ready to be worked on;
 * - waiting: the stage it reads from has not completed it yet.
 */
export type ChunkStatus = 'done' | 'stale' | 'failed' | 'running' | 'pending' | 'waiting';

/** What a stage expects a chunk's manifest to record, computed from upstream; undefined when upstream is not done. */
export interface Expectation {
  inputDigest: string;
  configHash: string;
}

export interface ChunkState {
  stage: Stage;
  chunk: string;
  status: ChunkStatus;
  manifest?: { value: Manifest; info: ObjectInfo };
  failure?: Failure;
  /**
   * A failure record that the manifest supersedes (see `failureSuperseded`): not the chunk's state,
   * only garbage for the next run to remove.
   */
  supersededFailure?: Failure;
  claim?: Claim;
  /** When the store recorded the claim's last write, by its clock. */
  claimWrittenAt?: number;
  /**
   * A claim on a done chunk that no worker holds: the committing attempt's own (its process died
   * between the commit and the claim's removal), or one whose lease has expired. Not the chunk's
   * state, only garbage for the next run to remove.
   */
  leftoverClaim?: Claim;
  /** Why a chunk is stale, in words. */
  reason?: string;
  /** Whether its input (upstream output) or its configuration changed. */
  staleBy?: 'input' | 'config';
}

/**
 * Allowance for clocks that disagree between machines, where times one machine wrote are still
 * read against another's: a rate-share registration of an older hogport is deleted only this long
 * after it ended. Leases are judged on the store's clock (see claimExpired).
 */
export const CLOCK_SKEW_MS = 30_000;

/**
 * How long past its lease a claim stands before it counts as abandoned (`--lease-allowance-seconds`):
 * room for a renewal held up by a slow store, and for claims whose times come from their writer's clock.
 */
export const LEASE_ALLOWANCE_MS = 30_000;

/** What a claim is judged by: the store's time now (by the store's clock) and the allowance past a lease. */
export interface LeaseJudge {
  storeNow: number;
  allowanceMs: number;
}

/**
 * Whether a claim's holder is taken to have given it up: the store's time now is past the time
 * the store recorded for the claim's last write + its lease + the allowance. No machine's clock
 * enters, so a worker whose clock is off neither takes live claims nor keeps dead ones.
 *
 * A claim written before hogport recorded the lease in it (no `leaseMs`), or read from a store
 * that cannot tell write times, is judged by its `expiresAt` taken as a time on the store's clock:
 * the judging machine's skew is out of it; the writer's is what the allowance covers.
 */
export function claimExpired(claim: Claim, writtenAt: number | undefined, judge: LeaseJudge): boolean {
  const deadline = claim.leaseMs !== undefined && writtenAt !== undefined ? writtenAt + claim.leaseMs : Date.parse(claim.expiresAt);
  return deadline + judge.allowanceMs < judge.storeNow;
}

/**
 * How far the clock of a claim's writer was ahead of the store's (negative: behind) when it wrote
 * the claim: the time it wrote in the claim against the time the store recorded. Within a second
 * or so on stores that keep times to the second.
 */
export function claimWriterSkewMs(claim: Claim, writtenAt: number | undefined): number | undefined {
  if (claim.leaseMs === undefined || writtenAt === undefined) return undefined;
  return Date.parse(claim.expiresAt) - claim.leaseMs - writtenAt;
}

/**
 * A machine's clock this far from the store's is worth a warning: leases no longer depend on it,
 * but the times hogport records (manifests, failures) and the PostHog requests it signs do.
 */
export const CLOCK_SKEW_WARN_MS = 5_000;

/** "60 s ahead of", "2.5 s behind": a skew in words. */
export function skewWords(skewMs: number): string {
  const s = Math.abs(skewMs) / 1000;
  return `${s >= 10 ? Math.round(s) : Math.round(s * 10) / 10} s ${skewMs >= 0 ? 'ahead of' : 'behind'}`;
}

/** Judges by this machine's clock: for callers that have not read the store's. */
function localJudge(): LeaseJudge {
  return { storeNow: Date.now(), allowanceMs: LEASE_ALLOWANCE_MS };
}

/** Reads a chunk's manifest, failure and claim for a stage and decides its status. */
export async function inspectChunk(
  store: Store, layout: Layout, stage: Stage, chunk: string, expected: Expectation | undefined, judge?: LeaseJudge,
): Promise<ChunkState> {
  const [manifest, failure, claim, unreadable] = await Promise.all([
    readControl(store, layout.manifest(stage, chunk), Manifest),
    readControl(store, layout.failure(stage, chunk), Failure).catch(ignoreCorrupt),
    readControl(store, layout.claim(stage, chunk), Claim).catch(ignoreCorrupt),
    stage === 'extract' ? readControl(store, layout.unreadable(chunk), Unreadable).catch(ignoreCorrupt) : undefined,
  ]);
  return chunkState(stage, chunk, {
    ...(manifest ? { manifest } : {}), ...(failure ? { failure: failure.value } : {}),
    ...(claim ? { claim: claim.value, ...claimTime(claim.info) } : {}), ...(unreadable ? { unreadable: unreadable.value } : {}),
  }, expected, judge);
}

/** The store's time of a claim's write, as `ChunkObjects` carries it. */
export function claimTime(info: ObjectInfo | undefined): { claimWrittenAt?: number } {
  return info?.modifiedAt !== undefined ? { claimWrittenAt: info.modifiedAt } : {};
}

/** The control objects of one chunk in one stage, as read from the store. */
export interface ChunkObjects {
  manifest?: { value: Manifest; info: ObjectInfo };
  failure?: Failure;
  claim?: Claim;
  /** When the store recorded the claim's last write, by its clock (`ObjectInfo.modifiedAt`). */
  claimWrittenAt?: number;
  unreadable?: Unreadable;
}

/** Decides a chunk's status from its control objects: the one rule `inspectChunk` and snapshots share. */
export function chunkState(stage: Stage, chunk: string, objects: ChunkObjects, expected: Expectation | undefined, judge: LeaseJudge = localJudge()): ChunkState {
  const { manifest, failure, claim, claimWrittenAt, unreadable } = objects;
  const base: ChunkState = { stage, chunk, status: 'pending' };
  if (manifest) base.manifest = manifest;
  const current = failure && !(manifest && failureSuperseded(failure, manifest.value)) ? failure : undefined;
  if (current) base.failure = current;
  else if (failure) base.supersededFailure = failure;
  if (claim) base.claim = claim;
  if (claim && claimWrittenAt !== undefined) base.claimWrittenAt = claimWrittenAt;

  const live = claim && !claimExpired(claim, claimWrittenAt, judge);
  if (current && !live) return { ...base, status: 'failed' };
  if (manifest) {
    const stale = staleReason(manifest.value, expected) ?? refetchReason(manifest.value, unreadable);
    if (stale) return { ...base, status: live ? 'running' : 'stale', ...stale };
    const leftover = claim && (claim.attempt === manifest.value.attempt || !live) ? { leftoverClaim: claim } : {};
    return { ...base, status: 'done', ...leftover };
  }
  if (live) return { ...base, status: 'running' };
  if (!expected) return { ...base, status: 'waiting' };
  return base;
}

/**
 * Whether a chunk's manifest makes its failure record obsolete: the failed attempt is the one the
 * manifest commits (its commit landed, but its answer was lost and the attempt counted itself as
 * failed), or the failure is older than the commit (a later attempt committed, and removing the
 * failure record did not get through).
 */
export function failureSuperseded(failure: Failure, manifest: Manifest): boolean {
  return failure.attempt === manifest.attempt || Date.parse(failure.at) <= Date.parse(manifest.finishedAt);
}

function staleReason(manifest: Manifest, expected: Expectation | undefined): { reason: string; staleBy: 'input' | 'config' } | undefined {
  if (!expected) return undefined;
  if (manifest.inputDigest !== expected.inputDigest) {
    const reason = manifest.stage === 'extract' ? 'the source data changed since it was extracted'
      : manifest.stage === 'load' ? 'its events changed since it was loaded: the next load sends only those it did not load'
        : 'its raw data changed since it was processed';
    return { reason, staleBy: 'input' };
  }
  if (manifest.configHash !== expected.configHash) {
    return { reason: manifest.stage === 'load' ? 'it was loaded to another destination' : 'the pipeline configuration changed since it was processed', staleBy: 'config' };
  }
  return undefined;
}

/** Times a chunk's raw data is fetched again after transform found it unreadable, before it stays failed. */
export const REFETCH_LIMIT = 3;

/** Codes of raw data that cannot be read as stored: fetching it again is the remedy. */
const UNREADABLE = new Set(['Z_BUF_ERROR', 'Z_DATA_ERROR', 'E_ZIP_CORRUPT', 'E_RAW_UNREADABLE', 'E_RAW_CORRUPT']);

export function isUnreadableRaw(err: unknown): boolean {
  return UNREADABLE.has(describeError(err).code);
}

function refetchReason(manifest: Manifest, unreadable: Unreadable | undefined): { reason: string; staleBy: 'input' } | undefined {
  if (!unreadable || unreadable.attempt !== manifest.attempt || unreadable.found > REFETCH_LIMIT) return undefined;
  return { reason: `transform could not read its raw data (${unreadable.error.code}): it is fetched again (${unreadable.found} of ${REFETCH_LIMIT})`, staleBy: 'input' };
}

/**
 * Records that transform could not read the raw data of a chunk's extract attempt, so that attempt is
 * stale and the next extract fetches it again, up to REFETCH_LIMIT times; returns the error to fail
 * the transform with, saying which of the two happens.
 */
export async function markUnreadable(store: Store, layout: Layout, chunk: string, extractAttempt: string, err: unknown): Promise<HogportError> {
  const error = describeError(err);
  const key = layout.unreadable(chunk);
  const before = await readControl(store, key, Unreadable).catch(() => undefined);
  // The same extract attempt found unreadable twice (a transform re-run) counts once.
  const found = before?.value.attempt === extractAttempt ? before.value.found : (before?.value.found ?? 0) + 1;
  const record: Unreadable = { kind: 'hogport.unreadable', version: 1, stage: 'extract', chunk, attempt: extractAttempt, found, at: new Date().toISOString(), error };
  await store.write(key, encodeControl(Unreadable, record));
  const next = found <= REFETCH_LIMIT
    ? `the next run or extract fetches chunk ${chunk} again (${found} of ${REFETCH_LIMIT}), without --force`
    : `chunk ${chunk} was fetched ${REFETCH_LIMIT} times more and is still unreadable: the source serves it damaged; check it at the source, then "extract --force --chunks ${chunk}" fetches it once more`;
  return new HogportError(error.code, `${error.message}; ${next}`, { cause: err });
}

/** A broken claim or failure record must not block work: treat it as absent (the manifest is what counts). */
export function ignoreCorrupt(err: unknown): undefined {
  if (hasCode(err, 'E_CORRUPT_CONTROL')) return undefined;
  throw err;
}

/** The chunk ids a listing of one stage's control objects shows, by kind: a few requests whatever the number of chunks. */
export interface StageListing {
  manifests: Set<string>;
  claims: Set<string>;
  failures: Set<string>;
}

export async function stageListing(store: Store, layout: Layout, stage: Stage): Promise<StageListing> {
  const out: StageListing = { manifests: new Set(), claims: new Set(), failures: new Set() };
  for (const kind of ['manifests', 'claims', 'failures'] as const) {
    const prefix = kind === 'manifests' ? layout.manifests(stage) : kind === 'claims' ? layout.claims(stage) : layout.failures(stage);
    for await (const obj of store.list(prefix)) {
      const id = layout.chunkOf(kind, stage, obj.key);
      if (id) out[kind].add(id);
    }
  }
  return out;
}

/** Chunk ids that have a manifest, claim or failure for a stage: what a listing shows exists. */
export async function listedChunks(store: Store, layout: Layout, stage: Stage): Promise<Set<string>> {
  const { manifests, claims, failures } = await stageListing(store, layout, stage);
  return new Set([...manifests, ...claims, ...failures]);
}

export { keptOutText, MigrationSnapshot, takeSnapshot, type SnapshotOptions, type SnapshotJSON, type ChunkView } from './snapshot.js';
export { findOrphans, deleteOrphans, parseOutputKey, parseMergeKey, type Orphan, type StageOrphan, type MergeOrphan, type MergeObjectKey, type OrphanScan, type OrphanOptions, type OutputKey, type OutputKind } from './gc.js';
