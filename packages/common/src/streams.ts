import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import { HogportError } from './errors.js';

/**
 * Reads up to `n` bytes from the front of a stream and puts them back, so the stream is unchanged.
 * Once some bytes have arrived it does not wait for more: waiting could run into the end of a short
 * stream, after which nothing can be put back.
 */
export async function peekBytes(input: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < n) {
    if (length > 0 && input.readableLength === 0) break;
    const chunk = input.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      length += chunk.length;
      continue;
    }
    if (input.readableEnded || input.destroyed) break;
    const ended = await new Promise<boolean>((resolve, reject) => {
      const done = (value: boolean, err?: unknown) => {
        input.off('readable', onReadable); input.off('end', onEnd); input.off('error', onError);
        if (err) reject(err); else resolve(value);
      };
      const onReadable = () => done(false);
      const onEnd = () => done(true);
      const onError = (err: unknown) => done(true, err);
      input.on('readable', onReadable); input.on('end', onEnd); input.on('error', onError);
    });
    if (ended) break;
  }
  const head = Buffer.concat(chunks);
  if (head.length > 0) input.unshift(head);
  return head.subarray(0, n);
}

/** True when the bytes start with the gzip magic `1f 8b`. */
export function isGzipMagic(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * Decompresses a stream when its first bytes are the gzip magic, and passes it through otherwise.
 * Names and headers lie (".json.gz" files that are plain, objects served already decompressed), so
 * only the bytes decide.
 */
export async function gunzipIfGzipped(input: Readable): Promise<Readable> {
  const head = await peekBytes(input, 2);
  if (!isGzipMagic(head)) return input;
  // A deeper buffer lets decompression (on the thread pool) run ahead of the line consumer.
  const gunzip = createGunzip({ highWaterMark: 1024 * 1024 } as unknown as ZlibOptions);
  input.on('error', (err) => gunzip.destroy(err));
  return input.pipe(gunzip);
}

/**
 * A pass-through that counts bytes and computes a sha256 of everything that flows through it. Given
 * an expected digest, it fails the stream at its end when the bytes differ, before the reader sees
 * the end, so nothing built from wrong bytes can be committed.
 */
export class HashingCounter extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private hex: string | undefined;

  constructor(private readonly verify?: { sha256: string; mismatch: (actual: string) => Error }) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: (err?: Error | null) => void): void {
    if (this.verify && this.sha256 !== this.verify.sha256) cb(this.verify.mismatch(this.sha256));
    else cb();
  }

  /** The digest; valid once the stream has ended. */
  get sha256(): string {
    this.hex ??= this.hash.digest('hex');
    return this.hex;
  }
}

/** The longest line read by default: a little over capture's 1,000,000-byte limit for one event. */
export const MAX_LINE_BYTES = 1_100_000;

/** Bytes of an over-long line kept, so its reject shows what it was. */
const TOO_LONG_HEAD_BYTES = 1024;

/** One line of a byte stream, or what is left of one that was too long to hold. */
export interface SplitLine {
  /** The line without its LF or CRLF; for an over-long line, only its first bytes. */
  line: string;
  /** 1-based. */
  number: number;
  /** Byte offset where the line starts. */
  offset: number;
  /** Set when the line's bytes are not valid UTF-8: `line` then holds U+FFFD in their place. */
  invalidUtf8?: true;
  /** Set when the line ended in CRLF, not LF: a reader joining lines (a quoted CSV field) puts it back. */
  crlf?: true;
  /** The line's length in bytes, set only when it is over the maximum and was skipped, never held. */
  tooLong?: number;
}

