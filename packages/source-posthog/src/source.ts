import { canonicalJson, gunzipIfGzipped, isUuid, normalizeTimestamp, ownValue, peekBytes, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { guardedMapping, recordText, RejectCode } from '@hogport/event';
import { readRecords } from '@hogport/source-files';
import { filesInStore, transformConfigOf, formatIssues, invalidDefinition, jsonLineOutcomes, type Outcome, type PostHogEvent, type Source, type SourceFactory } from '@hogport/pipeline';
import { z } from 'zod';

export const PostHogFilesOptions = z.object({
  type: z.literal('posthog-files'),
  /** A directory, a single file, or a store URI prefix (s3://bucket/exports/, gs://…). */
  location: z.string().min(1),
  /** Which files under the location, as a glob on their relative path. */
  pattern: z.string().min(1).default('**/*'),
}).strict();

/** Namespace of the uuids hogport derives for PostHog-format events that have none. */
export const POSTHOG_FILES_NAMESPACE = uuidV5('hogport.posthog-files', URL_NAMESPACE);

const EventIn = z.object({
  event: z.string({ error: 'event must be a string' }).min(1, 'event is empty'),
  distinct_id: z.union([z.string(), z.number()]).optional(),
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
  if ((typeof did !== 'string' && typeof did !== 'number') || String(did).trim() === '') {
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

/** Turns the lines of PostHog-format files into outcomes, one per non-blank line. */
export async function* transformPostHogLines(files: Parameters<Source['transform']>[0]): AsyncGenerator<Outcome> {
  const map = guardedMapping((value: unknown) => {
    const mapped = mapPostHogRecord(value);
    return 'event' in mapped ? { events: [mapped.event] } : mapped;
  });
  for (const file of files) {
    const stream = await gunzipIfGzipped(await file.open());
    if ((await peekBytes(stream, 4)).toString('latin1') !== 'PAR1') {
      yield* jsonLineOutcomes(stream, { file: file.name }, map);
      continue;
    }
    // PostHog's batch exports to Parquet hold properties (and $set, $set_once) as JSON text.
    for await (const r of readRecords(stream, file.name, 'parquet')) {
      if ('error' in r) { yield { kind: 'reject', code: 'unreadable_record', reason: r.error, position: r.position, record: r.raw }; continue; }
      const row = { ...(r.value as Record<string, unknown>) };
      for (const k of ['properties', '$set', '$set_once', 'set', 'set_once']) if (typeof row[k] === 'string') { try { row[k] = JSON.parse(row[k] as string); } catch { /* left as is: the mapping says why */ } }
      if (row.set && !row.$set) row.$set = row.set;
      if (row.set_once && !row.$set_once) row.$set_once = row.set_once;
      delete row.set; delete row.set_once; delete row.person_id; delete row.person_properties; delete row.team_id;
      const m = map(row);
      if ('events' in m) yield { kind: 'events', events: m.events, position: r.position };
      else yield { kind: 'reject', code: m.code, reason: m.reason, position: r.position, record: recordText(r.value) };
    }
  }
}

/**
 * PostHog-format JSON lines (plain or gzip, told apart by their bytes) from a directory, a file or
 * any store URI: what PostHog's batch exports write, or what a user prepared. One chunk per file.
 */
export const posthogFilesSource: SourceFactory = (ctx) => {
  const parsed = PostHogFilesOptions.safeParse(ctx.options);
  if (!parsed.success) throw invalidDefinition('the pipeline definition', formatIssues(parsed.error.issues, 'source'));
  const options = parsed.data;
  const files = filesInStore(ctx, options.location, options.pattern);
  return {
    type: 'posthog-files',
    plan: () => files.plan(),
    extract: (ectx) => files.extract(ectx),
    transform: (files) => transformPostHogLines(files),
    transformConfig: () => transformConfigOf('posthog-files', 2, options, ['location', 'pattern']),
  };
};
