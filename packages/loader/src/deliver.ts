import { HogportError, hasCode } from '@hogport/common';
import type { Batch, Destination, RetryBudget, SendReport } from './destination.js';

/** An event capture refused on its own, found by splitting its request. */
export interface RefusedEvent {
  line: string;
  status: number;
  /** Capture's answer, as it gave it. */
  reply: string;
}

export interface Delivery {
  /** Events acknowledged by the destination. */
  sent: number;
  refused: RefusedEvent[];
  requests: number;
  retries: number;
  written: NonNullable<SendReport['written']>[];
}

export interface DeliverOptions {
  signal?: AbortSignal;
  budget?: RetryBudget;
  /** Refused events allowed before the chunk fails: many refusals mean a systematic problem, not bad events. */
  refusalsLeft?: { left: number };
}

/**
 * Delivers a batch, and when capture refuses its content (400, or 413 for size) splits it in halves
 * until the refused events stand alone, so one bad event costs about 2·log2(n) extra requests and
 * never the rest of the batch. Halves go one after the other: a split happens rarely, and this keeps
 * requests in flight bounded by the destination's concurrency alone.
 */
export async function deliver(destination: Destination, batch: Batch, options: DeliverOptions = {}): Promise<Delivery> {
  const out: Delivery = { sent: 0, refused: [], requests: 0, retries: 0, written: [] };
  await deliverInto(destination, batch, options, out);
  return out;
}

async function deliverInto(destination: Destination, batch: Batch, options: DeliverOptions, out: Delivery): Promise<void> {
  if (batch.events.length === 0) return;
  try {
    const report = await destination.send(batch, { ...(options.signal ? { signal: options.signal } : {}), ...(options.budget ? { budget: options.budget } : {}) });
    out.sent += batch.events.length;
    out.requests += report.requests;
    out.retries += report.retries;
    if (report.written) out.written.push(report.written);
  } catch (err) {
    if (!hasCode(err, 'E_POSTHOG_REJECTED') && !hasCode(err, 'E_POSTHOG_TOO_LARGE')) throw err;
    const details = (err as HogportError).details as { status: number; reply: string; requests?: number; retries?: number };
    out.requests += details.requests ?? 1;
    out.retries += details.retries ?? 0;
    if (batch.events.length === 1) {
      out.refused.push({ line: batch.events[0]!, status: details.status, reply: details.reply });
      if (options.refusalsLeft && --options.refusalsLeft.left < 0) {
        throw new HogportError('E_TOO_MANY_REFUSED', `PostHog refused too many events of chunk ${batch.chunk} one by one (the last with HTTP ${details.status}: ${details.reply}); this looks like a problem with every event, not a few bad ones: check the transform output in the events/ prefix`);
      }
      return;
    }
    const half = Math.ceil(batch.events.length / 2);
    const part = batch.part ?? String(batch.seq);
    for (const [i, events] of [batch.events.slice(0, half), batch.events.slice(half)].entries()) {
      await deliverInto(destination, { ...batch, events, bytes: events.reduce((a, e) => a + Buffer.byteLength(e) + 1, 0), part: `${part}.${i}` }, options, out);
    }
  }
}
