import { describeError, hasCode, RateGate, sleep, type Logger, type RateLimit } from '@hogport/common';
import type { Layout, Stage } from '@hogport/layout';
import { encodeControl, Pace, readControl, WorkerRegistration } from '@hogport/manifest';
import { CLOCK_SKEW_MS } from '@hogport/state';
import type { Store } from '@hogport/store';
import { StoreClock } from './clock.js';
import type { Worker } from './lease.js';

/** How the shared rate answers capture's 429s: cut by a factor, then grown back by a step each window. */
export interface Backoff {
  /** The rate is multiplied by this on a 429 (default 0.5). */
  cut?: number;
  /** Growth back towards the cap, as a share of the cap per window (default 0.5: from half to whole in one window). */
  increase?: number;
  /** The rate is never cut below this share of the cap (default 0.01). */
  floor?: number;
}

export interface RateShareOptions {
  store: Store;
  layout: Layout;
  stage: Stage;
  worker: Worker;
  /** This worker's own gate: its share of the rate. */
  gate: RateGate;
  /** The cap every worker together holds to, whatever happens. */
  perMinute: number;
  log: Logger;
  /** How often registrations are renewed and counted, and the pace read. */
  refreshMs?: number;
  /** The rate's window; a departed worker counts for this long after it left. */
  windowMs?: number;
  /** This machine's clock against the store's; one is measured when absent. */
  clock?: StoreClock;
  backoff?: Backoff;
}

export interface RateShare {
  /** Workers counted at the last look, this one included. */
  readonly workers: number;
  /** The rate every worker together holds to now: the cap, or less after a 429. */
  readonly rate: number;
  /** What requests take their events from: this worker's share, and what others sent just before it joined. */
  readonly limit: RateLimit;
  /** Capture answered 429: cut the shared rate (once per storm) and pause for Retry-After. */
  throttled(retryAfterMs: number | undefined): void;
  stop(): Promise<void>;
}

/**
 * Shares one events-per-window budget among every worker loading the same migration, through the
 * store. Each registers under workers/<stage>/ with what it sent in the last window and its share,
 * renews that every refresh, and takes rate / (workers seen). A worker that joins counts what the
 * others sent in the window (and what they may send at their old share before they see it) against
 * the rate until that leaves the window, so the rate holds in every window, not just on average,
 * without waiting for a whole window before its first send.
 *
 * A 429 cuts the shared rate (multiplicative decrease) in pace/<stage>.json and pauses for the
 * Retry-After; the rate then grows back linearly towards the cap (additive increase), computed by
 * every worker from the same record, so only a cut is ever written. 429s that answer requests sent
 * before the workers could have seen a cut are the same storm and cut nothing more.
 */