export interface SplitLinesOptions {
  /**
   * Lines longer than this (a CR of CRLF counted) are skipped to their newline and yielded with
   * `tooLong`. No limit by default: hogport's own objects hold lines it wrote; a reader of source
   * records passes `MAX_LINE_BYTES`.
   */
  maxLineBytes?: number;
  /** Checked on every piece read, so a stop interrupts even a line without end. */
  signal?: AbortSignal;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

/**
 * Splits a byte stream into lines (LF or CRLF), yielding each with its 1-based number and the byte
 * offset where it starts, holding at most one line (up to the maximum) and one read buffer. A line's
 * pieces are collected and joined once, so a long line costs its length, not its length squared. A
 * UTF-8 byte order mark at the very start is not part of the first line.
 */
export async function* splitLines(input: AsyncIterable<Buffer | string>, options: SplitLinesOptions = {}): AsyncGenerator<SplitLine> {
  for await (const batch of splitLineBatches(input, options)) for (const line of batch) yield line;
}

/**
 * `splitLines`, the lines of each piece read handed over together: a reader that goes through every
 * line saves a promise per line.
 */
export async function* splitLineBatches(input: AsyncIterable<Buffer | string>, options: SplitLinesOptions = {}): AsyncGenerator<SplitLine[]> {
  const max = options.maxLineBytes ?? Infinity;
  const signal = options.signal;
  // Pieces of the line under way (at most `max` bytes of them), and its length so far in bytes.
  let pieces: Buffer[] = [];
  let pending = 0;
  // The length of an over-long line being skipped, and its first bytes; -1 while none is.
  let skipped = -1;
  let head: Buffer = Buffer.alloc(0);
  let number = 0;
  let offset = 0;
  let first = true;
  // Whether the piece being split is valid UTF-8 as a whole: then none of its lines need a check.
  let pieceValid = false;
  const emit = (bytes: Buffer, start: number, nl: number, valid: boolean): SplitLine => {
    const end = nl > start && bytes[nl - 1] === 0x0d ? nl - 1 : nl;
    const line = bytes.toString('utf8', start, end);
    number += 1;
    const out: SplitLine = { line, number, offset };
    if (end < nl) out.crlf = true;
    if (!valid && !isUtf8(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end))) out.invalidUtf8 = true;
    return out;
  };
  const overLong = (): SplitLine => {
    number += 1;
    const out: SplitLine = { line: head.toString('utf8'), number, offset, tooLong: skipped };
    if (!isUtf8(head)) out.invalidUtf8 = true;
    return out;
  };
  let batch: SplitLine[] = [];
  for await (const piece of input) {
    if (signal?.aborted) throw stopReason(signal);
    if (batch.length > 0) batch = [];
    let buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
    if (first && buf.length > 0) {
      first = false;
      if (buf.length >= 3 && buf[0] === UTF8_BOM[0] && buf[1] === UTF8_BOM[1] && buf[2] === UTF8_BOM[2]) { buf = buf.subarray(3); offset = 3; }
    }
    // A piece may end inside a character, and then fails as a whole; its lines are checked one by one.
    pieceValid = isUtf8(buf);
    let start = 0;
    let nl: number;
    while ((nl = buf.indexOf(0x0a, start)) !== -1) {
      if (skipped >= 0) {
        skipped += nl - start;
        batch.push(overLong());
        offset += skipped + 1;
        skipped = -1;
        head = Buffer.alloc(0);
      } else if (pending + nl - start > max) {
        skipped = pending + nl - start;
        head = headOf(pieces, buf.subarray(start, nl));
        pieces = []; pending = 0;
        batch.push(overLong());
        offset += skipped + 1;
        skipped = -1;
        head = Buffer.alloc(0);
      } else if (pending > 0) {
        pieces.push(buf.subarray(start, nl));
        const bytes = Buffer.concat(pieces, pending + nl - start);
        pieces = []; pending = 0;
        batch.push(emit(bytes, 0, bytes.length, false));
        offset += bytes.length + 1;
      } else {
        batch.push(emit(buf, start, nl, pieceValid));
        offset += nl + 1 - start;
      }
      start = nl + 1;
    }
    if (start < buf.length) {
      const rest = buf.length - start;
      if (skipped >= 0) {
        skipped += rest;
      } else if (pending + rest > max) {
        skipped = pending + rest;
        head = headOf(pieces, buf.subarray(start));
        pieces = []; pending = 0;
      } else {
        // A copy: the stream may reuse its buffer once the next piece is asked for.
        pieces.push(Buffer.from(buf.subarray(start)));
        pending += rest;
      }
    }
    if (batch.length > 0) yield batch;
  }
  batch = [];
  if (skipped >= 0) {
    batch.push(overLong());
  } else if (pending > 0) {
    const bytes = Buffer.concat(pieces, pending);
    pieces = [];
    batch.push(emit(bytes, 0, bytes.length, false));
  }
  if (batch.length > 0) yield batch;
}

function headOf(pieces: Buffer[], last: Buffer): Buffer {
  const wanted: Buffer[] = [];
  let length = 0;
  for (const p of [...pieces, last]) {
    if (length >= TOO_LONG_HEAD_BYTES) break;
    wanted.push(p);
    length += p.length;
  }
  return Buffer.from(Buffer.concat(wanted).subarray(0, TOO_LONG_HEAD_BYTES));
}

/** What a read stopped by `signal` throws: its reason, or an error saying the run was asked to stop. */
export function stopReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new HogportError('E_ABORTED', 'reading stopped: the run was asked to stop');
}

/** sha256 hex of a string or bytes. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Collects a (small) stream into one buffer. Only for objects known to be small, like manifests. */
export async function readAll(input: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}
