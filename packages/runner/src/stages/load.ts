import { pipeline } from 'node:stream';
import { gunzipIfGzipped, HashingCounter, HogportError, splitLines } from '@hogport/common';
import type { Layout } from '@hogport/layout';
import { batches, deliver, type Batch, type Destination, type IndexedLine, type RetryBudget } from '@hogport/loader';
import { Manifest, readControl, type Checkpoint, type OutputRef } from '@hogport/manifest';
import type { Store } from '@hogport/store';
import type { StageJob } from '../job.js';
import { SAMPLE_RULE, type SampleLane } from '../sample.js';
import { Checkpointer, Ranges } from './checkpoint.js';
import { digestOf } from './digest.js';
import { GzipLinesWriter, rejectLine } from './writer.js';

/** Batches of one chunk in flight at once: bounds memory; the destination bounds requests. */
const BATCHES_IN_FLIGHT = 8;

export interface LoadJobOptions {
  /** Absent for status: the job can still tell what is up to date, but not send. */
  destination?: Destination;
  /**
   * Names where events go (type and host). A chunk loaded to one destination is not loaded to
   * another: switching from dry-run to PostHog loads every chunk again.
   */
  destinationId: string;
  batchMaxEvents: number;
  maxBytes?: number;
  store: Store;
  layout: Layout;
  /** Retries allowed per chunk across its batches, beyond each request's own attempt limit. */
  retryBudget?: number;
  /** Events capture may refuse one by one before the chunk is failed as a systematic problem. */
  maxRefused?: number;
  /**
   * A sampled load: only events of the lane's persons are sent, the others are counted as dropped
   * (notSampled). Its members are drawn (drawSample) before the first chunk is processed.
   */
  sample?: SampleLane;
}

/**
 * Load: sends a chunk's events to the destination in batches. Up to date while the chunk's events
 * (by content hash) are the ones that were sent, to the same destination.
 *
 * After every acknowledged batch the chunk's checkpoint records the acknowledged event positions,
 * so an interrupted load resumes where it stopped and re-sends at most the batches that were in
 * flight (they carry the same uuids and timestamps, and collapse in PostHog). Events refused
 * before sending or by capture go to the chunk's load rejects with the reason.
 */
