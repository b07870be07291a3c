/** Time zones by IANA name, for sources whose times are wall-clock times in a zone. */

const formats = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, number>();

/** The zone's offset (local − UTC) in ms at a UTC instant; cached per quarter hour, as zones only change on those. */
function offsetAt(zone: string, utcMs: number): number {
  const key = `${zone}|${Math.floor(utcMs / 900_000)}`;
  const known = offsets.get(key);
  if (known !== undefined) return known;
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formats.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(utcMs)).map((x) => [x.type, x.value]));
  const local = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  const offset = local - Math.floor(utcMs / 1000) * 1000;
  if (offsets.size > 100_000) offsets.clear();
  offsets.set(key, offset);
  return offset;
}

/** The UTC instant of a wall-clock time in a zone (for a time that occurs twice, the first). */
export function wallToUtc(wallMs: number, zone: string): number {
  let utc = wallMs - offsetAt(zone, wallMs);
  utc = wallMs - offsetAt(zone, utc);
  return utc;
}

/** Whether a string names a time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
