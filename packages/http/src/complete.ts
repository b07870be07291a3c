import { Transform } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { HogportError, isGzipMagic } from '@hogport/common';

/**
 * A check that a body is whole, fed every byte as it passes. `finish` runs when the body ends and
 * names what is missing, or returns undefined for a complete body.
 */
export interface BodyCheck {
  update(chunk: Buffer): void | Promise<void>;
  finish(): Promise<string | undefined>;
}

/** The error a body that ended early fails with: a network error, whatever the status line said. */
export function bodyIncomplete(what: string, problem: string): HogportError {
  return new HogportError('E_HTTP_BODY_INCOMPLETE', `the answer to ${what} ended early: ${problem}`);
}

export function isBodyIncomplete(err: unknown): boolean {
  return err instanceof HogportError && err.code === 'E_HTTP_BODY_INCOMPLETE';
}

/**
 * A pass-through that fails the stream at its end, before the reader sees the end, when a check
 * finds the body cut: a store write fed from it rejects, so a short body is never committed.
 */
export class CompleteBody extends Transform {
  bytes = 0;
  constructor(private readonly what: string, private readonly expectedBytes: number | undefined, private readonly checks: readonly BodyCheck[]) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    const pending = this.checks.map((c) => c.update(chunk)).filter((p): p is Promise<void> => p instanceof Promise);
    if (pending.length === 0) { cb(null, chunk); return; }
    Promise.all(pending).then(() => cb(null, chunk), (err: Error) => cb(err));
  }

  override _flush(cb: (err?: Error | null) => void): void {
    void (async () => {
      if (this.expectedBytes !== undefined && this.bytes !== this.expectedBytes) {
        return `${this.bytes} of the ${this.expectedBytes} bytes its Content-Length announced`;
      }
      for (const check of this.checks) {
        const problem = await check.finish();
        if (problem) return problem;
      }
      return undefined;
    })().then((problem) => cb(problem ? bodyIncomplete(this.what, problem) : null), (err: Error) => cb(err));
  }
}

/** The last bytes of a stream, at most `max`, without holding more. */
class Tail {
  private parts: Buffer[] = [];
  private length = 0;
  total = 0;
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.parts.push(chunk);
    this.length += chunk.length;
    while (this.length - this.parts[0]!.length >= this.max) this.length -= this.parts.shift()!.length;
  }
  get(): Buffer {
    const all = Buffer.concat(this.parts);
    return all.length > this.max ? all.subarray(all.length - this.max) : all;
  }
}

/** Longest last line kept to parse; a longer one is only required to end with a newline. */
const MAX_LAST_LINE = 8 * 1024 * 1024;

/**
 * JSON lines, plain or gzip (told by the first bytes): a gzip stream must end properly (its trailer
 * read, nothing after it), and the text must end with a newline after a last line that parses. A
 * complete export ends with a newline; one cut between lines without a newline is caught here.
 */
