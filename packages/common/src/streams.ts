import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';

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

/**
 * Splits a byte stream into lines (LF or CRLF), yielding each with its 1-based number and the byte
 * offset where it starts, without ever holding more than one line and one read buffer.
 */
export async function* splitLines(input: AsyncIterable<Buffer | string>): AsyncGenerator<{ line: string; number: number; offset: number }> {
  let carry: Buffer = Buffer.alloc(0);
  let number = 0;
  let offset = 0;
  for await (const piece of input) {
    const buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
    let data = carry.length > 0 ? Buffer.concat([carry, buf]) : buf;
    let start = 0;
    let nl: number;
    while ((nl = data.indexOf(0x0a, start)) !== -1) {
      const end = nl > start && data[nl - 1] === 0x0d ? nl - 1 : nl;
      number += 1;
      yield { line: data.toString('utf8', start, end), number, offset };
      offset += nl + 1 - start;
      start = nl + 1;
    }
    carry = start < data.length ? Buffer.from(data.subarray(start)) : Buffer.alloc(0);
    data = Buffer.alloc(0);
  }
  if (carry.length > 0) {
    const end = carry[carry.length - 1] === 0x0d ? carry.length - 1 : carry.length;
    number += 1;
    yield { line: carry.toString('utf8', 0, end), number, offset };
  }
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