export async function joinRateShare(options: RateShareOptions): Promise<RateShare> {
  const { store, layout, stage, worker, gate, perMinute: cap, log } = options;
  const refreshMs = options.refreshMs ?? 10_000;
  const windowMs = options.windowMs ?? 60_000;
  const cutBy = options.backoff?.cut ?? 0.5;
  const increase = (options.backoff?.increase ?? 0.5) * cap;
  const floor = Math.max(1, (options.backoff?.floor ?? 0.01) * cap);
  const key = layout.worker(stage, worker.id);
  const paceKey = layout.pace(stage);
  let workers = 1;
  let pace: Pace | undefined;
  let stopped = false;
  /** The most events one request of this worker took: how far it can go past its pace at once. */
  let largest = 0;
  /** What others sent before this worker could be sure they had lowered their shares; dropped once it left the window. */
  let joining: { gate: RateGate; until: number } | undefined;

  const rateAt = (now: number): number => {
    if (!pace) return cap;
    return Math.max(floor, Math.min(cap, pace.rate + (increase * (now - Date.parse(pace.since))) / windowMs));
  };
  const apply = () => {
    const now = Date.now();
    const rate = rateAt(now);
    gate.setRate(rate / workers);
    if (joining) {
      if (now >= joining.until) joining = undefined;
      else joining.gate.setRate(rate);
    }
    if (pace?.pausedUntil) gate.pauseUntil(Date.parse(pace.pausedUntil));
  };

  // Registrations are judged on the store's clock, like claims: a worker whose clock is ahead would
  // otherwise count the others gone (and take their share), one whose clock is behind be counted gone.
  const clock = options.clock ?? new StoreClock(store, log);

  const register = async (expiresAt: number, last = false) => {
    const now = Date.now();
    const value: WorkerRegistration = {
      kind: 'hogport.worker', version: 1, stage, worker: worker.id, expiresAt: new Date(expiresAt).toISOString(), ttlMs: Math.max(0, expiresAt - now),
      at: new Date(now).toISOString(), share: gate.rate, ...(largest ? { request: largest } : {}), recent: gate.recent(Math.max(1, Math.ceil(windowMs / 60))),
      ...(last ? { stopped: true } : {}),
    };
    const info = await store.write(key, encodeControl(WorkerRegistration, value));
    clock.observe(info.modifiedAt, now, Date.now());
  };
  /** The other workers still counted, each as its registration says. */
  const others = async (): Promise<WorkerRegistration[]> => {
    const now = (await clock.judge(0)).storeNow;
    const out: WorkerRegistration[] = [];
    for await (const obj of store.list(layout.workers(stage))) {
      if (obj.key === key) continue;
      const got = await readControl(store, obj.key, WorkerRegistration).catch((err: unknown) => {
        if (hasCode(err, 'E_CORRUPT_CONTROL')) return undefined;
        throw err;
      });
      if (!got) continue;
      // An older hogport's registration: its expiresAt read on the store's clock (the allowance covers its writer's skew).
      const ends = got.value.ttlMs !== undefined && got.info.modifiedAt !== undefined ? got.info.modifiedAt + got.value.ttlMs : Date.parse(got.value.expiresAt);
      const until = ends + windowMs;
      if (until > now) out.push(got.value);
      else if (until + CLOCK_SKEW_MS < now) await store.delete(obj.key);
    }
    return out;
  };
  // Reads of the pace overlap (a refresh's and a cut's): one that started earlier but answers later
  // saw an older record and must not undo what a later one read or a cut wrote.
  let paceReads = 0;
  let paceAsOf = 0;
  const readPace = async () => {
    const started = ++paceReads;
    const got = await readControl(store, paceKey, Pace).catch((err: unknown) => {
      if (hasCode(err, 'E_CORRUPT_CONTROL')) return null;
      throw err;
    });
    // An unreadable record leaves the pace as last read; a cut overwrites it.
    if (got === null) return undefined;
    if (started > paceAsOf) {
      paceAsOf = started;
      pace = got?.value;
    }
    return got;
  };
  const refresh = async () => {
    await register(Date.now() + 3 * refreshMs);
    const regs = await others();
    workers = 1 + regs.length;
    await readPace();
    apply();
  };

  // The share a registration states is the most this worker will send at until it looks again:
  // from the workers already there, before it registers; lower once it has seen those who came since.
  workers = 1 + (await others()).length;
  await readPace();
  apply();
  await register(Date.now() + 3 * refreshMs);
  // Workers started together register within moments of each other: a short look later, each sees
  // the others before its first send, instead of sending a full share it would soon have to give back.
  await sleep(Math.min(1000, refreshMs / 2));
  const before = await others();
  await readPace();
  workers = 1 + before.length;
  apply();
  await register(Date.now() + 3 * refreshMs);
  /**
   * What the others sent in the window and may still send at their old shares before they see this
   * worker: the rate must hold for all of it together with what this worker sends, until it left
   * the window. Built once, when joining: the others lower their shares within a refresh.
   */
  const transition = (regs: WorkerRegistration[]): { gate: RateGate; until: number } | 'legacy' | undefined => {
    const now = Date.now();
    const seeded = new RateGate(rateAt(now), { windowMs });
    let until = now;
    for (const other of regs) {
      if (!other.at || other.share === undefined || !other.recent) return 'legacy';
      for (const [at, n] of other.recent) { seeded.seed(at, n); until = Math.max(until, at + windowMs); }
      if (other.stopped) continue;
      // Until it next looks (a refresh and a half after it registered, or a refresh from now, never
      // past its registration's expiry) it may go on at its old share, paced: counted step by step
      // at the latest moment each could go out, plus its largest request and the sixtieth of a
      // window a gate may catch up, at once.
      const from = Date.parse(other.at);
      const end = Math.min(Date.parse(other.expiresAt), Math.max(from + 1.5 * refreshMs, now + refreshMs));
      const step = Math.max(1, Math.ceil(windowMs / 60));
      seeded.seed(from, (other.request ?? other.share / 60) + other.share / 60);
      for (let at = from + step; at < end + step; at += step) seeded.seed(Math.min(at, end), (other.share * step) / windowMs);
      until = Math.max(until, end + windowMs);
    }
    return until > now ? { gate: seeded, until } : undefined;
  };
  if (before.length > 0) {
    const now = Date.now();
    const t = transition(before);
    if (t === 'legacy') {
      // A worker that does not say what it sent: wait until it has lowered its share and its sends left the window.
      const waitMs = refreshMs + windowMs;
      gate.pauseUntil(now + waitMs);
      log.info({ workers, waitMs }, 'other workers are loading this migration under the same rate limit: waiting for them to make room');
    } else if (t) {
      joining = t;
      log.info({ workers, rate: Math.round(rateAt(now)) }, 'other workers are loading this migration under the same rate limit: sharing it with them');
    }
  }

  let cutting: Promise<void> | undefined;
  let again: number | undefined;
  /** Cuts the shared rate in the store, unless another worker already did for this storm. */
  const cut = async (retryAfterMs: number) => {
    for (let tries = 0; tries < 5; tries++) {
      const got = await readPace();
      const now = Date.now();
      const current = rateAt(now);
      const pausedUntil = now + retryAfterMs;
      // A 429 within a refresh of the last cut's pause answers a request sent before every worker could see that cut.
      if (pace && now < Date.parse(pace.pausedUntil ?? pace.since) + refreshMs) {
        apply();
        return;
      }
      const rate = Math.max(floor, current * cutBy);
      const next: Pace = {
        kind: 'hogport.pace', version: 1, stage, rate, since: new Date(now).toISOString(), increase,
        pausedUntil: new Date(pausedUntil).toISOString(), cuts: pace && current < cap ? pace.cuts + 1 : 1,
      };
      try {
        await store.writeIf(paceKey, encodeControl(Pace, next), got ? { ifMatch: got.info.etag } : { ifAbsent: true });
      } catch (err) {
        if (hasCode(err, 'E_PRECONDITION')) continue;
        throw err;
      }
      pace = next;
      paceAsOf = ++paceReads;
      apply();
      log.warn({ rate: Math.round(rate), cap, retryAfterMs, workers }, 'PostHog answered 429: the shared rate is cut, and grows back towards the cap while capture takes it');
      return;
    }
  };
  const throttled = (retryAfterMs: number | undefined) => {
    const wait = retryAfterMs ?? 1000;
    // This worker pauses at once; the others when they next read the pace.
    gate.pauseUntil(Date.now() + wait);
    if (stopped) return;
    if (cutting) { again = Math.max(again ?? 0, wait); return; }
    const run = (ms: number): Promise<void> => cut(ms)
      .catch((err: unknown) => log.warn({ error: describeError(err) }, 'could not record the cut rate in the store; this worker slows down alone'))
      .then(() => {
        if (again === undefined) { cutting = undefined; return; }
        const next = again;
        again = undefined;
        cutting = run(next);
        return cutting;
      });
    cutting = run(wait);
  };

  // Workers that start together each saw only those registered before them: look again soon, so
  // every share is an equal one within a second or so, not after a whole refresh.
  const soon = setTimeout(() => {
    refresh().catch((err: unknown) => log.warn({ error: describeError(err) }, 'could not refresh the rate share; keeping the current one'));
  }, Math.min(1000, refreshMs / 2));
  soon.unref();
  const timer = setInterval(() => {
    refresh().catch((err: unknown) => log.warn({ error: describeError(err) }, 'could not refresh the rate share; keeping the current one'));
  }, refreshMs);
  timer.unref();
  // The rate grows back between refreshes too: each worker recomputes it from the pace it read.
  const tick = setInterval(apply, Math.min(1000, refreshMs));
  tick.unref();
  const limit: RateLimit = {
    async take(n, signal) {
      largest = Math.max(largest, n);
      const transition = joining;
      if (transition && Date.now() < transition.until) await transition.gate.take(n, signal);
      await gate.take(n, signal);
    },
    throttled,
  };
  return {
    get workers() { return workers; },
    get rate() { return rateAt(Date.now()); },
    limit,
    throttled,
    async stop() {
      stopped = true;
      clearTimeout(soon);
      clearInterval(timer);
      clearInterval(tick);
      await cutting;
      await register(Date.now(), true).catch(() => undefined);
    },
  };
}
