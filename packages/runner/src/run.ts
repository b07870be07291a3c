import { describeError, HOGPORT_VERSION, HogportError, sleep, type Logger } from '@hogport/common';
import { newAttemptId, type Layout, type Stage } from '@hogport/layout';
import { Claim, encodeControl, Failure, Manifest, readControl } from '@hogport/manifest';
import { inspectChunk, LEASE_ALLOWANCE_MS, type ChunkState, type MigrationSnapshot } from '@hogport/state';
import type { Store } from '@hogport/store';
import pLimit from 'p-limit';
import type { StageJob } from './job.js';
import { StoreClock } from './clock.js';
import { acquireLease, type Worker } from './lease.js';

export interface RunOptions {
  store: Store;
  layout: Layout;
  worker: Worker;
  /** Chunks worked on at once. */
  concurrency: number;
  leaseMs: number;
  /**
   * How long past its lease another worker's claim stands before it is taken over, on the store's
   * clock (LEASE_ALLOWANCE_MS by default).
   */
  leaseAllowanceMs?: number;
  /** This machine's clock against the store's; the run measures one when absent. */
  clock?: StoreClock;
  /** Redo chunks even when they are done. */
  force?: boolean;
  /**
   * Re-send the events of loaded chunks whose content changed since they were loaded (same uuid,
   * other content). PostHog cannot delete events, so this creates duplicates of every event whose
   * name, distinct_id or day changed: only on explicit request. Without it they are kept out and
   * counted; events a re-extract adds are sent either way, and those already loaded never again.
   */
  resendChanged?: boolean;
  /** Chunks whose changed events may be sent again without asking (derived chunks like persons). */
  mayResend?: (chunk: string) => boolean;
  log: Logger;
  /** How long to wait between looks at chunks other workers hold. */
  pollMs?: number;
  onEvent?: (event: RunEvent) => void;
  /** Stops the run: chunks in progress are abandoned uncommitted. */
  signal?: AbortSignal;
  /**
   * The migration as it stood when the run started: a chunk it shows done is skipped without a
   * read, unless an earlier stage redid the chunk in this run. Any other chunk is looked at afresh.
   */
  snapshot?: MigrationSnapshot;
}

export type RunEvent =
  | { type: 'start'; stage: Stage; chunk: string; attempt: string }
  | { type: 'progress'; stage: Stage; chunk: string; records: number }
  | { type: 'done'; stage: Stage; chunk: string; attempt: string; records: number }
  | { type: 'skipped'; stage: Stage; chunk: string }
  | { type: 'failed'; stage: Stage; chunk: string; error: { code: string; message: string } };

export interface ChunkOutcome {
  chunk: string;
  stage: Stage;
  /** `waiting`: an earlier stage has not done the chunk; `blocked`: something it must follow (its identities) failed. */
  result: 'done' | 'skipped' | 'failed' | 'waiting' | 'blocked' | 'refused' | 'lost';
  error?: { code: string; message: string };
}

export interface RunSummary {
  outcomes: ChunkOutcome[];
  /** Set when a fatal error (like a refused API key) stopped the whole run; `exitCode` is the error's. */
  fatal?: { code: string; message: string; exitCode: number };
}

type Attempt = ChunkOutcome['result'] | 'held';

/**
 * Runs stages over chunks. With one job this is a stage run; with several, each chunk goes through
 * the jobs in order before the next chunk is started (pipelined `run`), so every stage has work as
 * soon as the first chunk is through the one before.
 *
 * A chunk another worker holds is looked at again until it is committed or its lease expires, so a
 * run ends only when every chunk is done, failed in this run, or waiting for an upstream stage.
 */
export async function runChunks(jobs: StageJob[], chunks: readonly string[], given: RunOptions): Promise<RunSummary> {
  // One clock for the run: read from the store once, when a claim is first judged (a run over done
  // chunks costs no request for it), then kept by the run's own claim writes.
  const clock = given.clock ?? new StoreClock(given.store, given.log);
  const options: RunOptions = { ...given, clock };
  const outcomes: ChunkOutcome[] = [];
  // "stage/chunk" of every outcome, so a chunk that comes round again skips what it finished.
  const finished = new Set<string>();
  const record = (outcome: ChunkOutcome) => { outcomes.push(outcome); finished.add(`${outcome.stage}/${outcome.chunk}`); };
  const limit = pLimit(options.concurrency);
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  let fatal: RunSummary['fatal'];

  const runChunk = async (chunk: string): Promise<'held' | 'finished'> => {
    // Once a stage commits the chunk anew, what the snapshot says of the later stages is out of date.
    let redone = false;
    for (const job of jobs) {
      if (signal.aborted) return 'finished';
      if (finished.has(`${job.stage}/${chunk}`)) continue;
      const known = !redone && options.snapshot?.has(job.stage, chunk) ? options.snapshot.state(job.stage, chunk) : undefined;
      const result = await attemptChunk(job, chunk, options, signal, known).catch((err: unknown) => {
        const error = describeError(err);
        if (isFatal(err)) {
          fatal ??= { ...error, exitCode: (err as HogportError).exitCode };
          stop.abort(err);
        }
        return { result: 'failed' as const, error };
      });
      if (result.result === 'held') return 'held';
      if (result.result === 'done') redone = true;
      record({ chunk, stage: job.stage, ...result } as ChunkOutcome);
      if (result.result !== 'done' && result.result !== 'skipped') return 'finished';
    }
    return 'finished';
  };

  let todo = [...chunks];
  while (todo.length > 0 && !signal.aborted) {
    const results = await Promise.all(todo.map((chunk) => limit(() => runChunk(chunk))));
    const held = todo.filter((_, i) => results[i] === 'held');
    if (held.length > 0 && !signal.aborted) {
      options.log.debug({ held: held.length }, 'waiting for chunks other workers hold');
      await sleep(options.pollMs ?? 1000, signal).catch(() => undefined);
    }
    todo = held;
  }
  if (fatal) {
    for (const chunk of chunks) {
      for (const job of jobs) {
        if (!finished.has(`${job.stage}/${chunk}`)) record({ chunk, stage: job.stage, result: 'waiting' });
      }
    }
  }
  return fatal ? { outcomes, fatal } : { outcomes };
}

