import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { createGzip } from 'node:zlib';
import { splitLineBatches, type SplitLine } from '@hogport/common';
import type { Store } from '@hogport/store';

/** Characters of keys and values held before a sorted run goes to disk (about twice that in bytes). */
export const DEFAULT_SPILL_CHARS = 16 * 1024 * 1024;
/** Runs merged at once; more are merged in rounds, so open files stay few. */
const FAN_IN = 64;
const PIECE_CHARS = 64 * 1024;

export interface SorterOptions {
  /** Where runs are written; a folder of its own is made inside and removed by `close`. Default: the OS temp dir (TMPDIR). */
  dir?: string;
  /** Characters held in memory before a run is written. */
  maxChars?: number;
  /** Pairs held in memory before a run is written, whatever their size. */
  maxItems?: number;
}

/**
 * Sorts (key, value) string pairs of any number in bounded memory: pairs are held until `maxChars`,
 * then sorted and written to a run file on local disk; `sorted()` merges the runs. Pairs come out by
 * key, equal keys by value, compared as JavaScript compares strings (UTF-16 code units), so the
 * order is a function of the pairs alone, whatever order they were added in.
 */
export class ExternalSorter {
  private keys: string[] = [];
  private values: string[] = [];
  private chars = 0;
  private runs: string[] = [];
  private dir: string | undefined;
  private readonly maxChars: number;
  private count = 0;
  private spilling = false;

  constructor(private readonly options: SorterOptions = {}) {
    this.maxChars = options.maxChars ?? DEFAULT_SPILL_CHARS;
  }

  /** Pairs added so far. */
  get size(): number {
    return this.count;
  }

  /** Adds a pair; returns a promise only when a run is being written, which the caller awaits. */
  add(key: string, value: string): Promise<void> | undefined {
    // A pair added while a run is written would be written twice or not at all.
    if (this.spilling) throw new Error('ExternalSorter.add was called before the promise of the previous add settled');
    this.keys.push(key);
    this.values.push(value);
    this.count += 1;
    this.chars += key.length + value.length + 32;
    return this.chars >= this.maxChars || this.keys.length >= (this.options.maxItems ?? Infinity) ? this.spill() : undefined;
  }

  /** Every pair, in order. Call once, after the last `add`. */
  async *sorted(): AsyncGenerator<[string, string]> {
    for await (const batch of this.batches()) yield* batch;
  }

  /** Every pair, in order, in arrays of up to a thousand or so: `sorted()` for a consumer that counts the cost of an await per pair. Call once, after the last `add`. */
  async *batches(): AsyncGenerator<Array<[string, string]>> {
    if (this.runs.length === 0) {
      const order = this.order();
      for (let at = 0; at < order.length; at += BATCH_PAIRS) yield order.slice(at, at + BATCH_PAIRS).map((i): [string, string] => [this.keys[i]!, this.values[i]!]);
      return;
    }
    if (this.keys.length > 0) await this.spill();
    while (this.runs.length > FAN_IN) {
      const next: string[] = [];
      for (let i = 0; i < this.runs.length; i += FAN_IN) {
        const group = this.runs.slice(i, i + FAN_IN);
        const file = await this.runFile();
        const out = new PieceWriter(createWriteStream(file));
        for await (const batch of mergeRunBatches(group)) for (const [k, v] of batch) await out.line(encodePair(k, v));
        await out.close();
        await Promise.all(group.map((f) => rm(f, { force: true })));
        next.push(file);
      }
      this.runs = next;
    }
    yield* mergeRunBatches(this.runs);
  }

  /** Removes the run files. */
  async close(): Promise<void> {
    this.keys = [];
    this.values = [];
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.runs = [];
  }

  private order(): number[] {
    const { keys, values } = this;
    const order = Array.from(keys.keys());
    order.sort((a, b) => {
      const ka = keys[a]!;
      const kb = keys[b]!;
      if (ka !== kb) return ka < kb ? -1 : 1;
      const va = values[a]!;
      const vb = values[b]!;
      return va < vb ? -1 : va > vb ? 1 : 0;
    });
    return order;
  }

  private async spill(): Promise<void> {
    this.spilling = true;
    try {
      await this.writeRun();
    } finally {
      this.spilling = false;
    }
  }

  private async writeRun(): Promise<void> {
    const order = this.order();
    const file = await this.runFile();
    const out = new PieceWriter(createWriteStream(file));
    for (const i of order) await out.line(encodePair(this.keys[i]!, this.values[i]!));
    await out.close();
    this.runs.push(file);
    this.keys = [];
    this.values = [];
    this.chars = 0;
  }

  private async runFile(): Promise<string> {
    this.dir ??= await mkdtemp(path.join(this.options.dir ?? tmpdir(), 'hogport-sort-'));
    return path.join(this.dir, `run-${String(this.runs.length).padStart(6, '0')}-${Math.random().toString(36).slice(2, 8)}.jsonl`);
  }
}

