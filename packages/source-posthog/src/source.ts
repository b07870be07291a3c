import { canonicalJson, ExactNumber, isUuid, normalizeTimestamp, ownValue, parseJsonExact, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { RejectCode } from '@hogport/event';
import { defineSource, filesInStore, formatIssues, mapRecords, type Outcome, type PostHogEvent, type RawFileInput, type RecordReading, type RecordResult } from '@hogport/pipeline';
import { z } from 'zod';

export const PostHogFilesOptions = z.object({
  /** A directory, a single file, or a store URI prefix (s3://bucket/exports/, gs://…). */
  location: z.string().min(1),
  /** Which files under the location, as a glob on their relative path. */
  pattern: z.string().min(1).default('**/*'),
}).strict();

/** Namespace of the uuids hogport derives for PostHog-format events that have none. */
export const POSTHOG_FILES_NAMESPACE = uuidV5('hogport.posthog-files', URL_NAMESPACE);

const EventIn = z.object({
  event: z.string({ error: 'event must be a string' }).min(1, 'event is empty'),
  distinct_id: z.union([z.string(), z.number(), z.instanceof(ExactNumber)]).optional(),
  timestamp: z.string({ error: 'timestamp must be ISO 8601 text' }),
  uuid: z.string().optional(),
  properties: z.record(z.string(), z.unknown(), { error: 'properties must be an object' }).optional(),
  $set: z.record(z.string(), z.unknown()).optional(),
  $set_once: z.record(z.string(), z.unknown()).optional(),
  elements_chain: z.string().optional(),
}).passthrough();

type Mapped = { event: PostHogEvent } | { code: string; reason: string };

/** Validates and normalises one parsed PostHog-format record. */
export function mapPostHogRecord(value: unknown): Mapped {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { code: RejectCode.notAnObject, reason: 'the line is JSON but not an object' };
  const raw = value as Record<string, unknown>;
  if (raw.timestamp === undefined || raw.timestamp === null) {
    return { code: 'missing_timestamp', reason: 'no timestamp: PostHog would stamp it with the time of import, and a re-send would not collapse' };
  }
  const parsed = EventIn.safeParse(raw);
  if (!parsed.success) return { code: 'invalid_event', reason: formatIssues(parsed.error.issues).join('; ') };
  const rec = parsed.data;
  // The validated shapes, but the record's own objects: a parsed copy would lose a `__proto__` key.
  const own = (k: 'properties' | '$set' | '$set_once') => ownValue(raw, k) as Record<string, unknown> | undefined;
  const properties: Record<string, unknown> = { ...(own('properties') ?? {}) };
  const did = rec.distinct_id ?? properties.distinct_id;
  if ((typeof did !== 'string' && typeof did !== 'number' && !(did instanceof ExactNumber)) || String(did).trim() === '') {
    return { code: RejectCode.missingDistinctId, reason: 'no distinct_id, neither at the top level nor in properties' };
  }
  const distinctId = String(did);
  const timestamp = normalizeTimestamp(rec.timestamp);
  if (!timestamp) return { code: RejectCode.badTimestamp, reason: `timestamp "${rec.timestamp.slice(0, 64)}" is not an ISO 8601 date-time` };
  if (rec.elements_chain !== undefined && properties.$elements_chain === undefined) properties.$elements_chain = rec.elements_chain;
  let uuid = rec.uuid;
  if (uuid !== undefined && !isUuid(uuid)) return { code: RejectCode.badUuid, reason: `uuid "${uuid.slice(0, 64)}" is not a valid UUID; capture would refuse the whole request` };
  // Derived from content only, never from position or time of run, so every re-run gives the same uuid.
  uuid ??= uuidV5(canonicalJson({ event: rec.event, distinct_id: distinctId, timestamp, properties, $set: own('$set') ?? null, $set_once: own('$set_once') ?? null }), POSTHOG_FILES_NAMESPACE);
  const event: PostHogEvent = { uuid: uuid.toLowerCase(), event: rec.event, distinct_id: distinctId, timestamp, properties };
  if (rec.$set) event.$set = own('$set')!;
  if (rec.$set_once) event.$set_once = own('$set_once')!;
  return { event };
}

/** `mapPostHogRecord` as the record reader's result. */
export const mapPostHogResult = (value: unknown): RecordResult => {
  const mapped = mapPostHogRecord(value);
  return 'event' in mapped ? { events: [mapped.event] } : mapped;
};

const POSTHOG_READING: RecordReading = {
  format: (head) => (head.subarray(0, 4).toString('latin1') === 'PAR1' ? 'parquet' : 'jsonl'),
  prepare(r) {
    if (r.raw !== undefined) return r;
    // PostHog's batch exports to Parquet hold properties (and $set, $set_once) as JSON text.
    const row = { ...(r.value as Record<string, unknown>) };
    let exact = false;
    for (const k of ['properties', '$set', '$set_once', 'set', 'set_once']) {
      if (typeof row[k] !== 'string') continue;
      try { const parsed = parseJsonExact(row[k] as string); row[k] = parsed.value; exact ||= parsed.exact; } catch { /* left as is: the mapping says why */ }
    }
    if (row.set && !row.$set) row.$set = row.set;
    if (row.set_once && !row.$set_once) row.$set_once = row.set_once;
    delete row.set; delete row.set_once; delete row.person_id; delete row.person_properties; delete row.team_id;
    return exact ? { ...r, value: row, exact: true } : { ...r, value: row };
  },
};

/** Turns PostHog-format files (JSON lines, or Parquet told by its bytes) into outcomes, one per record. */
export function transformPostHogLines(files: RawFileInput[], signal?: AbortSignal): AsyncGenerator<Outcome> {
  return mapRecords(files, signal ? { signal } : {}, mapPostHogResult, POSTHOG_READING);
}

/**
 * PostHog-format JSON lines (plain or gzip, told apart by their bytes) from a directory, a file or
 * any store URI: what PostHog's batch exports write, or what a user prepared. One chunk per file.
 */
export const posthogFilesSource = defineSource({
  type: 'posthog-files',
  options: PostHogFilesOptions,
  extractOnly: ['location', 'pattern'],
  version: 2,
  setup: (o, ctx) => ({ ...filesInStore(ctx, o.location, o.pattern), map: () => mapPostHogResult, read: POSTHOG_READING }),
});
