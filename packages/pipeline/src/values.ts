/**
 * An id from a source record: a finite number as text, or a trimmed non-empty string. Exports write
 * missing ids as `null`, `""`, or the strings "null" and "undefined"; all of those are no id.
 */
export function idOf(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  return s === '' || s === 'null' || s === 'undefined' ? undefined : s;
}
