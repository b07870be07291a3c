import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { splitLines } from '@hogport/common';

/** Lines held in memory before a sorted run of them is written to a temporary file. */
export const SORT_RUN_LINES = 100_000;

/**
 * Sorts any number of text lines (no newlines inside) in bounded memory: lines are held up to
 * `runLines` at a time, each full run is sorted and written to a temporary file, and `sorted()`
 * merges the runs. Order is JavaScript's string order (UTF-16 code units), the same `<` compares.
 * The sorted lines can be read any number of times until `dispose()` removes the files.
 */
export class LineSorter {
  private buffer: string[] = [];
  private readonly runs: string[] = [];
  private dir: string | undefined;
  private sortedBuffer = false;
  private total = 0;

  constructor(private readonly runLines: number = SORT_RUN_LINES) {}

  /** Lines added so far. */
  get size(): number {
    return this.total;
  }

  async add(line: string): Promise<void> {
    this.buffer.push(line);
    this.sortedBuffer = false;
    this.total += 1;
    if (this.buffer.length >= this.runLines) await this.spill();
  }

  async *sorted(): AsyncGenerator<string> {
    if (!this.sortedBuffer) {
      this.buffer.sort(compare);
      this.sortedBuffer = true;
    }
    if (this.runs.length === 0) {
      yield* this.buffer;
      return;
    }
    const sources: Array<AsyncIterator<string> | Iterator<string>> = [...this.runs.map((file) => readLines(file)), this.buffer[Symbol.iterator]()];
    const heap = new MinHeap();
    for (const [i, s] of sources.entries()) {
      const first = await s.next();
      if (!first.done) heap.push(first.value, i);
    }
    try {
      while (heap.size > 0) {
        const { line, source } = heap.pop();
        yield line;
        const next = await sources[source]!.next();
        if (!next.done) heap.push(next.value, source);
      }
    } finally {
      for (const s of sources) await s.return?.();
    }
  }

  async dispose(): Promise<void> {
    this.buffer = [];
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private async spill(): Promise<void> {
    this.buffer.sort(compare);
    this.dir ??= await mkdtemp(path.join(tmpdir(), 'hogport-sort-'));
    const file = path.join(this.dir, `run-${String(this.runs.length).padStart(6, '0')}.txt`);
    await writeFile(file, `${this.buffer.join('\n')}\n`);
    this.runs.push(file);
    this.buffer = [];
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A run's lines, read as they are merged: a run is never held in memory whole. */
async function* readLines(file: string): AsyncGenerator<string> {
  const stream = createReadStream(file);
  try {
    for await (const { line } of splitLines(stream)) if (line !== '') yield line;
  } finally {
    stream.destroy();
  }
}

/** The smallest line first; ties in order of source, so a merge is stable. */
class MinHeap {
  private readonly items: Array<{ line: string; source: number }> = [];

  get size(): number {
    return this.items.length;
  }

  push(line: string, source: number): void {
    const items = this.items;
    items.push({ line, source });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): { line: string; source: number } {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && less(items[l]!, items[m]!)) m = l;
        if (r < items.length && less(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: { line: string; source: number }, b: { line: string; source: number }): boolean {
  return a.line < b.line || (a.line === b.line && a.source < b.source);
}
