import { pathToFileURL } from 'node:url';

/**
 * A module to preload (`node --import`) into a process whose clock should read off by
 * HOGPORT_TEST_CLOCK_SHIFT_MS (positive: ahead), the way a machine without NTP reads: `Date.now()`,
 * `new Date()` and `Date()` are shifted; timers, `performance.now()` and every other process's
 * clock are not. `skewedClockEnv` gives the environment that does it.
 */
const shift = Number(process.env.HOGPORT_TEST_CLOCK_SHIFT_MS ?? 0);

if (Number.isFinite(shift) && shift !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class SkewedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + shift);
      else super(...(args as [string | number | Date]));
    }

    static override now(): number {
      return realNow() + shift;
    }
  }
  // `Date()` called without `new` gives the time now as text.
  globalThis.Date = new Proxy(SkewedDate, { apply: () => new SkewedDate().toString() }) as DateConstructor;
}

/** The environment of a process whose clock reads `shiftMs` off (positive: ahead). */
export function skewedClockEnv(shiftMs: number): Record<string, string> {
  const url = pathToFileURL(new URL(import.meta.url).pathname).href;
  const inherited = process.env.NODE_OPTIONS ? `${process.env.NODE_OPTIONS} ` : '';
  return { NODE_OPTIONS: `${inherited}--import=${url}`, HOGPORT_TEST_CLOCK_SHIFT_MS: String(shiftMs) };
}
