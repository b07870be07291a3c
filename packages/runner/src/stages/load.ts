import { pipeline } from 'node:stream';
import { gunzipIfGzipped, HashingCounter, HogportError, splitLines } from '@hogport/common';
import type { Layout } from '@hogport/layout';
import { batches, deliver, type Batch, type Destination, type IndexedLine, type RetryBudget } from '@hogport/loader';
import { Manifest, readControl, type Checkpoint, type InputRef, type OutputRef } from '@hogport/manifest';
import type { Store } from '@hogport/store';
import type { StageJob } from '../job.js';
import { SAMPLE_RULE, type SampleLane } from '../sample.js';
import { Checkpointer, Ranges } from './checkpoint.js';
import { digestOf } from './digest.js';
import { compareByUuid, entriesOf, entryOf, headOf, ledgerLine, readLedger, sortLine, type Entry } from './ledger.js';
import { LineSorter } from './sorter.js';
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
  /**
   * Comparing a re-extracted chunk with what it loaded sorts its events by uuid, this many at a
   * time in memory, the rest in sorted runs in temporary files (default SORT_RUN_LINES).
   */
  sortRunLines?: number;
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
      const target: Destination = destination;
      const members = sample?.members;
      if (sample && !members) throw new HogportError('E_SAMPLE_UNDRAWN', `the sampled load of chunk ${ctx.chunk} started before its sample was drawn`, { exitCode: 2 });

      const latest = up.value.eventTime?.max;
      if (latest && Date.parse(latest) > Date.now() - 48 * 3600_000) {
        ctx.log.warn({ latest }, 'this chunk holds events less than 48 hours old: PostHog advises importing only events at least 48 hours old');
      }
      const done = new Ranges();
      const counts = { in: 0, sent: 0, invalid: 0, refused: 0, duplicates: 0, notSampled: 0, alreadyLoaded: 0, changedNotResent: 0 };
      const stats = { batches: 0, requests: 0, retries: 0, bytes: 0 };
      const outputs: OutputRef[] = [];
      let nextSeq = 0;
      const snapshot = (): Checkpoint => ({
        kind: 'hogport.checkpoint', version: 1, stage: 'load', chunk: ctx.chunk, attempt: ctx.attempt, worker: ctx.worker,
        updatedAt: new Date().toISOString(), input: { key: eventsRef.key, sha256: eventsRef.sha256 }, configHash: expected.configHash,
        done: done.toJSON(), counts: { ...counts }, stats: { ...stats }, nextSeq, outputs: [...outputs],
      });

      // What this chunk loaded before, to this destination: a re-extract (the same events in another
      // order, late events) is compared with it by uuid and content, and only what it lacks is sent.
      const previous = ctx.previous?.configHash === expected.configHash ? ctx.previous : undefined;
      const heldBefore = previous?.delta ? previous.delta.changed - previous.delta.changedResent : 0;
      const changedSince = previous !== undefined && (previous.inputDigest !== expected.inputDigest || (heldBefore > 0 && ctx.resendChanged === true));
      const ledgerRef = previous?.outputs.find((o) => o.role === 'ledger');
      const legacyRef = previous && !ledgerRef ? await loadedEvents(ctx.store, previous) : undefined;
      if (changedSince && !ledgerRef && !legacyRef && !ctx.resendChanged) {
        throw new HogportError('E_LOADED_CHUNK_CHANGED', `chunk ${ctx.chunk} was loaded before and its events have changed since, and what it loaded can no longer be read (its load manifest has no ledger, as an older hogport wrote it, and the events it loaded are gone from the store): its new events cannot be told from those already sent. Sending it again would create duplicates in PostHog that cannot be deleted. Re-run load with --resend-changed to send it anyway.`);
      }
      const comparing = changedSince && (ledgerRef !== undefined || legacyRef !== undefined);
      const resendChanged = ctx.resendChanged === true;
      const outside = (line: string) => { const id = members ? distinctIdOf(line) : undefined; return id !== undefined && !members!.has(id); };
      const now = new LineSorter(opts.sortRunLines);
      const before = new LineSorter(opts.sortRunLines);
      const marks = new LineSorter(opts.sortRunLines);
      try {
        if (legacyRef) {
          // Loaded by a hogport without ledgers: what it loaded is read back from the events it loaded.
          for await (const { line } of eventLines(ctx.store, legacyRef, ctx.chunk)) {
            const e = entryOf(line);
            if (e) await before.add(sortLine(e, 0));
          }
        }
        let delta: Manifest['delta'];
        if (comparing) {
          const d = { against: ledgerRef ? 'ledger' as const : 'events' as const, alreadyLoaded: 0, new: 0, changed: 0, changedResent: 0, changedKey: 0, unidentified: 0, withdrawn: 0 };
          for await (const { line, index } of eventLines(ctx.store, eventsRef, ctx.chunk)) {
            const e = entryOf(line);
            if (e) await now.add(sortLine(e, index, outside(line)));
            else d.unidentified += 1;
          }
          for await (const g of compareByUuid(loadedBeforeAgain(), entriesOf(now))) {
            if (g.now.length === 0) d.withdrawn += 1;
            for (const e of g.now) {
              if (e.verdict === 'new') { d.new += 1; continue; }
              if (e.verdict === 'loaded') { d.alreadyLoaded += 1; await marks.add(mark(e.position, 'L')); continue; }
              d.changed += 1;
              if (e.keyChanged) d.changedKey += 1;
              if (resendChanged) d.changedResent += 1;
              await marks.add(mark(e.position, resendChanged ? 'R' : 'C', e.keyChanged));
            }
          }
          delta = d;
          ctx.log.info({ ...d }, 'the chunk was loaded before: only what it did not load is sent');
        }
        return await send(delta);
      } finally {
        await Promise.all([now.dispose(), before.dispose(), marks.dispose()]);
      }

      async function send(delta: Manifest['delta']) {
        const { checkpointer, found } = await Checkpointer.open(ctx.store, ctx.layout.checkpoint('load', ctx.chunk), snapshot);
        // A checkpoint counts only for the very events and destination it was written for.
        const resumed = found && found.input.sha256 === eventsRef!.sha256 && found.configHash === expected.configHash ? found : undefined;
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
        // uuids refused while loading: they are not in the ledger, so a later load tries them again.
        const refusedUuids = new Set<string>();
        for (const o of outputs.filter((x) => x.role === 'rejects')) {
          for await (const { line } of splitLines(await gunzipIfGzipped(await ctx.store.read(o.key)))) {
            if (line === '') continue;
            const record = (JSON.parse(line) as { record?: unknown }).record;
            const head = typeof record === 'string' ? headOf(record) : undefined;
            if (head) refusedUuids.add(head.uuid);
          }
        }
        const changedList = comparing && delta!.changed > 0 ? new GzipLinesWriter(ctx.store, ctx.layout.loadChanged(ctx.chunk, ctx.attempt), 'changed') : undefined;

        const lines = (async function* (): AsyncGenerator<IndexedLine> {
          const marked = comparing ? marks.sorted()[Symbol.asyncIterator]() : undefined;
          let next = marked ? await marked.next() : undefined;
          for await (const { line, index: i } of eventLines(ctx.store, eventsRef!, ctx.chunk)) {
            let verdict: string | undefined;
            while (next && !next.done && positionOf(next.value) < i) next = await marked!.next();
            if (next && !next.done && positionOf(next.value) === i) verdict = next.value.slice(MARK_WIDTH + 1);
            if (!comparing) {
              const e = entryOf(line);
              if (e) await now.add(sortLine(e, i, outside(line)));
            }
            if (verdict && verdict[0] !== 'L') {
              const head = headOf(line)!;
              await changedList!.writeLine(JSON.stringify({ uuid: head.uuid, event: head.event, distinct_id: head.distinctId, timestamp: head.timestamp, position: i, keyChanged: verdict[1] === '1', resent: verdict[0] === 'R' }));
            }
            if (skip(i)) continue;
            if (verdict === 'L') yield { line, index: i, passOver: 'alreadyLoaded' };
            else if (verdict?.[0] === 'C') yield { line, index: i, passOver: 'changedNotResent' };
            // An unreadable line is not passed over: the batcher refuses it with the reason.
            else yield outside(line) ? { line, index: i, passOver: 'notSampled' } : { line, index: i };
          }
        })();

        const budget: RetryBudget = { left: opts.retryBudget ?? 100 };
        const refusalsLeft = { left: opts.maxRefused ?? 1000 };
        const acknowledge = async (batch: Batch) => {
          const delivery = await deliver(target, batch, { signal: ctx.signal, budget, refusalsLeft });
          for (const r of [...batch.invalid, ...delivery.refused]) {
            const head = headOf(r.line);
            if (head) refusedUuids.add(head.uuid);
          }
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
          counts.alreadyLoaded += batch.skippedBy?.alreadyLoaded ?? 0;
          counts.changedNotResent += batch.skippedBy?.changedNotResent ?? 0;
          counts.notSampled += batch.skippedBy?.notSampled ?? 0;
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
          changedList?.abandon();
          // What was acknowledged stays acknowledged: the next attempt resumes after it.
          await checkpointer.settle().catch(() => undefined);
          throw failure;
        }
        await checkpointer.settle();
        if (changedList) outputs.push(await changedList.finish());
        const ledger = await writeLedger();
        outputs.push(ledger.ref);
        outputs.sort((a, b) => (a.key < b.key ? -1 : 1));
        const rejected = counts.invalid + counts.refused;
        const droppedBy: Record<string, number> = {};
        if (counts.duplicates) droppedBy.duplicateUuidInRequest = counts.duplicates;
        if (counts.notSampled) droppedBy.notSampled = counts.notSampled;
        if (counts.alreadyLoaded) droppedBy.alreadyLoaded = counts.alreadyLoaded;
        if (counts.changedNotResent) droppedBy.changedNotResent = counts.changedNotResent;
        const dropped = counts.duplicates + counts.notSampled + counts.alreadyLoaded + counts.changedNotResent;
        return {
          inputs: [{ key: eventsRef!.key, sha256: eventsRef!.sha256, bytes: eventsRef!.bytes }],
          outputs,
          counts: { unit: 'events' as const, in: counts.in, out: counts.sent, rejected, dropped, droppedBy },
          bytes: { in: eventsRef!.bytes, out: stats.bytes },
          ...(up!.value.eventTime ? { eventTime: up!.value.eventTime } : {}),
          ...(delta ? { delta } : {}),
          stats: { ...stats, refusedByPostHog: counts.refused, invalid: counts.invalid, resumedAt: resumed?.counts.in ?? 0, uuidsLoaded: ledger.uuids, destination: target.name, ...(sample ? { sample: sample.id } : {}) },
        };

        /**
         * The chunk's ledger: what it loaded before and what it handed over now, by uuid. Changed
         * events kept out keep their old entry, events refused while loading have none (a later load
         * tries them again), and neither have events outside a sample.
         */
        async function writeLedger(): Promise<{ ref: OutputRef; uuids: number }> {
          const writer = new GzipLinesWriter(ctx.store, ctx.layout.loadLedger(ctx.chunk, ctx.attempt), 'ledger');
          const empty = (async function* (): AsyncGenerator<Entry> {})();
          let uuids = 0;
          for await (const g of compareByUuid(previous ? loadedBeforeAgain() : empty, entriesOf(now))) {
            const written = new Set<string>();
            const put = async (e: Entry) => {
              if (written.has(e.content)) return;
              written.add(e.content);
              await writer.writeLine(ledgerLine(e));
            };
            for (const e of g.before) await put(e);
            if (!refusedUuids.has(g.uuid)) {
              for (const e of g.now) if (!e.outside && (e.verdict !== 'changed' || resendChanged || !comparing)) await put(e);
            }
            if (written.size > 0) uuids += 1;
          }
          return { ref: await writer.finish(), uuids };
        }
      }

      function loadedBeforeAgain(): AsyncIterable<Entry> {
        return ledgerRef ? readLedger(ctx.store, ledgerRef.key) : entriesOf(before);
      }
    },
  };
}

