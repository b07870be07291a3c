import { epochToIso } from '@hogport/common';

export type EpochUnit = 's' | 'ms' | 'us';

/** Below this, an epoch number is seconds: up to year 5138 as seconds, and only before March 1973 as milliseconds. */
export const SECONDS_BELOW = 1e11;
/** Below this (and from `SECONDS_BELOW`), milliseconds: 1973 to 5138 as milliseconds. From it on, microseconds. */
export const MILLISECONDS_BELOW = 1e14;

/**
 * The unit of an epoch number whose unit a source does not state (Heap's times, Mixpanel's `time`,
 * a CSV column), by its magnitude. The thresholds sit where each unit's range of plausible dates
 * ends: every instant from 1973 to 5138 is read right in any of the three units, and no number is
 * plausible in two. (Mixpanel's documented `> 1e10 means milliseconds` reads 1e10–1e11 as 1970–1973
 * in ms; here those are seconds in 2286–5138. Neither is a date analytics holds; one rule for all.)
 */
export function epochUnit(value: number): EpochUnit {
  const a = Math.abs(value);
  return a < SECONDS_BELOW ? 's' : a < MILLISECONDS_BELOW ? 'ms' : 'us';
}

/** An epoch number of guessed unit (`epochUnit`) as a normalised UTC timestamp, or undefined out of range. */
export function epochGuessToIso(value: number, fraction: 'ms' | 'us' | 'auto' = 'auto'): string | undefined {
  return epochToIso(value, epochUnit(value), fraction);
}