async function attemptChunk(job: StageJob, chunk: string, options: RunOptions, signal: AbortSignal, known?: ChunkState): Promise<{ result: Attempt; error?: { code: string; message: string } }> {
  const { store, layout, log } = options;
  const stage = job.stage;
  const resend = resendsChanged(options, chunk);
  if (known?.status === 'done' && !known.supersededFailure && !options.force && !(resend && heldChanged(known))) {
    if (known.leftoverClaim) await removeLeftoverClaim(store, layout.claim(stage, chunk), known.leftoverClaim, log);
    options.onEvent?.({ type: 'skipped', stage, chunk });
    return { result: 'skipped' };
  }
  const expected = await job.expect(chunk);
  const allowanceMs = options.leaseAllowanceMs ?? LEASE_ALLOWANCE_MS;
  const clock = options.clock ?? new StoreClock(store, log);
  const before = await inspectChunk(store, layout, stage, chunk, expected, await clock.judge(allowanceMs));
  if (before.supersededFailure) await removeSupersededFailure(store, layout.failure(stage, chunk), log);
  if (before.leftoverClaim && !options.force) await removeLeftoverClaim(store, layout.claim(stage, chunk), before.leftoverClaim, log);
  const decision = decide(before, options, resend);
  if (decision) {
    if (decision === 'skipped') options.onEvent?.({ type: 'skipped', stage, chunk });
    return { result: decision };
  }
  if (!expected) return { result: 'waiting' };

  const attempt = newAttemptId();
  const lease = await acquireLease({ store, key: layout.claim(stage, chunk), stage, chunk, attempt, worker: options.worker, leaseMs: options.leaseMs, log, allowanceMs, clock });
  if (!lease) return { result: 'held' };
  const chunkLog = log.child({ stage, chunk, attempt });
  let committing = false;
  try {
    // Between the look above and the claim, another worker may have committed the chunk.
    const current = await inspectChunk(store, layout, stage, chunk, expected, await clock.judge(allowanceMs));
    if (current.status === 'done' && !options.force && !(resend && heldChanged(current))) {
      options.onEvent?.({ type: 'skipped', stage, chunk });
      return { result: 'skipped' };
    }
    const startedAt = new Date();
    options.onEvent?.({ type: 'start', stage, chunk, attempt });
    chunkLog.info('chunk started');
    const workSignal = AbortSignal.any([lease.signal, signal]);
    const result = await job.process({
      chunk, attempt, worker: options.worker.id, store, layout, signal: workSignal, log: chunkLog, previous: current.manifest?.value, resendChanged: resend,
      progress: (records) => options.onEvent?.({ type: 'progress', stage, chunk, records }),
    }, expected);
    workSignal.throwIfAborted();
    await lease.renew();
    const finishedAt = new Date();
    const manifest: Manifest = {
      kind: 'hogport.manifest', version: 1, stage, migration: layout.migration, chunk, attempt,
      attemptNumber: (current.manifest?.value.attemptNumber ?? 0) + 1, worker: options.worker.id, hogportVersion: HOGPORT_VERSION,
      configHash: expected.configHash, inputDigest: expected.inputDigest, inputs: result.inputs, outputs: result.outputs,
      counts: result.counts, bytes: result.bytes, ...(result.eventTime ? { eventTime: result.eventTime } : {}),
      ...(result.eventDays ? { eventDays: result.eventDays } : {}), ...(result.eventNames ? { eventNames: result.eventNames } : {}),
      ...(result.delta ? { delta: result.delta } : {}),
      startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - startedAt.getTime(),
      stats: result.stats ?? {},
    };
    // The commit point: the manifest names this attempt's outputs, and is written only if nobody
    // committed since we looked.
    const body = encodeControl(Manifest, manifest);
    const key = layout.manifest(stage, chunk);
    committing = true;
    await store.writeIf(key, body, current.manifest ? { ifMatch: current.manifest.info.etag } : { ifAbsent: true });
    return await committed(manifest);
  } catch (err) {
    // A commit whose answer never came may have landed: then this attempt is done, not failed.
    const landed = committing ? await manifestOf(store, layout.manifest(stage, chunk), attempt) : undefined;
    if (landed) {
      chunkLog.info('the commit landed although its answer was lost');
      return await committed(landed);
    }
    const error = describeError(err);
    if (error.code === 'E_LOADED_CHUNK_CHANGED') {
      // Not a failure of the chunk: it waits, as it is, for the user to decide.
      chunkLog.error({ chunk, stage }, error.message);
      return { result: 'refused', error };
    }
    if (error.code === 'E_LEASE_LOST' || error.code === 'E_PRECONDITION') {
      chunkLog.warn({ error }, 'another worker took this chunk over: this attempt is discarded');
      return { result: 'lost', error };
    }
    // A fatal error (a refused API key) is the run's, not the chunk's: no failure record.
    if (isFatal(err)) throw err;
    if (signal.aborted) return { result: 'failed', error: { code: 'E_STOPPED', message: 'the run was stopped before this chunk finished' } };
    chunkLog.error({ error }, 'chunk failed');
    const failure: Failure = {
      kind: 'hogport.failure', version: 1, stage, chunk, attempt, worker: options.worker.id, at: new Date().toISOString(), error,
    };
    await store.write(layout.failure(stage, chunk), encodeControl(Failure, failure)).catch((e: unknown) => {
      chunkLog.error({ error: describeError(e) }, 'could not write the failure record');
    });
    options.onEvent?.({ type: 'failed', stage, chunk, error });
    return { result: 'failed', error };
  } finally {
    await lease.release();
  }

  async function committed(manifest: Manifest): Promise<{ result: Attempt }> {
    // Best effort: a failure record the commit supersedes is ignored by status and removed by the
    // next run; a checkpoint names this attempt's inputs, and the next attempt finds it done anyway.
    await Promise.all([store.delete(layout.failure(stage, chunk)), store.delete(layout.checkpoint(stage, chunk))]).catch((e: unknown) => {
      chunkLog.warn({ error: describeError(e) }, 'could not remove the failure record or checkpoint of a committed chunk; the next run does');
    });
    chunkLog.info({ counts: manifest.counts, durationMs: manifest.durationMs }, 'chunk committed');
    options.onEvent?.({ type: 'done', stage, chunk, attempt, records: manifest.counts.in });
    return { result: 'done' };
  }
}

