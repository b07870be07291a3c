/**
 * JSON with keys sorted at every level, so that equal values always serialise to equal strings:
 * the basis of config hashes and content-derived uuids. Every own key counts, `__proto__` included
 * (a record's key is data, and two records differing only there must not share a uuid), and depth
 * is bounded only by memory: the walk keeps its own stack, so a record nested 100,000 deep cannot
 * overflow the call stack. Objects are read as their own enumerable keys (`toJSON` is not called),
 * as the recursive form this replaces did, so every content uuid made before stays the same.
 */
export function canonicalJson(value: unknown): string {
  if (!isContainer(value)) return JSON.stringify(value);
  const sorted = sortKeys(value, 0);
  // A sorted copy serialised by JSON.stringify is the fast way; past the depth it would need, the
  // walk with its own stack writes the same text.
  return sorted === TOO_DEEP ? walked(value) : JSON.stringify(sorted);
}

/** Deeper than this, JSON.stringify (and a recursive copy) could exhaust the call stack. */
const RECURSION_DEPTH = 256;
const TOO_DEEP = Symbol('too deep');

function sortKeys(value: unknown, depth: number): unknown {
  if (!isContainer(value)) return value;
  if (depth >= RECURSION_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const v = sortKeys(value[i], depth + 1);
      if (v === TOO_DEEP) return TOO_DEEP;
      out[i] = v;
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = sortKeys((value as Record<string, unknown>)[key], depth + 1);
    if (v === TOO_DEEP) return TOO_DEEP;
    setOwn(out, key, v);
  }
  return out;
}

/** The same text as JSON.stringify of the sorted copy, with an explicit stack instead of the call stack. */
function walked(value: object): string {
  let out = Array.isArray(value) ? '[' : '{';
  const stack: Frame[] = [open(value)];
  while (stack.length > 0) {
    const f = stack[stack.length - 1]!;
    if (f.i >= f.keys.length) {
      out += f.array ? ']' : '}';
      stack.pop();
      continue;
    }
    const key = f.keys[f.i++]!;
    const v: unknown = (f.value as Record<string | number, unknown>)[key];
    if (f.array) {
      if (f.i > 1) out += ',';
    } else {
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      out += `${f.wrote ? ',' : ''}${JSON.stringify(key)}:`;
      f.wrote = true;
    }
    if (isContainer(v)) {
      out += Array.isArray(v) ? '[' : '{';
      stack.push(open(v));
    } else {
      out += scalar(v);
    }
  }
  return out;
}

/** A value that is not an object, as JSON; in an array, what has no JSON form is null. */
function scalar(v: unknown): string {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol' ? 'null' : JSON.stringify(v);
}

interface Frame { value: object; array: boolean; keys: Array<string | number>; i: number; wrote: boolean }

function open(value: object): Frame {
  const array = Array.isArray(value);
  return { value, array, keys: array ? Array.from({ length: value.length }, (_, i) => i) : Object.keys(value).sort(), i: 0, wrote: false };
}

function isContainer(v: unknown): v is object {
  return v !== null && typeof v === 'object';
}

/**
 * The value of a key a record owns, or undefined: a key from data (`constructor`, `toString`) must
 * never find Object.prototype's members, which a plain `obj[key]` lookup does.
 */
export function ownValue(obj: object, key: string): unknown {
  return Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}

/**
 * Sets a key from data as an own property. Plain assignment drops `__proto__` silently (or replaces
 * the object's prototype); every other name is a plain store, which keeps V8's fast layout.
 */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in its canonical 8-4-4-4-12 hex form, the only form capture accepts. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * A JSON number that a double cannot hold exactly (an integer beyond 2^53, `1e400`), kept as the
 * digits the source wrote. Ids read from it keep every digit; serialised, it becomes a string,
 * since no JSON writer of this Node emits raw number text: a change the reader counts.
 */
export class ExactNumber {
  constructor(readonly text: string) {}
  toJSON(): string {
    return this.text;
  }
  toString(): string {
    return this.text;
  }
}
