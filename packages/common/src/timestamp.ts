const ISO = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Normalises an ISO 8601 date-time to UTC `YYYY-MM-DDTHH:MM:SS.fffZ`, keeping microseconds when the
 * input has them. A time without a zone is taken as UTC. Returns undefined for anything that is not
 * a real date-time (month 13, February 30th, a bare date). The same input always gives the same
 * output, which is what lets a re-sent event collapse in PostHog.
 */
export function normalizeTimestamp(input: string): string | undefined {
  // Most exports already write this very form (JavaScript's toISOString): check it, return it.
  if ((input.length === 24 || input.length === 27) && NORMAL.test(input) && validClock(input) && validDate(input.slice(0, 10))) return input;
  const m = ISO.exec(input.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s = '0', frac = '', zone = 'Z'] = m;
  const year = Number(y), month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(s);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const base = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(base);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2, 4) || '0');
    if (oh > 23 || om > 59) return undefined;
    offsetMin = sign * (oh * 60 + om);
  }
  const instant = base - offsetMin * 60_000;
  // An offset can carry a time at the edge of year 0000 or 9999 out of what four digits write.
  if (instant < MIN_EPOCH_MS || instant > MAX_EPOCH_MS) return undefined;
  const whole = new Date(instant).toISOString().slice(0, 19);
  const fraction = frac.length > 3 ? frac.padEnd(6, '0').slice(0, 6) : frac.padEnd(3, '0');
  return `${whole}.${fraction}Z`;
}

const NORMAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.(?:\d{3}|\d{6})Z$/;
const validDates = new Map<string, boolean>();

function validClock(s: string): boolean {
  return s.slice(11, 13) <= '23' && s.slice(14, 16) <= '59' && s.slice(17, 19) <= '59';
}

/** Whether `YYYY-MM-DD` is a real calendar date; remembered, since records come in runs of days. */
function validDate(date: string): boolean {
  let ok = validDates.get(date);
  if (ok === undefined) {
    const [y, m, d] = date.split('-').map(Number) as [number, number, number];
    const check = new Date(Date.UTC(y, m - 1, d));
    ok = m >= 1 && m <= 12 && check.getUTCFullYear() === y && check.getUTCMonth() === m - 1 && check.getUTCDate() === d;
    if (validDates.size >= 10_000) validDates.clear();
    validDates.set(date, ok);
  }
  return ok;
}

/**
 * A sortable key for a normalised timestamp: milliseconds and microseconds forms compare correctly
 * (`…52.846Z` is before `…52.846123Z`), which plain string comparison gets wrong.
 */
export function timeKey(normalized: string): string {
  return normalized.length === 24 ? `${normalized.slice(0, 23)}000Z` : normalized;
}

/** 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: the instants a four-digit ISO year can write. */
const MIN_EPOCH_MS = -62_167_219_200_000;
const MAX_EPOCH_MS = 253_402_300_799_999;
const PER_MICROSECOND = { s: 1_000_000, ms: 1000, us: 1 } as const;

/**
 * An epoch number (seconds, milliseconds or microseconds, fractions allowed) as a normalised UTC
 * timestamp, or undefined when it is not finite or lies outside years 0000–9999 (`1e20` seconds, a
 * 20-digit microsecond count): such a time makes `new Date(…).toISOString()` throw, and a record
 * with one must become a reject, never a failed chunk. Every source converts epoch numbers here.
 *
 * `fraction` says how the sub-second part is written: `ms` keeps milliseconds (truncated, as `Date`
 * does), `us` always writes six digits, `auto` writes microseconds only when there are some.
 */
export function epochToIso(value: number, unit: 's' | 'ms' | 'us', fraction: 'ms' | 'us' | 'auto' = 'auto'): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  // Milliseconds are computed as `new Date(n * 1000)` and the like always did, so times stay the same.
  const micros = fraction === 'ms' ? Math.trunc(unit === 's' ? value * 1000 : unit === 'ms' ? value : value / 1000) * 1000 : Math.round(value * PER_MICROSECOND[unit]);
  const ms = Math.floor(micros / 1000);
  if (!(ms >= MIN_EPOCH_MS && ms <= MAX_EPOCH_MS)) return undefined;
  const iso = new Date(ms).toISOString();
  const rest = micros - ms * 1000;
  if (fraction === 'ms' || (fraction === 'auto' && rest === 0)) return iso;
  return `${iso.slice(0, 23)}${String(rest).padStart(3, '0')}Z`;
}
