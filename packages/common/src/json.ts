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

/** An ExactNumber is a scalar: it serialises as its own text, not as an object with a `text` key. */
function isContainer(v: unknown): v is object {
  return v !== null && typeof v === 'object' && !(v instanceof ExactNumber);
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

/**
 * Walks a parsed value's numbers: true when one is past 2^53 or not finite (digits were lost). The
 * fractions and zeros, which may have lost digits (`0.1000000000000000055511`, `1e-400`), are put in
 * `maybe` for the text to confirm.
 */
function unsafeNumberIn(v: object, maybe: number[]): boolean {
  // Indexed for arrays and for-in for objects, without Object.values: this runs on every record.
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (unsafeValue(v[i], maybe)) return true;
    return false;
  }
  for (const k in v) if (unsafeValue((v as Record<string, unknown>)[k], maybe)) return true;
  return false;
}

/** One value of `unsafeNumberIn`'s walk: a number checked (and a fraction or zero kept for the text), an object walked. */
function unsafeValue(x: unknown, maybe: number[]): boolean {
  if (typeof x === 'number') {
    if (!(x <= Number.MAX_SAFE_INTEGER && x >= -Number.MAX_SAFE_INTEGER)) return true;
    if (x === 0 || x % 1 !== 0) maybe.push(x);
    return false;
  }
  return typeof x === 'object' && x !== null && unsafeNumberIn(x, maybe);
}

/**
 * True unless every number in `maybe` stands in the text as its own shortest form, a whole token
 * (after `:`, `,`, `[` or a space; before anything but a digit, point or exponent), once per value:
 * then that double is exactly what the source wrote. Otherwise the text may hold more digits.
 */
function mayHaveLostDigits(text: string, maybe: number[]): boolean {
  if (maybe.length === 0) return false;
  // Where the search for each token goes on: a value seen twice needs two tokens.
  const tokens: string[] = [];
  const cursors: number[] = [];
  for (const v of maybe) {
    const token = v === 0 ? '0' : String(v);
    const seen = tokens.indexOf(token);
    let at = seen === -1 ? 0 : cursors[seen]!;
    for (;;) {
      at = text.indexOf(token, at);
      if (at === -1) return true;
      const before = text.charCodeAt(at - 1);
      const after = text.charCodeAt(at + token.length);
      at += token.length;
      // : , [ space tab LF CR before; after: not a digit, point, e or E.
      if ((before === 58 || before === 44 || before === 91 || before === 32 || before === 9 || before === 10 || before === 13)
        && !((after >= 48 && after <= 57) || after === 46 || after === 101 || after === 69)) break;
    }
    if (seen === -1) { tokens.push(token); cursors.push(at); } else cursors[seen] = at;
  }
  return false;
}

const MAYBE: number[] = [];

/**
 * Parses JSON text as `JSON.parse` does (same errors, `__proto__` an ordinary own key), except that a
 * number a double cannot hold (`9007199254740993`, `1e400`, `0.1000000000000000055511`) becomes an
 * `ExactNumber` with the source's text; `exact` tells whether any did. The usual line costs one
 * `JSON.parse` and a walk of its numbers: the text is parsed again, token by token, only when a
 * number is past 2^53 or not finite, or a fraction or zero is not written in its shortest form.
 */
export function parseJsonExact(text: string): { value: unknown; exact: boolean } {
  const value: unknown = JSON.parse(text);
  try {
    return exactly(text, value);
  } catch (err) {
    // JSON.parse keeps its own stack; the walks below use the call stack, which a record nested
    // 100,000 deep exhausts.
    if (err instanceof RangeError && /call stack/i.test(err.message)) throw new TooDeepError();
    throw err;
  }
}

/** A JSON text nested too deeply to be read with its numbers checked. */
export class TooDeepError extends Error {
  constructor() {
    super('the record is nested too deeply to read');
    this.name = 'TooDeepError';
  }
}

function exactly(text: string, value: unknown): { value: unknown; exact: boolean } {
  if (value === null || typeof value !== 'object') {
    if (typeof value !== 'number' || numberRoundTrips(text.trim())) return { value, exact: false };
  } else {
    // One list for every call: parsing is synchronous, and most records put nothing in it.
    MAYBE.length = 0;
    if (!unsafeNumberIn(value, MAYBE) && !mayHaveLostDigits(text, MAYBE)) return { value, exact: false };
  }
  const parser = new ExactParser(text);
  const exactValue = parser.parse();
  return { value: exactValue, exact: parser.exact };
}

/** True when a JSON number's text and the double it parses to are the same decimal value. */
export function numberRoundTrips(text: string): boolean {
  const n = Number(text);
  if (!Number.isFinite(n)) return false;
  if (String(n) === text) return true;
  return sameDecimal(decimalOf(text), decimalOf(String(n)));
}

