import * as os from 'node:os';
import { hasCode, HogportError, type Logger } from '@hogport/common';
import type { Stage } from '@hogport/layout';
import { Claim, encodeControl, readControl } from '@hogport/manifest';
import { claimExpired, LEASE_ALLOWANCE_MS } from '@hogport/state';
import type { Store } from '@hogport/store';
import { StoreClock } from './clock.js';

export interface Worker {
  id: string;
  host: string;
  pid: number;
}

/**
 * This process as a worker. Its host is what tells a dead holder on this machine from a live one
 * elsewhere: HOGPORT_WORKER_HOST names the machine where hostnames repeat (containers given one
 * fixed hostname on several machines); by default it is the hostname.
 */
export function currentWorker(id?: string): Worker {
  const host = process.env.HOGPORT_WORKER_HOST || os.hostname();
  return { id: id ?? `${host}:${process.pid}:${Math.random().toString(36).slice(2, 6)}`, host, pid: process.pid };
}

/**
 * A held claim on a chunk. It renews itself every third of the lease; when a renewal finds the
 * claim replaced, the lease is lost and `signal` aborts, so the work stops and never commits.
 */
export class Lease {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private lost = false;
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly key: string,
    private claim: Claim,
    private etag: string,
    private readonly leaseMs: number,
    private readonly log: Logger,
    private readonly clock?: StoreClock,
  ) {
    this.signal = this.controller.signal;
    this.timer = setInterval(() => { void this.renew().catch(() => undefined); }, Math.max(1000, leaseMs / 3));
    this.timer.unref();
  }

  get attempt(): string {
    return this.claim.attempt;
  }

  /**
   * Renews now; throws E_LEASE_LOST if another worker took the chunk. Called right before committing.
   * One renewal at a time: two at once (the timer's and the commit's) would send the same etag, and
   * the loser would take its own renewal for a lost lease. A caller that comes while one is in
   * flight waits for it, then renews in turn, so it always gets a renewal that started after it asked.
   */
  async renew(): Promise<void> {
    const before = this.renewing;
    const mine = (async () => {
      if (before) await before.catch(() => undefined);
      await this.renewOnce();
    })();
    this.renewing = mine;
    try {
      await mine;
    } finally {
      if (this.renewing === mine) this.renewing = undefined;
    }
  }

  private async renewOnce(): Promise<void> {
    if (this.lost) throw this.lostError();
    const next: Claim = { ...this.claim, expiresAt: new Date(Date.now() + this.leaseMs).toISOString() };
    try {
      // A renewal whose answer was lost and whose retry met its own write is a renewal: the store's
      // conditional write tells (it reads the claim back), so E_PRECONDITION here means another holder.
      const sent = Date.now();
      const info = await this.store.writeIf(this.key, encodeControl(Claim, next), { ifMatch: this.etag });
      this.clock?.observe(info.modifiedAt, sent, Date.now());
      this.claim = next;
      this.etag = info.etag;
    } catch (err) {
      if (hasCode(err, 'E_PRECONDITION')) {
        this.lost = true;
        this.log.warn({ claim: this.key }, 'lease lost to another worker: abandoning the chunk without committing');
        this.controller.abort(this.lostError());
        throw this.lostError();
      }
      // A transient store error: the lease still stands until it expires.
      if (Date.parse(this.claim.expiresAt) < Date.now()) {
        this.lost = true;
        this.controller.abort(this.lostError());
        throw this.lostError();
      }
      throw err;
    }
  }

  /** Stops renewing and deletes the claim if it is still ours. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing?.catch(() => undefined);
    if (this.lost) return;
    const current = await this.store.head(this.key).catch(() => undefined);
    if (current?.etag === this.etag) await this.store.delete(this.key).catch(() => undefined);
  }

  private lostError(): HogportError {
    return new HogportError('E_LEASE_LOST', `lease on ${this.key} was taken by another worker`);
  }
}

/**
 * Claims a chunk for a stage: creates the claim if absent, or takes over one that has expired on the
 * store's clock (its last write + its lease + the allowance) or whose holder was a process on this
 * host that no longer exists. Returns undefined when another worker holds it.
 */
export async function acquireLease(opts: {
  store: Store; key: string; stage: Stage; chunk: string; attempt: string; worker: Worker; leaseMs: number; log: Logger;
  /** How long past its lease a claim stands before it is taken over; LEASE_ALLOWANCE_MS by default. */
  allowanceMs?: number;
  /** This machine's clock against the store's, kept by the run; read afresh when absent. */
  clock?: StoreClock;
}): Promise<Lease | undefined> {
  const clock = opts.clock ?? new StoreClock(opts.store, opts.log);
  const now = Date.now();
  const claim: Claim = {
    kind: 'hogport.claim', version: 1, stage: opts.stage, chunk: opts.chunk, worker: opts.worker.id, host: opts.worker.host,
    pid: opts.worker.pid, attempt: opts.attempt, acquiredAt: new Date(now).toISOString(), expiresAt: new Date(now + opts.leaseMs).toISOString(),
    leaseMs: opts.leaseMs,
  };
  const body = encodeControl(Claim, claim);
  try {
    const info = await opts.store.writeIf(opts.key, body, { ifAbsent: true });
    clock.observe(info.modifiedAt, now, Date.now());
    return new Lease(opts.store, opts.key, claim, info.etag, opts.leaseMs, opts.log, clock);
  } catch (err) {
    if (!hasCode(err, 'E_PRECONDITION')) throw err;
  }
  const existing = await readControl(opts.store, opts.key, Claim).catch((err: unknown) => {
    if (hasCode(err, 'E_CORRUPT_CONTROL')) return 'corrupt' as const;
    throw err;
  });
  if (existing === undefined) return undefined; // released meanwhile: the next pass claims it
  let etag: string;
  let previous: string | undefined;
  if (existing === 'corrupt') {
    const info = await opts.store.head(opts.key);
    if (!info) return undefined;
    etag = info.etag;
  } else {
    const judge = await clock.judge(opts.allowanceMs ?? LEASE_ALLOWANCE_MS);
    if (!claimExpired(existing.value, existing.info.modifiedAt, judge) && !holderIsDeadHere(existing.value, opts.worker)) return undefined;
    etag = existing.info.etag;
    previous = existing.value.worker;
  }
  try {
    const sent = Date.now();
    const info = await opts.store.writeIf(opts.key, body, { ifMatch: etag });
    clock.observe(info.modifiedAt, sent, Date.now());
    // Said once the conditional write won: workers racing for one abandoned claim would each say it before.
    opts.log.info({ chunk: opts.chunk, stage: opts.stage, previous: previous ?? 'an unreadable claim' }, 'took over an abandoned claim');
    return new Lease(opts.store, opts.key, claim, info.etag, opts.leaseMs, opts.log, clock);
  } catch (err) {
    if (hasCode(err, 'E_PRECONDITION')) return undefined;
    throw err;
  }
}

/** A claim made by a process on this very host that has since died need not wait for expiry. */
function holderIsDeadHere(claim: Claim, me: Worker): boolean {
  if (claim.host !== me.host || claim.pid === me.pid) return false;
  try {
    process.kill(claim.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
