import { hasCode, HogportError } from '@hogport/common';
import { Checkpoint, encodeControl, readControl } from '@hogport/manifest';
import type { Store } from '@hogport/store';

/**
 * Keeps a chunk's checkpoint in the store up to date without holding work back: at most one write
 * is in flight, and acknowledgements that arrive meanwhile go out together in the next one. Writes
 * are replace-if-unchanged, so a worker that lost the chunk to another cannot overwrite its
 * progress: it learns at its next write, and stops.
 */
export class Checkpointer {
  private writing: Promise<void> | undefined;
  private dirty = false;
  private acknowledged = 0;
  private durable = 0;
  private failed: unknown;

  private constructor(private readonly store: Store, private readonly key: string, private etag: string | undefined, private readonly build: () => Checkpoint) {}

  /** Reads the checkpoint at `key`; a broken one is discarded, as if there were none. */
  static async open(store: Store, key: string, build: () => Checkpoint): Promise<{ checkpointer: Checkpointer; found: Checkpoint | undefined }> {
    let found: Checkpoint | undefined;
    let etag: string | undefined;
    try {
      const got = await readControl(store, key, Checkpoint);
      found = got?.value;
      etag = got?.info.etag;
    } catch (err) {
      if (!hasCode(err, 'E_CORRUPT_CONTROL')) throw err;
      etag = (await store.head(key))?.etag;
    }
    return { checkpointer: new Checkpointer(store, key, etag, build), found };
  }

  schedule(): void {
    this.throwIfFailed();
    this.acknowledged += 1;
    this.dirty = true;
    this.writing ??= this.loop();
  }

  /**
   * Waits while more than `max` acknowledgements are not yet in a written checkpoint: what a kill
   * would re-send stays bounded however fast acknowledgements come compared with store writes.
   */
  async lag(max: number): Promise<void> {
    while (this.acknowledged - this.durable > max && this.writing) await this.writing;
    this.throwIfFailed();
  }

  /** Waits for the writes scheduled so far. */
  async settle(): Promise<void> {
    while (this.writing) await this.writing;
    this.throwIfFailed();
  }

  throwIfFailed(): void {
    if (!this.failed) return;
    if (hasCode(this.failed, 'E_PRECONDITION')) throw new HogportError('E_LEASE_LOST', 'another worker took over this chunk: its checkpoint changed under this attempt');
    throw this.failed;
  }

  private async loop(): Promise<void> {
    try {
      while (this.dirty && !this.failed) {
        this.dirty = false;
        const upTo = this.acknowledged;
        const body = encodeControl(Checkpoint, this.build());
        this.etag = (await this.store.writeIf(this.key, body, this.etag ? { ifMatch: this.etag } : { ifAbsent: true })).etag;
        this.durable = upTo;
      }
    } catch (err) {
      this.failed = err;
    } finally {
      this.writing = undefined;
    }
  }
}

/** Sorted, merged [start, end) ranges of positions. */
export class Ranges {
  private readonly list: Array<[number, number]>;

  constructor(ranges: ReadonlyArray<readonly [number, number]> = []) {
    this.list = ranges.map(([a, b]) => [a, b] as [number, number]);
  }

  add(start: number, end: number): void {
    if (end <= start) return;
    let i = this.list.findIndex(([, b]) => b >= start);
    if (i === -1) i = this.list.length;
    let s = start;
    let e = end;
    let j = i;
    while (j < this.list.length && this.list[j]![0] <= e) {
      s = Math.min(s, this.list[j]![0]);
      e = Math.max(e, this.list[j]![1]);
      j++;
    }
    this.list.splice(i, j - i, [s, e]);
  }

  /** A test for positions in increasing order: cheap for a sequential scan. */
  scanner(): (position: number) => boolean {
    let i = 0;
    return (p) => {
      while (i < this.list.length && this.list[i]![1] <= p) i++;
      return i < this.list.length && this.list[i]![0] <= p;
    };
  }

  toJSON(): Array<[number, number]> {
    return this.list.map(([a, b]) => [a, b]);
  }
}
