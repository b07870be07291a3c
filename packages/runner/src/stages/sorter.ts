import { ExternalSorter } from '../spill.js';

/** Lines held in memory before a sorted run of them is written to a temporary file. */
export const SORT_RUN_LINES = 100_000;

/**
 * Sorts any number of text lines in bounded memory, in JavaScript's string order (UTF-16 code
 * units): the merge's external sort, over lines alone. The sorted lines can be read any number of
 * times until `dispose()` removes the files.
 */
export class LineSorter {
  private readonly sorter: ExternalSorter;

  /** `dir`: where runs are written, the OS temp dir (TMPDIR) by default. */
  constructor(runLines: number = SORT_RUN_LINES, dir?: string) {
    this.sorter = new ExternalSorter({ maxItems: runLines, dir });
  }

  /** Lines added so far. */
  get size(): number {
    return this.sorter.size;
  }

  async add(line: string): Promise<void> {
    await this.sorter.add(line, '');
  }

  async *sorted(): AsyncGenerator<string> {
    for await (const [line] of this.sorter.sorted()) yield line;
  }

  dispose(): Promise<void> {
    return this.sorter.close();
  }
}
