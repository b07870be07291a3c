import { ExactNumber } from '@hogport/common';

/**
 * An id from a source record: a finite number as text (every digit the source wrote, for a number a
 * double cannot hold), or a trimmed non-empty string. Exports write missing ids as `null`, `""`, or
 * the strings "null" and "undefined"; all of those are no id.
 */
export function idOf(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (v instanceof ExactNumber) return v.text;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  return s === '' || s === 'null' || s === 'undefined' ? undefined : s;
}

/**
 * A function returning a copy of a record without the given keys, in the record's order. It is
 * object rest (`{ [k0]: _, ...rest } = r`), made for these keys: V8 gives the copy a fast layout,
 * where a copy built key by key becomes a dictionary that serialises at a third of the speed.
 */
export function omitter(keys: string[]): (record: object) => Record<string, unknown> {
  const params = keys.map((_, i) => `k${i}`);
  const pattern = [...params.map((p, i) => `[${p}]: _${i}`), '...rest'].join(', ');
  return new Function(...params, `return (r) => { const { ${pattern} } = r; return rest; };`)(...keys) as (record: object) => Record<string, unknown>;
}

/** A value worth carrying: exports leave a field they have no value for undefined, null or empty. */
export function hasValue(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

/**
 * A setter of `target`'s keys that skips what is no value (by `hasValue`, or a source's own test, such
 * as GA4's placeholders); `first` keeps a key already set, so what the record said itself wins.
 */
export function putter(target: Record<string, unknown>, options: { first?: boolean; isValue?: (v: unknown) => boolean } = {}): (key: string, value: unknown) => void {
  const isValue = options.isValue ?? hasValue;
  return options.first
    ? (k, v) => { if (isValue(v) && target[k] === undefined) target[k] = v; }
    : (k, v) => { if (isValue(v)) target[k] = v; };
}

/**
 * `make` made once per object it is given (a source's parsed mapping options): the sets and
 * omitters a mapping derives from its options are built once, not once per record.
 */
export function oncePer<K extends object, V>(make: (key: K) => V): (key: K) => V {
  const made = new WeakMap<K, V>();
  return (key) => {
    let v = made.get(key);
    if (v === undefined) { v = make(key); made.set(key, v); }
    return v;
  };
}