/** Width of the position in a verdict mark: sorted as text, marks come in position order. */
const MARK_WIDTH = 12;

/** A verdict for the event at `position`: L already loaded, C changed and kept out, R changed and sent again. */
function mark(position: number, verdict: 'L' | 'C' | 'R', keyChanged = false): string {
  return `${String(position).padStart(MARK_WIDTH, '0')}\t${verdict}${verdict === 'L' ? '' : keyChanged ? '1' : '0'}`;
}

function positionOf(mark: string): number {
  return Number(mark.slice(0, MARK_WIDTH));
}

/** The non-empty lines of an events object with their positions, checked against its sha256 on the way through. */
async function* eventLines(store: Store, ref: { key: string; sha256?: string | undefined }, chunk: string): AsyncGenerator<{ line: string; index: number }> {
  // Verified on the way through: a changed events object fails the chunk before it can commit.
  const verify = new HashingCounter(ref.sha256 ? { sha256: ref.sha256, mismatch: (actual) => new HogportError('E_EVENTS_CORRUPT', `${ref.key} is not the object transform wrote (sha256 ${actual}, expected ${ref.sha256}): re-run transform for chunk ${chunk} with --force`) } : undefined);
  const raw = await store.read(ref.key);
  // An error on either stream reaches the reader below, and none is left unheard when it stops early.
  pipeline(raw, verify, () => undefined);
  const stream = await gunzipIfGzipped(verify);
  let index = 0;
  for await (const { line } of splitLines(stream)) {
    if (line === '') continue;
    yield { line, index: index++ };
  }
}

/** The events a load of an older hogport (no ledger) loaded, while they are still in the store. */
async function loadedEvents(store: Store, previous: Manifest): Promise<InputRef | undefined> {
  const ref = previous.inputs[0];
  if (!ref?.sha256) return undefined;
  return (await store.head(ref.key)) ? ref : undefined;
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