export function jsonLinesComplete(): BodyCheck {
  let gunzip: Gunzip | undefined;
  let gunzipError: Error | undefined;
  let decided = false;
  let head = Buffer.alloc(0);
  let line: Buffer[] = [];
  let lineBytes = 0;
  let lastLine: Buffer | undefined;
  let lastLineTooLong = false;
  let textBytes = 0;
  let endsWithNewline = false;
  const text = (b: Buffer) => {
    textBytes += b.length;
    let start = 0;
    let nl: number;
    while ((nl = b.indexOf(0x0a, start)) !== -1) {
      const piece = b.subarray(start, nl);
      const whole = lineBytes + piece.length;
      if (whole > 0) {
        lastLineTooLong = whole > MAX_LAST_LINE;
        lastLine = lastLineTooLong ? undefined : Buffer.concat([...line, piece]);
      }
      line = []; lineBytes = 0;
      start = nl + 1;
    }
    const rest = b.subarray(start);
    if (rest.length > 0) {
      lineBytes += rest.length;
      if (lineBytes <= MAX_LAST_LINE) line.push(Buffer.from(rest)); else line = [];
    }
    endsWithNewline = b.length > 0 ? b[b.length - 1] === 0x0a : endsWithNewline;
  };
  const feed = (chunk: Buffer): void | Promise<void> => {
    if (!gunzip) { text(chunk); return; }
    if (gunzipError) return;
    const z = gunzip;
    // Waits for the chunk to be inflated (backpressure); an inflate error may skip the callback.
    return new Promise<void>((resolve) => {
      const done = () => { z.off('error', done); resolve(); };
      z.once('error', done);
      z.write(chunk, done);
    });
  };
  return {
    update(chunk) {
      if (decided) return feed(chunk);
      head = Buffer.concat([head, chunk]);
      if (head.length < 2) return;
      decided = true;
      if (isGzipMagic(head)) {
        gunzip = createGunzip();
        gunzip.on('data', text);
        gunzip.on('error', (err) => { gunzipError = err; });
      }
      const first = head;
      head = Buffer.alloc(0);
      return feed(first);
    },
    async finish() {
      if (!decided && head.length > 0) { decided = true; text(head); }
      if (gunzip) {
        const z = gunzip;
        if (!gunzipError) await new Promise<void>((resolve) => { z.once('end', resolve); z.once('error', () => resolve()); z.end(); z.resume(); });
        if (gunzipError) return `its gzip stream does not end properly (${gunzipError.message})`;
      }
      if (textBytes === 0) return undefined;
      if (!endsWithNewline) return 'its last line has no newline (a complete export ends with one)';
      if (lastLineTooLong || lastLine === undefined) return undefined;
      try { JSON.parse(lastLine.toString('utf8')); } catch { return 'its last line is not JSON'; }
      return undefined;
    },
  };
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
/** Bytes of the end kept: the end-of-central-directory record (up to 64 KiB of comment) and most central directories. */
const ZIP_TAIL = 4 * 1024 * 1024;

/**
 * A zip: its end-of-central-directory record must be there, at the very end, and the central
 * directory it points to must end right where that record starts, with as many entries as it says
 * (walked when it fits in the kept tail). A zip cut anywhere loses its end record.
 */
export function zipComplete(): BodyCheck {
  const tail = new Tail(ZIP_TAIL);
  return {
    update(chunk) { tail.push(chunk); },
    async finish() {
      const buf = tail.get();
      const base = tail.total - buf.length;
      let at = -1;
      for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65_535); i--) {
        if (buf.readUInt32LE(i) === EOCD && i + 22 + buf.readUInt16LE(i + 20) === buf.length) { at = i; break; }
      }
      if (at < 0) return 'the zip has no end-of-central-directory record at its end';
      let entries = buf.readUInt16LE(at + 10);
      let size = buf.readUInt32LE(at + 12);
      let offset = buf.readUInt32LE(at + 16);
      let endOfDirectory = base + at;
      if (entries === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
        const loc = at - 20;
        if (loc < 0 || buf.readUInt32LE(loc) !== ZIP64_LOCATOR) return 'the zip64 end-of-central-directory locator is missing';
        const rec = Number(buf.readBigUInt64LE(loc + 8)) - base;
        if (rec < 0 || rec + 56 > buf.length || buf.readUInt32LE(rec) !== ZIP64_EOCD) return 'the zip64 end-of-central-directory record is missing';
        entries = Number(buf.readBigUInt64LE(rec + 32));
        size = Number(buf.readBigUInt64LE(rec + 40));
        offset = Number(buf.readBigUInt64LE(rec + 48));
        endOfDirectory = base + rec;
      }
      if (offset + size !== endOfDirectory) return `the zip's central directory (at ${offset}, ${size} bytes) does not end where its end record starts (${endOfDirectory})`;
      const start = offset - base;
      if (start < 0) return undefined;
      let p = start;
      for (let n = 0; n < entries; n++) {
        if (p + 46 > buf.length || buf.readUInt32LE(p) !== CENTRAL) return `the zip's central directory breaks off at entry ${n + 1} of ${entries}`;
        p += 46 + buf.readUInt16LE(p + 28) + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
      }
      if (p !== start + size) return "the zip's central directory does not hold the entries its end record counts";
      return undefined;
    },
  };
}