/** The chunk's manifest when it commits this attempt. */
async function manifestOf(store: Store, key: string, attempt: string): Promise<Manifest | undefined> {
  const m = await readControl(store, key, Manifest).catch(() => undefined);
  return m?.value.attempt === attempt ? m.value : undefined;
}

async function removeSupersededFailure(store: Store, key: string, log: Logger): Promise<void> {
  await store.delete(key).then(
    () => log.info({ failure: key }, 'removed a failure record its chunk\'s manifest supersedes'),
    (err: unknown) => log.warn({ failure: key, error: describeError(err) }, 'could not remove a superseded failure record; status ignores it'),
  );
}

/**
 * Removes the claim a dead process left on a chunk it committed. A claim written since (a worker
 * taking the chunk over with --force) differs in its attempt: it is left alone.
 */
async function removeLeftoverClaim(store: Store, key: string, claim: Claim, log: Logger): Promise<void> {
  const now = await readControl(store, key, Claim).catch(() => undefined);
  if (!now || now.value.attempt !== claim.attempt) return;
  await store.delete(key).then(
    () => log.info({ claim: key, worker: claim.worker }, 'removed a claim left on a committed chunk by a worker that stopped after its commit'),
    (err: unknown) => log.warn({ claim: key, error: describeError(err) }, 'could not remove a claim left on a committed chunk; status shows it'),
  );
}

/** Errors that stop the whole run, like a refused API key, say so in their details. */
function isFatal(err: unknown): boolean {
  return err instanceof HogportError && (err.details as { fatal?: boolean } | undefined)?.fatal === true;
}

/** What to do with a chunk before claiming it; undefined means: work on it. */
function decide(state: ChunkState, options: RunOptions, resend: boolean): Attempt | undefined {
  switch (state.status) {
    // A loaded chunk that kept changed events out is loaded again when they may now be sent.
    case 'done': return options.force || (resend && heldChanged(state)) ? undefined : 'skipped';
    case 'waiting': return 'waiting';
    // A claim may belong to a dead process on this host: acquireLease tells, and says 'held' otherwise.
    case 'running': return undefined;
    // A loaded chunk whose events changed is loaded again: load sends only what it did not send
    // before, and refuses (E_LOADED_CHUNK_CHANGED) when it cannot tell.
    default: return undefined;
  }
}

function resendsChanged(options: RunOptions, chunk: string): boolean {
  return options.resendChanged === true || options.mayResend?.(chunk) === true;
}

/** A loaded chunk whose last load kept changed events out. */
function heldChanged(state: Pick<ChunkState, 'stage' | 'manifest'>): boolean {
  const delta = state.stage === 'load' ? state.manifest?.value.delta : undefined;
  return delta !== undefined && delta.changed > delta.changedResent;
}

