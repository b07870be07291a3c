import { describeError, hasCode, type Logger } from '@hogport/common';
import type { Layout, Stage } from '@hogport/layout';
import type { RateGate } from '@hogport/loader';
import { encodeControl, readControl, WorkerRegistration } from '@hogport/manifest';
import { CLOCK_SKEW_MS } from '@hogport/state';
import type { Store } from '@hogport/store';
import { StoreClock } from './clock.js';
import type { Worker } from './lease.js';

export interface RateShareOptions {
  store: Store;
  layout: Layout;
  stage: Stage;
  worker: Worker;
  gate: RateGate;
  /** The rate every worker together must hold to. */
  perMinute: number;
  log: Logger;
  /** How often registrations are renewed and counted. */
  refreshMs?: number;
  /** The rate's window; a departed worker counts for this long after it left. */
  windowMs?: number;
  /** This machine's clock against the store's; one is measured when absent. */
  clock?: StoreClock;
}

export interface RateShare {
  /** Workers counted at the last look, this one included. */
  readonly workers: number;
  stop(): Promise<void>;
}

/**
 * Shares one events-per-minute budget among every worker loading the same migration, through the
 * store: each registers under workers/<stage>/, renews its registration, and takes rate / (workers
 * seen). A worker that joins while others run waits one refresh plus one window before sending, so
 * the others have lowered their share and their earlier sends have left the window: the budget
 * holds at every moment, not just on average. A worker that leaves still counts for one window.
 */
export async function joinRateShare(options: RateShareOptions): Promise<RateShare> {
  const { store, layout, stage, worker, gate, perMinute, log } = options;
  const refreshMs = options.refreshMs ?? 10_000;
  const windowMs = options.windowMs ?? 60_000;
  const key = layout.worker(stage, worker.id);
  let workers = 1;
  // Registrations are judged on the store's clock, like claims: a worker whose clock is ahead would
  // otherwise count the others gone (and take their share), one whose clock is behind be counted gone.
  const clock = options.clock ?? new StoreClock(store, log);

  const register = async (ttlMs: number) => {
    const sent = Date.now();
    const value: WorkerRegistration = { kind: 'hogport.worker', version: 1, stage, worker: worker.id, expiresAt: new Date(sent + ttlMs).toISOString(), ttlMs };
    const info = await store.write(key, encodeControl(WorkerRegistration, value));
    clock.observe(info.modifiedAt, sent, Date.now());
  };
  const others = async (): Promise<number> => {
    const now = (await clock.judge(0)).storeNow;
    let n = 0;
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
      if (until > now) n += 1;
      else if (until + CLOCK_SKEW_MS < now) await store.delete(obj.key);
    }
    return n;
  };
  const refresh = async () => {
    await register(3 * refreshMs);
    workers = 1 + await others();
    gate.setRate(perMinute / workers);
  };

  await register(3 * refreshMs);
  const before = await others();
  workers = 1 + before;
  gate.setRate(perMinute / workers);
  if (before > 0) {
    const waitMs = refreshMs + windowMs;
    gate.pauseUntil(Date.now() + waitMs);
    log.info({ workers, waitMs }, 'other workers are loading this migration under the same rate limit: waiting for them to make room');
  }
  const timer = setInterval(() => {
    refresh().catch((err: unknown) => log.warn({ error: describeError(err) }, 'could not refresh the rate share; keeping the current one'));
  }, refreshMs);
  timer.unref();
  return {
    get workers() { return workers; },
    async stop() {
      clearInterval(timer);
      await register(0).catch(() => undefined);
    },
  };
}
