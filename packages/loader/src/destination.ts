import { createGzip } from 'node:zlib';

/** An event the loader will not send, with why: written to the chunk's load rejects. */
export interface InvalidEvent {
  /** 0-based position among the chunk's events. */
  index: number;
  line: string;
  code: string;
  message: string;
}

/** One request's worth of events, already serialised: each string is one event's JSON. */
export interface Batch {
  /** Events as JSON text, exactly as they will appear in the request. */
  events: string[];
  /** Uncompressed size of the events plus separators. */
  bytes: number;
  chunk: string;
  attempt: string;
  /** Position of this batch in the chunk's load. */
  seq: number;
  /** The range of event positions [first, end) this batch accounts for. */
  first: number;
  end: number;
  /** Events in the range refused before sending. */
  invalid: InvalidEvent[];
  /** Events in the range skipped because the very same event (same uuid, same line) was already in this request. */
  duplicates: number;
  /** Events in the range the caller passed over (not in a sample, already loaded). */
  skipped: number;
  /** The passed-over events by the reason the caller gave; they add up to `skipped`. */
  skippedBy?: Record<string, number>;
  /** Set on the halves of a batch split after a 400 or 413, like "0.1". */
  part?: string;
}

export interface SendOptions {
  signal?: AbortSignal;
  /** Retries left for the whole chunk: a chunk that keeps failing gives up and is retried next run. */
  budget?: RetryBudget;
}

export interface RetryBudget {
  left: number;
}

/** Where batches go: PostHog's capture `/batch/`, or the dry-run outbox. */
export interface Destination {
  readonly name: string;
  /**
   * Delivers a batch; resolves once it was acknowledged. Throws E_POSTHOG_REJECTED (400) or
   * E_POSTHOG_TOO_LARGE (413) with `details.reply` when capture refused the request's content, so the
   * caller can split it; E_POSTHOG_AUTH (fatal) for a refused key; E_POSTHOG_UNAVAILABLE past the
   * retry budget.
   */
  send(batch: Batch, options?: SendOptions): Promise<SendReport>;
  close(): Promise<void>;
}

export interface SendReport {
  requests: number;
  retries: number;
  /** Objects written instead of sending (dry-run), for the load manifest. */
  written?: { key: string; bytes: number; sha256: string };
}

/** Bytes of `{"api_key":…,"historical_migration":true,"sent_at":…,"batch":[` and `]}`: the envelope budget. */
export const ENVELOPE_BYTES = 512;

/** PostHog's managed importer keeps requests at or under 9 MiB uncompressed; capture's hard limit is higher. */
export const MAX_REQUEST_BYTES = 9 * 1024 * 1024;

/** The event size limit is part of the event contract. */
export { MAX_EVENT_BYTES } from '@hogport/event';

/**
 * The gzip request body for a batch, compressed as it is assembled: the uncompressed body (up to
 * 9 MiB) never exists in memory as one string or buffer.
 */
export async function gzipBatchBody(apiKey: string, events: readonly string[], options: { sentAt?: Date; historicalMigration?: boolean } = {}): Promise<Buffer> {
  const gzip = createGzip({ level: 1 });
  const out: Buffer[] = [];
  gzip.on('data', (b: Buffer) => out.push(b));
  const done = new Promise<void>((resolve, reject) => { gzip.on('end', resolve); gzip.on('error', reject); });
  const [head, tail] = batchBody(apiKey, ['\u0000'], options).split('\u0000');
  gzip.write(head!);
  // Pieces of ~64 KiB: few writes, small buffers.
  let piece = '';
  for (let i = 0; i < events.length; i++) {
    piece += i === 0 ? events[i] : `,${events[i]}`;
    if (piece.length >= 65_536) { gzip.write(piece); piece = ''; }
  }
  gzip.end(`${piece}${tail!}`);
  await done;
  return Buffer.concat(out);
}

/**
 * The request body capture's `/batch/` takes, built from already-serialised events.
 * `historical_migration` is only honoured in this envelope; it is left out only on explicit opt-out.
 */
export function batchBody(apiKey: string, events: readonly string[], options: { sentAt?: Date; historicalMigration?: boolean } = {}): string {
  const sentAt = (options.sentAt ?? new Date()).toISOString();
  const historical = options.historicalMigration === false ? '' : '"historical_migration":true,';
  return `{"api_key":${JSON.stringify(apiKey)},${historical}"sent_at":${JSON.stringify(sentAt)},"batch":[${events.join(',')}]}`;
}
