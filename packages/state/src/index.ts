import { hasCode } from '@hogport/common';
import type { Layout, Stage } from '@hogport/layout';
import { Claim, Failure, Manifest, readControl } from '@hogport/manifest';
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
  /** Why a chunk is stale, in words. */
  reason?: string;
  /** Whether its input (upstream output) or its configuration changed. */
  staleBy?: 'input' | 'config';
}

/** Allowance for clocks that disagree between machines when judging whether a lease has expired. */
export const CLOCK_SKEW_MS = 30_000;

export function claimExpired(claim: Claim, now: number = Date.now(), skewMs: number = CLOCK_SKEW_MS): boolean {
  return Date.parse(claim.expiresAt) + skewMs < now;
}

/** Reads a chunk's manifest, failure and claim for a stage and decides its status. */
export async function inspectChunk(
  store: Store, layout: Layout, stage: Stage, chunk: string, expected: Expectation | undefined,
): Promise<ChunkState> {
  const [manifest, failure, claim] = await Promise.all([
    readControl(store, layout.manifest(stage, chunk), Manifest),
    readControl(store, layout.failure(stage, chunk), Failure).catch(ignoreCorrupt),
    readControl(store, layout.claim(stage, chunk), Claim).catch(ignoreCorrupt),
  ]);
  const base: ChunkState = { stage, chunk, status: 'pending' };
  if (manifest) base.manifest = manifest;
  const current = failure && !(manifest && failureSuperseded(failure.value, manifest.value)) ? failure.value : undefined;
  if (current) base.failure = current;
  else if (failure) base.supersededFailure = failure.value;
  if (claim) base.claim = claim.value;

  const live = claim && !claimExpired(claim.value);
  if (current && !live) return { ...base, status: 'failed' };
  if (manifest) {
    const stale = staleReason(manifest.value, expected);
    if (stale) return { ...base, status: live ? 'running' : 'stale', ...stale };
    return { ...base, status: 'done' };
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
    const reason = manifest.stage === 'extract' ? 'the source data changed since it was extracted' : `its ${manifest.stage === 'load' ? 'events' : 'raw data'} changed since it was processed`;
    return { reason, staleBy: 'input' };
  }
  if (manifest.configHash !== expected.configHash) {
    return { reason: manifest.stage === 'load' ? 'it was loaded to another destination' : 'the pipeline configuration changed since it was processed', staleBy: 'config' };
  }
  return undefined;
}

/** A broken claim or failure record must not block work: treat it as absent (the manifest is what counts). */
function ignoreCorrupt(err: unknown): undefined {
  if (hasCode(err, 'E_CORRUPT_CONTROL')) return undefined;
  throw err;
}

/** Chunk ids that have a manifest, claim or failure for a stage: what a listing shows exists. */
export async function listedChunks(store: Store, layout: Layout, stage: Stage): Promise<Set<string>> {
  const out = new Set<string>();
  for (const kind of ['manifests', 'claims', 'failures'] as const) {
    const prefix = kind === 'manifests' ? layout.manifests(stage) : kind === 'claims' ? layout.claims(stage) : layout.failures(stage);
    for await (const obj of store.list(prefix)) {
      const id = layout.chunkOf(kind, stage, obj.key);
      if (id) out.add(id);
    }
  }
  return out;
}
