import { sleep } from './time.js';

/**
 * What a sender takes its events from before every request: a RateGate, or a rate shared by several
 * workers. `throttled` is told of every 429, with its Retry-After, so the rate can be cut.
 */
export interface RateLimit {
  take(n: number, signal?: AbortSignal): Promise<void>;
  throttled?(retryAfterMs: number | undefined): void;
}

/**
 * Holds the events sent per minute at or under a rate: every request (first sends, retries, halves
 * of split batches) takes its events from the gate before it goes out. Two rules at once: requests
 * are paced evenly (no burst at the start of each minute), and the events in any sliding 60-second
 * window never exceed the rate. The rate can change while a load runs (workers sharing a budget).
 */
export class RateGate implements RateLimit {
  private perMinute: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly log: Array<{ at: number; n: number }> = [];
  private inWindow = 0;
  private nextAt = 0;
  private pausedUntil = 0;
  private queue: Promise<void> = Promise.resolve();

  private readonly pace: boolean;

  /**
   * `perMinute` is per window (a minute unless `windowMs` says otherwise). Without `pace`, takers
   * may burst up to the window's budget (API quotas like "60 queries an hour").
   */
  constructor(perMinute: number, options: { windowMs?: number; now?: () => number; pace?: boolean } = {}) {
    this.perMinute = positive(perMinute);
    this.windowMs = options.windowMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.pace = options.pace ?? true;
  }

  get rate(): number {
    return this.perMinute;
  }

  setRate(perMinute: number): void {
    this.perMinute = positive(perMinute);
  }

  /**
   * Counts `n` events sent at `at` by someone else (another worker) in this gate's window, so what
   * this gate lets through plus those stays within the rate. `at` may lie ahead: the events are
   * then held as if sent that late, which only ever makes the gate stricter.
   */
  seed(at: number, n: number): void {
    if (!(n > 0)) return;
    let i = this.log.length;
    while (i > 0 && this.log[i - 1]!.at > at) i--;
    this.log.splice(i, 0, { at, n });
    this.inWindow += n;
  }

  /** Events this gate let through (and was seeded with) in the window up to now, summed per `bucketMs`. */
  recent(bucketMs = 1000): Array<[number, number]> {
    const now = this.now();
    const out: Array<[number, number]> = [];
    for (const { at, n } of this.log) {
      if (at + this.windowMs <= now) continue;
      // A bucket is stamped with its end: the events in it were sent no later than that.
      const end = Math.ceil(at / bucketMs) * bucketMs;
      const last = out[out.length - 1];
      if (last && last[0] === end) last[1] += n;
      else out.push([end, n]);
    }
    return out;
  }

  /** Sends nothing before `at` (ms since the epoch). */
  pauseUntil(at: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, at);
  }

  /** Resolves when `n` events may be sent; callers are served in order. */
  take(n: number, signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.wait(n, signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async wait(n: number, signal?: AbortSignal): Promise<void> {
    let waited = false;
    for (;;) {
      signal?.throwIfAborted();
      const now = this.now();
      while (this.log.length > 0 && this.log[0]!.at + this.windowMs <= now) this.inWindow -= this.log.shift()!.n;
      const delay = Math.max(this.pausedUntil - now, this.nextAt - now, this.windowDelay(n, now));
      if (delay <= 0) {
        this.log.push({ at: now, n });
        this.inWindow += n;
        // Paced a little under the rate (PACE_SHARE), so that with the catch-up below the window
        // never fills: a full window would make the sender stall until its oldest sends leave it,
        // and every burst would come back a window later as a gap. A sender that was idle for a
        // moment (between chunks, waiting on an answer) may catch up by a sixtieth of the window,
        // no more; one kept waiting, or sending for the first time, gets no credit.
        const credit = waited || this.nextAt === 0 ? 0 : this.windowMs / 60;
        if (this.pace) this.nextAt = Math.max(this.nextAt, now - credit) + (n * this.windowMs) / (this.perMinute * PACE_SHARE);
        return;
      }
      // Re-check after at most a second: the rate may have been raised meanwhile.
      waited = true;
      await sleep(Math.min(delay, 1000), signal);
    }
  }

  /** How long until the window has room for n more; a request larger than the whole rate waits for an empty window. */
  private windowDelay(n: number, now: number): number {
    if (this.inWindow + n <= this.perMinute || this.inWindow === 0) return 0;
    let freed = 0;
    for (const entry of this.log) {
      freed += entry.n;
      if (this.inWindow - freed + n <= this.perMinute || this.inWindow - freed === 0) return entry.at + this.windowMs - now;
    }
    return this.windowMs;
  }
}

/** The share of the rate a paced gate sends at: with a sixtieth of a window's catch-up, under 99% of the window's budget. */
const PACE_SHARE = 0.97;

function positive(n: number): number {
  if (!(n > 0) || !Number.isFinite(n)) throw new RangeError(`a rate must be a positive number of events per minute, not ${n}`);
  return n;
}
