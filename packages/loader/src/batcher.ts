import { ENVELOPE_BYTES, MAX_REQUEST_BYTES, type Batch, type InvalidEvent } from './destination.js';
import { validateEvent } from './validate.js';

export interface BatchOptions {
  maxEvents: number;
  maxBytes?: number;
  chunk: string;
  attempt: string;
  /** The first batch's seq; resumed loads continue the numbering so outbox keys stay unique. */
  firstSeq?: number;
  /**
   * The lines come from hogport's transform, which already checked every event against capture's
   * contract: only their size and leading uuid are checked again.
   */
  checked?: boolean;
}

/** An event line and its 0-based position among the chunk's events. */
export interface IndexedLine {
  line: string;
  index: number;
}

/**
 * Groups event lines into request-sized batches: at most `maxEvents` events and `maxBytes`
 * uncompressed bytes each, never the same uuid twice in one request (capture refuses such a batch).
 * Every batch covers a contiguous range of line positions, including the events it refused and the
 * duplicates it skipped, so an acknowledged batch can be checkpointed as a range. A gap in the
 * positions (lines already acknowledged) always starts a new batch.
 */
export async function* batches(lines: AsyncIterable<IndexedLine>, options: BatchOptions): AsyncGenerator<Batch> {
  const maxBytes = (options.maxBytes ?? MAX_REQUEST_BYTES) - ENVELOPE_BYTES;
  let seq = options.firstSeq ?? 0;
  let current: Batch | undefined;
  let uuids = new Set<string>();
  const open = (index: number): Batch => {
    uuids = new Set();
    return { events: [], bytes: 0, chunk: options.chunk, attempt: options.attempt, seq: seq++, first: index, end: index, invalid: [], duplicates: 0 };
  };
  for await (const { line, index } of lines) {
    if (current && (index !== current.end || current.events.length >= options.maxEvents)) {
      yield current;
      current = undefined;
    }
    const checked = validateEvent(line, { checked: options.checked ?? false });
    const size = Buffer.byteLength(line) + 1;
    if (current && 'uuid' in checked && !uuids.has(checked.uuid) && current.bytes + size > maxBytes) {
      yield current;
      current = undefined;
    }
    current ??= open(index);
    current.end = index + 1;
    if (!('uuid' in checked)) {
      current.invalid.push({ index, line, ...checked } satisfies InvalidEvent);
    } else if (uuids.has(checked.uuid)) {
      // The same uuid twice is the same event twice: PostHog keeps one either way.
      current.duplicates += 1;
    } else {
      current.events.push(line);
      uuids.add(checked.uuid);
      current.bytes += size;
    }
  }
  if (current) yield current;
}
