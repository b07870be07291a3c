import { describeError, type Logger } from '@hogport/common';
import { CLOCK_SKEW_WARN_MS, skewWords, type LeaseJudge } from '@hogport/state';
import type { Store } from '@hogport/store';

/**
 * This machine's clock against the store's. Claims are judged on the store's clock (see
 * claimExpired), which a worker knows as its own time plus the offset it measured: once with one
 * request when it starts, then from the time the store records for each claim it writes, so
 * the offset follows a clock that is stepped or drifts while the run goes on.
 */
export class StoreClock {
  /** The store's clock minus this one, as last measured. */
  private offsetMs: number | undefined;
  private warned = false;
  /** The first reading, shared by every chunk that asks for it at once. */
  private first: Promise<void> | undefined;

  constructor(private readonly store: Store, private readonly log: Logger) {}

  /** How far this machine's clock is ahead of the store's (negative: behind); undefined until measured. */
  get skewMs(): number | undefined {
    return this.offsetMs === undefined ? undefined : -this.offsetMs;
  }

  /** Reads the store's time with one request; a store that cannot tell it leaves the clock unmeasured. */
  async measure(): Promise<void> {
    const sent = Date.now();
    const storeNow = await this.store.now().catch((err: unknown) => {
      this.log.debug({ store: this.store.url, error: describeError(err) }, 'could not read the store\'s clock');
      return undefined;
    });
    this.observe(storeNow, sent, Date.now());
  }

  /**
   * Takes in a time the store told (its time now, or the time it recorded for a write) of a request
   * sent at `sent` and answered at `answered` by this machine's clock.
   */
  observe(storeTime: number | undefined, sent: number, answered: number): void {
    if (storeTime === undefined || !Number.isFinite(storeTime)) return;
    this.offsetMs = storeTime - (sent + answered) / 2;
    const skew = -this.offsetMs;
    const off = Math.abs(skew) > CLOCK_SKEW_WARN_MS;
    if (off && !this.warned) {
      this.log.warn(
        { skewMs: Math.round(skew), store: this.store.url },
        `this machine's clock is ${skewWords(skew)} the store's clock: sync it with NTP (chrony, systemd-timesyncd or ntpd). ` +
        'Leases are judged on the store\'s clock, so claims stay safe, but the times hogport records in manifests and failures come from this clock',
      );
    }
    // Said again if the clock is set right and then goes off again.
    this.warned = off;
  }

  /** The store's time now, measuring first when nothing has yet, and the allowance to judge claims with. */
  async judge(allowanceMs: number): Promise<LeaseJudge> {
    if (this.offsetMs === undefined) await (this.first ??= this.measure());
    return { storeNow: Date.now() + (this.offsetMs ?? 0), allowanceMs };
  }
}
