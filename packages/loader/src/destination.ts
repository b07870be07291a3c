/** One request's worth of events, already serialised: each string is one event's JSON. */
export interface Batch {
  /** Events as JSON text, exactly as they will appear in the request. */
  events: string[];
  /** Uncompressed size of the events plus separators. */
  bytes: number;
  chunk: string;
  attempt: string;
  /** 0-based position of this batch in the chunk. */
  seq: number;
}

/** Where batches go: PostHog's capture `/batch/`, or the dry-run outbox. */
export interface Destination {
  readonly name: string;
  /** Delivers a batch; resolves once it was acknowledged. Returns what the delivery took. */
  send(batch: Batch, signal?: AbortSignal): Promise<SendReport>;
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
/** Capture refuses a single event over about this many bytes serialised. */
export const MAX_EVENT_BYTES = 1_000_000;

/** The request body capture's `/batch/` takes, built from already-serialised events. */
export function batchBody(apiKey: string, events: readonly string[], sentAt: Date = new Date()): string {
  return `{"api_key":${JSON.stringify(apiKey)},"historical_migration":true,"sent_at":${JSON.stringify(sentAt.toISOString())},"batch":[${events.join(',')}]}`;
}
