import { gunzipIfGzipped, HogportError, splitLines } from '@hogport/common';
import type { Layout } from '@hogport/layout';
import { batches, type BatcherStats, type Destination } from '@hogport/loader';
import { Manifest, readControl, type OutputRef } from '@hogport/manifest';
import type { Store } from '@hogport/store';
import type { StageJob } from '../job.js';
import { digestOf } from './digest.js';

/** Batches of one chunk in flight at once: bounds memory; the destination bounds requests. */
const BATCHES_IN_FLIGHT = 8;

/**
 * Load: sends a chunk's events to the destination in batches. Up to date while the chunk's events
 * (by content hash) are the ones that were sent. Without a destination the job can still tell what
 * is up to date (for status), but not process.
 */
export function loadJob(opts: { destination?: Destination; batchMaxEvents: number; store: Store; layout: Layout; maxBytes?: number }): StageJob {
  const { destination, store, layout } = opts;
  const configHash = digestOf({ stage: 'load', version: 1 });
  return {
    stage: 'load',
    async expect(chunk) {
      const up = await readControl(store, layout.manifest('transform', chunk), Manifest);
      if (!up) return undefined;
      return { inputDigest: digestOf(up.value.outputs.filter((o) => o.role === 'events').map((o) => o.contentSha256 ?? o.sha256)), configHash };
    },
    async process(ctx) {
      const up = await readControl(ctx.store, ctx.layout.manifest('transform', ctx.chunk), Manifest);
      const eventsRef = up?.value.outputs.find((o) => o.role === 'events');
      if (!up || !eventsRef) throw new HogportError('E_NOT_TRANSFORMED', `chunk ${ctx.chunk} has no transform output to load`);
      if (!destination) throw new HogportError('E_NO_DESTINATION', 'load was started without a destination');
      const stats: BatcherStats = { events: 0, duplicates: 0 };
      const outputs: OutputRef[] = [];
      let requests = 0;
      let retries = 0;
      let sentEvents = 0;
      let batchCount = 0;
      let bytesOut = 0;
      const lines = (async function* () {
        const stream = await gunzipIfGzipped(await ctx.store.read(eventsRef.key));
        for await (const { line } of splitLines(stream)) yield line;
      })();
      // Batches of one chunk go out concurrently up to the destination's own limit; the chunk
      // commits only when every one of them was acknowledged.
      const inFlight = new Set<Promise<void>>();
      let failure: unknown;
      for await (const batch of batches(lines, { maxEvents: opts.batchMaxEvents, ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}), chunk: ctx.chunk, attempt: ctx.attempt }, stats)) {
        if (failure) break;
        ctx.signal.throwIfAborted();
        const p = destination.send(batch, ctx.signal).then((report) => {
          requests += report.requests;
          retries += report.retries;
          sentEvents += batch.events.length;
          batchCount += 1;
          bytesOut += batch.bytes;
          if (report.written) outputs.push({ key: report.written.key, role: 'outbox', bytes: report.written.bytes, sha256: report.written.sha256, records: batch.events.length });
          ctx.progress(batch.events.length);
        }, (err: unknown) => { failure ??= err; });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        if (inFlight.size >= BATCHES_IN_FLIGHT) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      if (failure) throw failure;
      outputs.sort((a, b) => (a.key < b.key ? -1 : 1));
      return {
        inputs: [{ key: eventsRef.key, sha256: eventsRef.sha256, bytes: eventsRef.bytes }],
        outputs,
        counts: { unit: 'events', in: stats.events, out: sentEvents, rejected: 0, dropped: stats.duplicates, droppedBy: (stats.duplicates ? { duplicateUuidInRequest: stats.duplicates } : {}) as Record<string, number> },
        bytes: { in: eventsRef.bytes, out: bytesOut },
        ...(up.value.eventTime ? { eventTime: up.value.eventTime } : {}),
        stats: { batches: batchCount, requests, retries, destination: destination.name },
      };
    },
  };
}