export function loadJob(opts: LoadJobOptions): StageJob {
  const { destination, store, layout } = opts;
  const { sample } = opts;
  const configHash = digestOf({ stage: 'load', version: 2, destination: opts.destinationId, ...(sample ? { sample: { percent: sample.percent, rule: SAMPLE_RULE } } : {}) });
  const expectFrom = (_chunk: string, up: Manifest | undefined) =>
    up ? { inputDigest: digestOf(up.outputs.filter((o) => o.role === 'events').map((o) => o.contentSha256 ?? o.sha256)), configHash } : undefined;
  return {
    stage: 'load',
    expect: async (chunk) => expectFrom(chunk, (await readControl(store, layout.manifest('transform', chunk), Manifest))?.value),
    expectFrom,
    async process(ctx, expected) {
      const up = await readControl(ctx.store, ctx.layout.manifest('transform', ctx.chunk), Manifest);
      const eventsRef = up?.value.outputs.find((o) => o.role === 'events');
      if (!up || !eventsRef) throw new HogportError('E_NOT_TRANSFORMED', `chunk ${ctx.chunk} has no transform output to load`);
      if (!destination) throw new HogportError('E_NO_DESTINATION', 'load was started without a destination');
      const members = sample?.members;
      if (sample && !members) throw new HogportError('E_SAMPLE_UNDRAWN', `the sampled load of chunk ${ctx.chunk} started before its sample was drawn`, { exitCode: 2 });

      const latest = up.value.eventTime?.max;
      if (latest && Date.parse(latest) > Date.now() - 48 * 3600_000) {
        ctx.log.warn({ latest }, 'this chunk holds events less than 48 hours old: PostHog advises importing only events at least 48 hours old');
      }
      const done = new Ranges();
      const counts = { in: 0, sent: 0, invalid: 0, refused: 0, duplicates: 0, notSampled: 0 };
      const stats = { batches: 0, requests: 0, retries: 0, bytes: 0 };
      const outputs: OutputRef[] = [];
      let nextSeq = 0;
      const snapshot = (): Checkpoint => ({
        kind: 'hogport.checkpoint', version: 1, stage: 'load', chunk: ctx.chunk, attempt: ctx.attempt, worker: ctx.worker,
        updatedAt: new Date().toISOString(), input: { key: eventsRef.key, sha256: eventsRef.sha256 }, configHash: expected.configHash,
        done: done.toJSON(), counts: { ...counts }, stats: { ...stats }, nextSeq, outputs: [...outputs],
      });
      const { checkpointer, found } = await Checkpointer.open(ctx.store, ctx.layout.checkpoint('load', ctx.chunk), snapshot);
      // A checkpoint counts only for the very events and destination it was written for.
      const resumed = found && found.input.sha256 === eventsRef.sha256 && found.configHash === expected.configHash ? found : undefined;
      if (resumed) {
        for (const [a, b] of resumed.done) done.add(a, b);
        Object.assign(counts, resumed.counts);
        Object.assign(stats, resumed.stats);
        outputs.push(...resumed.outputs);
        nextSeq = resumed.nextSeq;
        ctx.log.info({ acknowledged: counts.in, from: resumed.attempt }, 'resuming the chunk from its checkpoint');
        ctx.progress(counts.in);
      }
      const skip = new Ranges(resumed?.done ?? []).scanner();

      const lines = (async function* (): AsyncGenerator<IndexedLine> {
        // Verified on the way through: a changed events object fails the chunk before it can commit.
        const verify = new HashingCounter({ sha256: eventsRef.sha256, mismatch: (actual) => new HogportError('E_EVENTS_CORRUPT', `${eventsRef.key} is not the object transform wrote (sha256 ${actual}, expected ${eventsRef.sha256}): re-run transform for chunk ${ctx.chunk} with --force`) });
        const raw = await ctx.store.read(eventsRef.key);
        // An error on either stream reaches the reader below, and none is left unheard when it stops early.
        pipeline(raw, verify, () => undefined);
        const stream = await gunzipIfGzipped(verify);
        let index = 0;
        for await (const { line } of splitLines(stream)) {
          if (line === '') continue;
          const i = index++;
          if (skip(i)) continue;
          // An unreadable line is not passed over: the batcher refuses it with the reason.
          const id = members ? distinctIdOf(line) : undefined;
          yield id !== undefined && !members!.has(id) ? { line, index: i, skip: true } : { line, index: i };
        }
      })();

      const budget: RetryBudget = { left: opts.retryBudget ?? 100 };
      const refusalsLeft = { left: opts.maxRefused ?? 1000 };
      const acknowledge = async (batch: Batch) => {
        const delivery = await deliver(destination, batch, { signal: ctx.signal, budget, refusalsLeft });
        const rejects = [
          ...batch.invalid.map((r) => rejectLine({ code: r.code, reason: r.message, position: { event: r.index }, record: r.line })),
          ...delivery.refused.map((r) => rejectLine({ code: r.status === 413 ? 'E_POSTHOG_TOO_LARGE' : 'E_POSTHOG_REFUSED', reason: `PostHog answered HTTP ${r.status}: ${r.reply}`, position: { batch: batch.seq }, record: r.line })),
        ];
        if (rejects.length > 0) {
          const writer = new GzipLinesWriter(ctx.store, ctx.layout.loadRejects(ctx.chunk, ctx.attempt, batch.seq), 'rejects');
          for (const line of rejects) await writer.writeLine(line);
          outputs.push(await writer.finish());
        }
        for (const w of delivery.written) outputs.push({ key: w.key, role: 'outbox', bytes: w.bytes, sha256: w.sha256, records: batch.events.length });
        done.add(batch.first, batch.end);
        counts.in += batch.end - batch.first;
        counts.sent += delivery.sent;
        counts.invalid += batch.invalid.length;
        counts.refused += delivery.refused.length;
        counts.duplicates += batch.duplicates;
        counts.notSampled += batch.skipped;
        stats.batches += 1;
        stats.requests += delivery.requests;
        stats.retries += delivery.retries;
        stats.bytes += batch.bytes;
        checkpointer.schedule();
        ctx.progress(batch.end - batch.first);
      };

      // Batches of one chunk go out concurrently up to the destination's own limit; the chunk
      // commits only when every one of them was acknowledged.
      const inFlight = new Set<Promise<void>>();
      let failure: unknown;
      try {
        for await (const batch of batches(lines, { maxEvents: opts.batchMaxEvents, ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}), chunk: ctx.chunk, attempt: ctx.attempt, firstSeq: nextSeq, checked: true })) {
          if (failure) break;
          ctx.signal.throwIfAborted();
          checkpointer.throwIfFailed();
          nextSeq = batch.seq + 1;
          // At most two acknowledged batches per chunk wait for their checkpoint before more go out.
          await checkpointer.lag(2);
          const p = acknowledge(batch).catch((err: unknown) => { failure ??= err; });
          inFlight.add(p);
          void p.finally(() => inFlight.delete(p));
          if (inFlight.size >= BATCHES_IN_FLIGHT) await Promise.race(inFlight);
        }
      } catch (err) {
        failure ??= err;
      }
      await Promise.all(inFlight);
      if (failure) {
        // What was acknowledged stays acknowledged: the next attempt resumes after it.
        await checkpointer.settle().catch(() => undefined);
        throw failure;
      }
      await checkpointer.settle();
      outputs.sort((a, b) => (a.key < b.key ? -1 : 1));
      const rejected = counts.invalid + counts.refused;
      const droppedBy: Record<string, number> = {};
      if (counts.duplicates) droppedBy.duplicateUuidInRequest = counts.duplicates;
      if (counts.notSampled) droppedBy.notSampled = counts.notSampled;
      return {
        inputs: [{ key: eventsRef.key, sha256: eventsRef.sha256, bytes: eventsRef.bytes }],
        outputs,
        counts: { unit: 'events', in: counts.in, out: counts.sent, rejected, dropped: counts.duplicates + counts.notSampled, droppedBy },
        bytes: { in: eventsRef.bytes, out: stats.bytes },
        ...(up.value.eventTime ? { eventTime: up.value.eventTime } : {}),
        stats: { ...stats, refusedByPostHog: counts.refused, invalid: counts.invalid, resumedAt: resumed?.counts.in ?? 0, destination: destination.name, ...(sample ? { sample: sample.id } : {}) },
      };
    },
  };
}


/** The distinct_id of an event line, or undefined when the line is not an event with one. */
function distinctIdOf(line: string): string | undefined {
  try {
    const id = (JSON.parse(line) as { distinct_id?: unknown }).distinct_id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
