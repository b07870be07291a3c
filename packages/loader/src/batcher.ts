import { HogportError } from '@hogport/common';
import { ENVELOPE_BYTES, MAX_EVENT_BYTES, MAX_REQUEST_BYTES, type Batch } from './destination.js';

export interface BatchOptions {
  maxEvents: number;
  maxBytes?: number;
  chunk: string;
  attempt: string;
}

export interface BatcherStats {
  events: number;
  /** Events skipped because their uuid already appeared in this chunk's current request. */
  duplicates: number;
}

const UUID_PREFIX = '{"uuid":"';

/** The uuid of an event line; events hogport writes put it first, so this is a slice, not a parse. */
export function uuidOf(line: string): string {
  if (line.startsWith(UUID_PREFIX) && line.charCodeAt(UUID_PREFIX.length + 36) === 0x22) {
    return line.slice(UUID_PREFIX.length, UUID_PREFIX.length + 36);
  }
  const parsed = JSON.parse(line) as { uuid?: unknown };
  if (typeof parsed.uuid !== 'string') throw new HogportError('E_EVENT_NO_UUID', 'an event in the chunk has no uuid: re-run transform for this chunk');
  return parsed.uuid;
}

/**
 * Groups event lines into request-sized batches: at most `maxEvents` events and `maxBytes`
 * uncompressed bytes each, never the same uuid twice in one request (capture rejects such a batch).
 */
export async function* batches(lines: AsyncIterable<string>, options: BatchOptions, stats: BatcherStats): AsyncGenerator<Batch> {
  const maxBytes = (options.maxBytes ?? MAX_REQUEST_BYTES) - ENVELOPE_BYTES;
  let events: string[] = [];
  let uuids = new Set<string>();
  let bytes = 0;
  let seq = 0;
  const flush = (): Batch => {
    const batch: Batch = { events, bytes, chunk: options.chunk, attempt: options.attempt, seq: seq++ };
    events = []; uuids = new Set(); bytes = 0;
    return batch;
  };
  for await (const line of lines) {
    if (line === '') continue;
    stats.events += 1;
    const size = Buffer.byteLength(line) + 1;
    if (size > MAX_EVENT_BYTES) {
      throw new HogportError('E_EVENT_TOO_LARGE', `an event of ${size} bytes exceeds capture's ${MAX_EVENT_BYTES}-byte limit; transform should have rejected it`);
    }
    const uuid = uuidOf(line);
    if (uuids.has(uuid)) {
      // The same uuid twice is the same event twice: PostHog keeps one either way.
      stats.duplicates += 1;
      continue;
    }
    if (events.length > 0 && (events.length >= options.maxEvents || bytes + size > maxBytes)) yield flush();
    events.push(line);
    uuids.add(uuid);
    bytes += size;
  }
  if (events.length > 0) yield flush();
}