/**
 * A pair as one line: the key as a JSON string, a tab, then the value as it is, or as a JSON string
 * when it could be mistaken for one or would break the line. Cheaper to write and read than a JSON
 * array, since a value that is itself a JSON line is neither escaped nor parsed.
 */
export function encodePair(key: string, value: string): string {
  // A lone surrogate would not survive the file's UTF-8: such a value goes as JSON, which escapes it.
  const plain = value.charCodeAt(0) !== 0x22 && !value.includes('\n') && !value.includes('\r') && wellFormed(value);
  // A key JSON would leave as it is needs no JSON.stringify: ids almost always are such keys.
  return `${NEEDS_ESCAPE.test(key) || !wellFormed(key) ? JSON.stringify(key) : `"${key}"`}\t${plain ? value : JSON.stringify(value)}`;
}

/** No lone surrogate (ES2024's isWellFormed, in every Node hogport runs on). */
const wellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

/** What JSON.stringify escapes in a string, but lone surrogates (`wellFormed`): quotes, backslashes, control characters. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

export function decodePair(line: string): [string, string] {
  const tab = line.indexOf('\t');
  const rest = line.slice(tab + 1);
  const key = line.slice(0, tab);
  // Without a backslash, the quoted key is the key itself.
  return [key.includes('\\') ? (JSON.parse(key) as string) : key.slice(1, -1), rest.charCodeAt(0) === 0x22 ? (JSON.parse(rest) as string) : rest];
}

/** Writes a pair as one line of a sorted file of its caller's making; a promise only when the stream is full. */
export function writePair(out: PieceWriter, key: string, value: string): Promise<void> | undefined {
  return out.line(encodePair(key, value));
}

/**
 * The items of a stream of batches one at a time, awaiting only when a batch runs out:
 * `cursor.take() ?? (await cursor.next())`. An await per item costs more than most steps that read
 * sorted pairs do with one.
 */
export class Cursor<T> {
  private batch: T[] = [];
  private at = 0;

  constructor(private readonly source: AsyncIterator<T[]>) {}

  /** The next item of the batch at hand, or undefined when it is used up (then `next`). */
  take(): T | undefined {
    return this.at < this.batch.length ? this.batch[this.at++] : undefined;
  }

  /** The next item, reading the next batch when needed; undefined at the end. */
  async next(): Promise<T | undefined> {
    for (;;) {
      const item = this.take();
      if (item !== undefined) return item;
      const n = await this.source.next();
      if (n.done) return undefined;
      this.batch = n.value;
      this.at = 0;
    }
  }

  async close(): Promise<void> {
    await this.source.return?.(undefined);
  }
}

/** The pairs of one file of encoded lines, in the order they were written, in arrays as `ExternalSorter.batches()` hands them out. */
export function readSortedPairBatches(file: string): AsyncGenerator<Array<[string, string]>> {
  return mergeRunBatches([file]);
}

/**
 * Lines joined into large pieces before they reach the stream: a write per line costs more than the
 * line (and, into gzip, a trip to the thread pool). `tap` sees each piece as it goes.
 */
export class PieceWriter {
  private pending: string[] = [];
  private chars = 0;

  constructor(private readonly out: Writable, private readonly tap?: (piece: string) => void) {}

  /** Adds a line; a promise only when the stream is full. */
  line(line: string): Promise<void> | undefined {
    this.pending.push(line);
    this.chars += line.length + 1;
    return this.chars >= PIECE_CHARS ? this.flush() : undefined;
  }

  /** Hands what is pending to the stream. */
  flush(): Promise<void> | undefined {
    if (this.pending.length === 0) return undefined;
    const data = `${this.pending.join('\n')}\n`;
    this.pending = [];
    this.chars = 0;
    this.tap?.(data);
    return this.out.write(data) ? undefined : (once(this.out, 'drain') as Promise<unknown> as Promise<void>);
  }

  /** Flushes, ends the stream and waits until it has finished. */
  async close(): Promise<void> {
    await this.flush();
    await closeStream(this.out);
  }
}

async function closeStream(out: Writable): Promise<void> {
  out.end();
  await once(out, 'finish');
  if (out.errored) throw out.errored;
}

/**
 * The lines of a run file, read a large piece at a time and split in memory: the merge takes the
 * next line without awaiting anything until a piece runs out, which is what makes it cheap per pair.
 *
 * `splitLineBatches` decodes each line from its own bytes. Split from one decoded piece, a line (and
 * every id sliced from it) would be a view into that whole piece: an id kept for long, as a sort's
 * pairs or a label are, would keep its 64 KiB alive, and ids kept one per piece read would hold the file.
 */
class RunReader {
  private lines: SplitLine[] = [];
  private at = 0;
  private done = false;
  private readonly batches: AsyncIterator<SplitLine[]>;

  constructor(file: string) {
    this.batches = splitLineBatches(createReadStream(file, { highWaterMark: READ_PIECE }))[Symbol.asyncIterator]();
  }

