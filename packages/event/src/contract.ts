/** A PostHog event as capture's `/batch/` takes it. */
export interface PostHogEvent {
  uuid: string;
  event: string;
  distinct_id: string;
  /** ISO 8601 in UTC. */
  timestamp: string;
  properties: Record<string, unknown>;
  $set?: Record<string, unknown>;
  $set_once?: Record<string, unknown>;
}

/**
 * PostHog's guidance for historical imports (its migration docs): tell PostHog first above these
 * (or risk being rate limited), keep events at least this old, and the pace its own importer keeps.
 */
export const POSTHOG_GUIDANCE = {
  approvalEvents: 20_000_000,
  approvalEventsPerMinute: 10_000,
  minEventAgeMs: 48 * 3600_000,
  importerEventsPerSecond: 5000,
} as const;

/** Capture refuses a single event over about this many bytes serialised. */
export const MAX_EVENT_BYTES = 1_000_000;

/**
 * Capture keeps only the first 200 characters of a distinct_id: two users whose ids share those
 * would silently become one person, so a longer id is refused or truncated on purpose, never sent.
 */
export const MAX_DISTINCT_ID_LENGTH = 200;

/**
 * Why a record or an event was refused: the one vocabulary every stage writes into its rejects
 * (sources add codes of their own for what only they can see, in the same lower_snake form).
 */
export const RejectCode = {
  /** The line is not JSON. */
  invalidJson: 'invalid_json',
  /** JSON, but not an object. */
  notAnObject: 'not_an_object',
  /** No event name, or an empty one. */
  missingEvent: 'missing_event',
  /** No distinct_id, or an empty one. */
  missingDistinctId: 'missing_distinct_id',
  /** A distinct_id (or an id an identity event links) longer than capture keeps. */
  distinctIdTooLong: 'distinct_id_too_long',
  /** A distinct_id PostHog refuses to merge (`anonymous`, `null`, `0`…), under `transform.nonMergeableIds: reject`. */
  nonMergeableDistinctId: 'non_mergeable_distinct_id',
  /** No uuid, or not a UUID. */
  badUuid: 'bad_uuid',
  /** No timestamp, or one that is not a date-time capture reads (or out of range). */
  badTimestamp: 'bad_timestamp',
  /** properties, `$set` or `$set_once` that is not an object. */
  badProperties: 'bad_properties',
  /** Over MAX_EVENT_BYTES serialised. */
  tooLarge: 'too_large',
  /** Nested too deeply to map or serialise. */
  tooDeep: 'too_deep',
  /** A value with no JSON form (a BigInt). */
  notSerialisable: 'not_serialisable',
  /** The source's mapping threw on this record. */
  mappingFailed: 'mapping_failed',
  /** Another event of the same request has this uuid but different content. */
  uuidConflict: 'uuid_conflict',
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

/** What a check or a step refused, as a code and a reason a user can act on. */
export interface Refusal {
  code: string;
  reason: string;
}

/** How an event's distinct_id over MAX_DISTINCT_ID_LENGTH is handled: refused, or cut on purpose and counted. */
export type LongDistinctIds = 'reject' | 'truncate';

/** How an event whose distinct_id PostHog refuses to merge is handled: kept and counted, or refused. */
export type NonMergeableIds = 'keep' | 'reject';

/** Names of what the finish step changed on an event, counted in the transform manifest's `changedBy`. */
export const Changed = {
  distinctIdTruncated: 'distinct_id_truncated',
  /** The event's distinct_id is one PostHog refuses to merge: every event with it lands on one person. */
  nonMergeableDistinctId: 'non_mergeable_distinct_id',
  /** A user link (or an identity event's linked id) named an id PostHog refuses to merge, and was left out. */
  nonMergeableLink: 'non_mergeable_id_link',
} as const;
