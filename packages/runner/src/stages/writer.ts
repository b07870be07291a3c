import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createGzip, type Gzip, type ZlibOptions } from 'node:zlib';
import { HashingCounter } from '@hogport/common';
import type { OutputRef } from '@hogport/manifest';
import type { Store } from '@hogport/store';

/**
 * Writes JSON lines as a gzip object in the store while they are produced: backpressure from the
 * upload reaches the producer, and only a buffer's worth is ever in memory. Tracks the sha256 of the
 * uncompressed content and of the stored bytes.
 */
const PIECE = 64 * 1024;

export class GzipLinesWriter {
  records = 0;
  private piece = Buffer.allocUnsafe(2 * PIECE);
  private used = 0;
  private readonly gzip: Gzip;
  private readonly counter = new HashingCounter();
  private readonly content = createHash('sha256');
  private readonly upload: Promise<unknown>;
  private failed: unknown;

  constructor(store: Store, readonly key: string, private readonly role: OutputRef['role']) {
    // A deeper buffer lets compression (on the thread pool) overlap with producing the next lines.
    this.gzip = createGzip({ level: 1, chunkSize: 64 * 1024, writableHighWaterMark: 1024 * 1024 } as ZlibOptions);
    this.gzip.on('error', (err) => this.counter.destroy(err));
    // The store may not be reading the body yet when an abort errors it: the write still fails with
    // the error, and no 'error' event goes unheard.
    this.counter.on('error', () => undefined);
    this.upload = store.write(key, this.gzip.pipe(this.counter)).catch((err: unknown) => { this.failed = err; throw err; });
    this.upload.catch(() => undefined);
  }

  /**
   * Adds a line. Returns a promise only when a piece went to gzip and must be awaited (backpressure):
   * most lines cost no promise at all.
   */
  writeLine(line: string): Promise<void> | undefined {
    if (this.failed) return Promise.reject(this.failed);
    this.records += 1;
    // Each line is encoded into the piece on its own: one line with a character past Latin-1 would
    // make a joined piece a two-byte string, whose UTF-8 encoding takes twice as long. A UTF-16 unit
    // is at most three bytes of UTF-8.
    if (this.used + 3 * line.length + 1 > this.piece.length) {
      if (3 * line.length + 1 > this.piece.length) return this.flushPiece(Buffer.from(`${line}\n`));
      const flushing = this.flushPiece();
      this.used = this.piece.write(line, 0, 'utf8');
      this.piece[this.used++] = 0x0a;
      return flushing;
    }
    this.used += this.piece.write(line, this.used, 'utf8');
    this.piece[this.used++] = 0x0a;
    // Lines go to gzip in pieces of about 64 KiB: one write and one hash update per piece, not per line.
    return this.used >= PIECE ? this.flushPiece() : undefined;
  }

  /** Hands the piece (then `extra`) to gzip; a fresh piece follows, as gzip holds the old one until it has read it. */
  private async flushPiece(extra?: Buffer): Promise<void> {
    const data = this.used > 0 ? this.piece.subarray(0, this.used) : undefined;
    if (data) { this.piece = Buffer.allocUnsafe(2 * PIECE); this.used = 0; }
    for (const d of [data, extra]) {
      if (!d) continue;
      this.content.update(d);
      if (!this.gzip.write(d)) await Promise.race([once(this.gzip, 'drain'), this.upload]);
    }
  }

  /** Gives the object up unwritten: the store's write fails, and nothing names the key. */
  abandon(): void {
    this.gzip.destroy(new Error(`${this.key} was abandoned`));
  }

  async finish(): Promise<OutputRef> {
    if (this.used > 0) await this.flushPiece();
    this.gzip.end();
    await this.upload;
    return { key: this.key, role: this.role, bytes: this.counter.bytes, sha256: this.counter.sha256, contentSha256: this.content.digest('hex'), records: this.records };
  }

  abort(err: Error): void {
    this.gzip.destroy(err);
  }
}

/** A rejected record is kept whole up to this size, so it can be inspected and fixed. */
const REJECT_RECORD_MAX = 64 * 1024;

/** One line of a rejects object: why, where, and the record itself (truncated when huge). */
export function rejectLine(o: { code: string; reason: string; position: unknown; record: string }): string {
  const truncated = o.record.length > REJECT_RECORD_MAX;
  return JSON.stringify({ code: o.code, reason: o.reason, position: o.position, record: truncated ? o.record.slice(0, REJECT_RECORD_MAX) : o.record, ...(truncated ? { truncated: true } : {}) });
}