/** A decimal as its significant digits (no leading or trailing zeros) and the exponent of the first. */
function decimalOf(text: string): { negative: boolean; digits: string; exponent: number } {
  let s = text;
  const negative = s.startsWith('-');
  if (negative) s = s.slice(1);
  const e = s.search(/[eE]/);
  const power = e === -1 ? 0 : Number(s.slice(e + 1));
  const mantissa = e === -1 ? s : s.slice(0, e);
  const point = mantissa.indexOf('.');
  const whole = point === -1 ? mantissa : mantissa.slice(0, point);
  const all = point === -1 ? mantissa : whole + mantissa.slice(point + 1);
  const lead = all.search(/[1-9]/);
  if (lead === -1) return { negative: false, digits: '', exponent: 0 };
  const digits = all.slice(lead).replace(/0+$/, '');
  return { negative, digits, exponent: whole.length - lead - 1 + power };
}

function sameDecimal(a: ReturnType<typeof decimalOf>, b: ReturnType<typeof decimalOf>): boolean {
  return a.digits === b.digits && (a.digits === '' || (a.negative === b.negative && a.exponent === b.exponent));
}

/**
 * A JSON parser for text `JSON.parse` has already accepted, so it checks little: it exists to see
 * each number's text. Strings are decoded by `JSON.parse` on their token.
 */
class ExactParser {
  private i = 0;
  exact = false;
  constructor(private readonly s: string) {}

  parse(): unknown {
    const v = this.value();
    this.ws();
    if (this.i !== this.s.length) throw new SyntaxError(`Unexpected text at position ${this.i}`);
    return v;
  }

  private ws(): void {
    const s = this.s;
    let c: number;
    while (this.i < s.length && ((c = s.charCodeAt(this.i)) === 32 || c === 10 || c === 13 || c === 9)) this.i++;
  }

  private value(): unknown {
    this.ws();
    const s = this.s;
    const c = s[this.i];
    if (c === '{') {
      this.i++;
      const out: Record<string, unknown> = {};
      this.ws();
      if (s[this.i] === '}') { this.i++; return out; }
      for (;;) {
        this.ws();
        const key = this.string();
        this.ws();
        this.expect(':');
        const v = this.value();
        // As JSON.parse does: `__proto__` is an own key, never the prototype.
        if (key === '__proto__') Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
        else out[key] = v;
        this.ws();
        if (s[this.i] === ',') { this.i++; continue; }
        this.expect('}');
        return out;
      }
    }
    if (c === '[') {
      this.i++;
      const out: unknown[] = [];
      this.ws();
      if (s[this.i] === ']') { this.i++; return out; }
      for (;;) {
        out.push(this.value());
        this.ws();
        if (s[this.i] === ',') { this.i++; continue; }
        this.expect(']');
        return out;
      }
    }
    if (c === '"') return this.string();
    if (s.startsWith('true', this.i)) { this.i += 4; return true; }
    if (s.startsWith('false', this.i)) { this.i += 5; return false; }
    if (s.startsWith('null', this.i)) { this.i += 4; return null; }
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = this.i;
    const found = m.exec(s);
    if (!found) throw new SyntaxError(`Unexpected token at position ${this.i}`);
    this.i += found[0].length;
    const text = found[0];
    if (numberRoundTrips(text)) return Number(text);
    this.exact = true;
    return new ExactNumber(text);
  }

  private string(): string {
    const s = this.s;
    if (s[this.i] !== '"') throw new SyntaxError(`Expected a string at position ${this.i}`);
    let j = this.i + 1;
    let escaped = false;
    for (;;) {
      const q = s.indexOf('"', j);
      if (q === -1) throw new SyntaxError('Unterminated string');
      let backslashes = 0;
      for (let k = q - 1; k > this.i && s.charCodeAt(k) === 92; k--) backslashes++;
      if (backslashes > 0) escaped = true;
      if (backslashes % 2 === 0) {
        const token = s.slice(this.i, q + 1);
        this.i = q + 1;
        return escaped ? (JSON.parse(token) as string) : token.slice(1, -1);
      }
      j = q + 1;
    }
  }

  private expect(ch: string): void {
    if (this.s[this.i] !== ch) throw new SyntaxError(`Expected '${ch}' at position ${this.i}`);
    this.i++;
  }
}

/** True when the value holds an `ExactNumber` anywhere. */
export function holdsExactNumber(value: unknown): boolean {
  if (value instanceof ExactNumber) return true;
  if (Array.isArray(value)) return value.some(holdsExactNumber);
  if (value !== null && typeof value === 'object') return Object.values(value).some(holdsExactNumber);
  return false;
}