  /** The next line, or undefined when this piece is used up (then `fill`) or the file is (`ended`). */
  take(): string | undefined {
    return this.at < this.lines.length ? this.lines[this.at++]!.line : undefined;
  }

  get ended(): boolean {
    return this.done && this.at >= this.lines.length;
  }

  /** Reads the next piece; resolves once a line is ready or the file has ended. */
  async fill(): Promise<void> {
    while (this.at >= this.lines.length && !this.done) {
      const n = await this.batches.next();
      this.at = 0;
      if (n.done) { this.done = true; this.lines = []; }
      else this.lines = n.value;
    }
  }

  async close(): Promise<void> {
    await this.batches.return?.(undefined);
  }
}

/** Bytes read from a run file at a time. */
const READ_PIECE = 64 * 1024;

/** A k-way merge of sorted run files, through a binary heap of their heads. */
async function* mergeRuns(files: readonly string[]): AsyncGenerator<[string, string]> {
  for await (const batch of mergeRunBatches(files)) yield* batch;
}

/** The same merge, handed out in arrays of pairs: a consumer that takes a batch at a time awaits once per batch, not per pair. */
async function* mergeRunBatches(files: readonly string[]): AsyncGenerator<Array<[string, string]>> {
  const readers = files.map((f) => new RunReader(f));
  const heap: Array<{ pair: [string, string]; r: number }> = [];
  const less = (a: [string, string], b: [string, string]) => (a[0] !== b[0] ? a[0] < b[0] : a[1] < b[1]);
  const push = (item: { pair: [string, string]; r: number }) => {
    heap.push(item);
    for (let i = heap.length - 1; i > 0;) {
      const up = (i - 1) >> 1;
      if (!less(heap[i]!.pair, heap[up]!.pair)) break;
      [heap[i], heap[up]] = [heap[up]!, heap[i]!];
      i = up;
    }
  };
  const pop = () => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l]!.pair, heap[m]!.pair)) m = l;
        if (r < heap.length && less(heap[r]!.pair, heap[m]!.pair)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };
  const next = async (r: number) => {
    const reader = readers[r]!;
    let line = reader.take();
    if (line === undefined && !reader.ended) {
      await reader.fill();
      line = reader.take();
    }
    if (line !== undefined) push({ pair: decodePair(line), r });
  };
  try {
    for (let r = 0; r < readers.length; r++) await next(r);
    let batch: Array<[string, string]> = [];
    while (heap.length > 0) {
      const top = pop();
      batch.push(top.pair);
      const reader = readers[top.r]!;
      const line = reader.take();
      if (line !== undefined) push({ pair: decodePair(line), r: top.r });
      else if (!reader.ended) {
        // The one await of the merge: hand out what is ready first, so the consumer never waits on a read it does not need.
        if (batch.length > 0) { yield batch; batch = []; }
        await next(top.r);
      }
      if (batch.length >= BATCH_PAIRS) { yield batch; batch = []; }
    }
    if (batch.length > 0) yield batch;
  } finally {
    for (const r of readers) await r.close();
  }
}

/** Pairs handed out at once by `batches()`. */
const BATCH_PAIRS = 1024;

/**
 * JSON lines gzipped to a local file, then stored in one write: a merge that writes one object per
 * shard holds a file handle for each, never an upload buffer for each.
 */
export class SpooledLines {
  records = 0;
  private readonly gzip = createGzip({ level: 1 });
  private readonly file: WriteStream;
  private readonly content = createHash('sha256');
  private readonly pieces = new PieceWriter(this.gzip, (piece) => this.content.update(piece));
  private readonly done: Promise<unknown>;

  constructor(private readonly path: string) {
    this.file = createWriteStream(path);
    this.done = once(this.file, 'finish');
    this.done.catch(() => undefined);
    this.gzip.pipe(this.file);
  }

  write(line: string): Promise<void> | undefined {
    this.records += 1;
    return this.pieces.line(line);
  }

  /** Stores the file at `key`, removes it, and says what it holds. */
  async store(store: Store, key: string): Promise<{ key: string; records: number; sha256: string }> {
    await this.pieces.flush();
    this.gzip.end();
    await this.done;
    try {
      await store.write(key, createReadStream(this.path));
    } finally {
      await rm(this.path, { force: true });
    }
    return { key, records: this.records, sha256: this.content.digest('hex') };
  }

  async discard(): Promise<void> {
    this.gzip.destroy();
    this.file.destroy();
    await rm(this.path, { force: true });
  }
}

/** A folder of its own for spooled files, removed by the returned function. */
export async function spoolDir(dir?: string): Promise<{ path: string; file: (name: string) => string; remove: () => Promise<void> }> {
  const at = await mkdtemp(path.join(dir ?? tmpdir(), 'hogport-spool-'));
  let n = 0;
  return { path: at, file: (name) => path.join(at, `${String(n++).padStart(6, '0')}-${name.replace(/[^A-Za-z0-9._-]/g, '_')}`), remove: () => rm(at, { recursive: true, force: true }) };
}
