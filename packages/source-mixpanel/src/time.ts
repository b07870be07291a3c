import { epochToIso, wallToUtc } from '@hogport/common';
import { epochUnit } from '@hogport/conventions';

/**
 * Mixpanel's `time`: epoch seconds, sometimes fractional, sometimes milliseconds (told by `epochUnit`). Projects
 * created before 2023 store the project's local wall time as if it were UTC; given that zone, the
 * wall time is turned back into the real instant. Returns a normalised UTC timestamp
 * (`…SS.fffZ`, or `…SS.ffffffZ` when microseconds are present), or undefined.
 */
export function mixpanelTime(value: unknown, zone?: string): string | undefined {
  const t = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) return undefined;
  // Seconds, milliseconds (or microseconds) by magnitude: the one rule every source shares.
  const unit = epochUnit(t);
  let micros = unit === 's' ? Math.round(t * 1_000_000) : unit === 'ms' ? Math.round(t * 1000) : Math.round(t);
  if (zone) {
    // Out of range (1e20 seconds) is no time at all, before any zone is asked about it.
    if (epochToIso(micros, 'us') === undefined) return undefined;
    const wallMs = Math.floor(micros / 1000);
    micros += (wallToUtc(wallMs, zone) - wallMs) * 1000;
  }
  return epochToIso(micros, 'us');
}
