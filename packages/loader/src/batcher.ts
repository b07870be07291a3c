import { ENVELOPE_BYTES, MAX_REQUEST_BYTES, type Batch, type InvalidEvent } from './destination.js';
import { RejectCode } from '@hogport/event';
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
  /**
   * Why the caller passes this position over (`notSampled`, `alreadyLoaded`…): it is in the batch's
   * range and counted under that reason in `skippedBy`, never sent.
   */
  passOver?: string;
}

/**
 * Groups event lines into request-sized batches: at most `maxEvents` events and `maxBytes`
 * uncompressed bytes each, never the same uuid twice in one request (capture refuses such a batch):
 * a repeat of the same event is counted as a duplicate, another event under a uuid already in the
 * request is refused with the reason.
 * Every batch covers a contiguous range of line positions, including the events it refused and the
 * duplicates and passed-over lines it skipped, so an acknowledged batch can be checkpointed as a
 * range. A gap in the positions (lines already acknowledged) always starts a new batch.
 */
export async function* batches(lines: AsyncIterable<IndexedLine>, options: BatchOptions): AsyncGenerator<Batch> {
  const maxBytes = (options.maxBytes ?? MAX_REQUEST_BYTES) - ENVELOPE_BYTES;
  let seq = options.firstSeq ?? 0;
  let current: Batch | undefined;
  // Each uuid of the open request with the line that carries it: a repeat is told apart by content.
  let uuids = new Map<string, string>();
  const open = (index: number): Batch => {
    uuids = new Map();
    return { events: [], bytes: 0, chunk: options.chunk, attempt: options.attempt, seq: seq++, first: index, end: index, invalid: [], duplicates: 0, skipped: 0 };
  };
  for await (const { line, index, passOver } of lines) {
    if (current && (index !== current.end || current.events.length >= options.maxEvents)) {
      yield current;
      current = undefined;
    }
    if (passOver) {
      current ??= open(index);
      current.end = index + 1;
      current.skipped += 1;
      const by = (current.skippedBy ??= {});
      by[passOver] = (by[passOver] ?? 0) + 1;
      continue;
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
      if (uuids.get(checked.uuid) === line) {
        // The very same event twice: PostHog keeps one either way. Counted as dropped by rule.
        current.duplicates += 1;
      } else {
        // Another event under the same uuid: sending it would make capture refuse the request, or
        // PostHog keep only one of the two. Refused with the reason, never dropped unseen.
        current.invalid.push({
          index, line, code: RejectCode.uuidConflict,
          message: `uuid ${checked.uuid} is already used by a different event of this chunk: two events cannot share a uuid (PostHog would keep only one); give them distinct ids at the source`,
        });
      }
    } else {
      current.events.push(line);
      uuids.set(checked.uuid, line);
      current.bytes += size;
    }
  }
  if (current) yield current;
}
