import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { HogportError } from '@hogport/common';

const MIGRATION_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

export const StoreSpec = z.union([
  z.string().min(1),
  z.object({
    uri: z.string().min(1),
    s3: z.object({ region: z.string().optional(), endpoint: z.string().url().optional(), forcePathStyle: z.boolean().optional() }).strict().optional(),
    gcs: z.object({ endpoint: z.string().url().optional(), projectId: z.string().optional() }).strict().optional(),
  }).strict(),
]);

/** Options every transform has, whatever the source. */
export const TransformSpec = z.object({
  /** Adds `$geoip_disable: true`, so PostHog does not geolocate historical events by the importer's IP. */
  geoipDisable: z.boolean().default(true),
  /** `$lib`/`$lib_version` naming hogport: where the event has none, on every event, or never. */
  lib: z.enum(['if-absent', 'always', 'never']).default('if-absent'),
  /**
   * Adds `$ignore_sent_at: true`, so capture uses the event's timestamp as is instead of correcting it
   * by the request's `sent_at`: re-sends then keep the exact same timestamp and collapse.
   */
  ignoreSentAt: z.boolean().default(true),
  /** Property names that tag each event with the migration and chunk; null leaves a tag out. */
  tags: z.object({
    migration: z.string().min(1).nullable().default('$hogport_migration'),
    chunk: z.string().min(1).nullable().default('$hogport_chunk'),
  }).strict().default({ migration: '$hogport_migration', chunk: '$hogport_chunk' }),
  /** Event names dropped (and counted as dropped by rule). */
  dropEvents: z.array(z.string().min(1)).default([]),
  /**
   * distinct_ids longer than the 200 characters capture keeps: `reject` them (capture would merge
   * every user sharing the first 200), or `truncate` them to those 200 on purpose, counted as
   * `distinct_id_truncated` in the manifest's changedBy.
   */
  longDistinctIds: z.enum(['reject', 'truncate']).default('reject'),
  /**
   * false: the merge step sends no `$identify` it inferred from ids seen together on events (as
   * PostHog's importer's `generate_identify_events` off); the identify and alias calls a source
   * recorded itself (Mixpanel's `$identify`/`$create_alias`, Segment's identify/alias) still go.
   */
  identifyEvents: z.boolean().default(true),
  /**
   * false: an identities-only import (PostHog's importer's `import_events` off), for a project whose
   * events are already in PostHog: every record's events are dropped by rule (`importEvents`, counted),
   * while its links and person facts still reach the merge, which sends the identity events and
   * `~persons`. Only sources with identities have any to send.
   */
  importEvents: z.boolean().default(true),
  /**
   * Events whose distinct_id PostHog refuses to merge (`anonymous`, `null`, `0`, blank…): `keep` sends
   * them, counted as `non_mergeable_distinct_id` in changedBy and flagged in the log (PostHog puts
   * every one of them on one person); `reject` refuses them with that reason.
   */
  nonMergeableIds: z.enum(['keep', 'reject']).default('keep'),
}).strict();
export type TransformSpec = z.infer<typeof TransformSpec>;

/**
 * The load's rate when the definition and the command line say nothing: PostHog asks to be contacted
 * before a migration goes faster than 10k events a minute, or it risks being rate limited. Raise it
 * once PostHog approves (its own importer paces at 5,000 events a second, 300,000 a minute).
 */
export const DEFAULT_MAX_EVENTS_PER_MINUTE = 10_000;

export const DestinationSpec = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('dry-run'),
    /** Batch shaping is the same as for PostHog, so a dry run shows exactly what would be sent. */
    batchMaxEvents: z.number().int().positive().max(100_000).default(1000),
  }).strict(),
  z.object({
    type: z.literal('posthog'),
    host: z.string().url(),
    /** The environment variable holding the project API key (never the key itself). */
    apiKeyEnv: z.string().regex(ENV_NAME, 'must be an environment variable name, like POSTHOG_PROJECT_API_KEY').default('POSTHOG_PROJECT_API_KEY'),
    batchMaxEvents: z.number().int().positive().max(100_000).default(1000),
    /** Requests in flight at once across the whole load. */
    concurrency: z.number().int().positive().max(64).default(4),
    /** Attempts per request (429, 5xx, timeouts, resets) before its chunk gives up until the next run. */
    maxAttempts: z.number().int().positive().max(50).default(8),
    /** Retries per chunk across all its requests: a chunk that keeps failing is failed and retried next run. */
    retryBudget: z.number().int().nonnegative().max(100_000).default(200),
    timeoutSeconds: z.number().positive().max(600).default(60),
    /**
     * Events per minute across all workers, retries included (--max-events-per-minute overrides it).
     * Unset, DEFAULT_MAX_EVENTS_PER_MINUTE: PostHog asks to approve more; "none" sends as fast as capture takes.
     */
    maxEventsPerMinute: z.union([z.number().int().positive(), z.literal('none')]).optional(),
    /**
     * Sends with `historical_migration: true` (PostHog's historical ingestion). false also needs
     * --without-historical-migration on the command line: live ingestion of years of events is
     * rarely what anyone wants.
     */
    historicalMigration: z.boolean().default(true),
  }).strict(),
]);
export type DestinationSpec = z.infer<typeof DestinationSpec>;

export const PipelineDefinition = z.object({
  version: z.literal(1).default(1),
  /** The migration id: names the store prefix and tags every event. */
  id: z.string().regex(MIGRATION_ID, 'must be lower-case letters, digits, "-" or "_" (at most 64), like acme-2024'),
  store: StoreSpec.default('./hogport-data'),
  /** The source and its options; each source validates its own options. */
  source: z.object({ type: z.string().min(1) }).passthrough(),
  transform: TransformSpec.default(TransformSpec.parse({})),
  destination: DestinationSpec.default({ type: 'dry-run', batchMaxEvents: 1000 }),
  /** A sampled test migration (`--sample <percent>`) loads here when set, else to `destination`. */
  sample: z.object({ destination: DestinationSpec.optional() }).strict().optional(),
  /** Where `hogport verify` asks PostHog what it holds. */
  verify: z.object({
    /** The app host; by default derived from destination.host (us.i.posthog.com → us.posthog.com). */
    host: z.string().url().optional(),
    projectId: z.union([z.string().min(1), z.number().int().positive()]).transform(String).optional(),
    /** The environment variable holding a personal API key with Query Read access (never the key itself). */
    personalApiKeyEnv: z.string().regex(ENV_NAME, 'must be an environment variable name, like POSTHOG_PERSONAL_API_KEY').default('POSTHOG_PERSONAL_API_KEY'),
  }).strict().default({ personalApiKeyEnv: 'POSTHOG_PERSONAL_API_KEY' }),
  /** Chunks worked on at once in each stage. */
  concurrency: z.number().int().positive().max(256).default(4),
  /** Transform threads on each machine; by default one per core (see os.availableParallelism). */
  threads: z.number().int().positive().max(256).optional(),
  /** The identity merge: shards any worker can take (`hogport merge --part`), each folded in bounded memory. */
  merge: z.object({ shards: z.number().int().positive().max(256).default(1) }).strict().default({ shards: 1 }),
  /** Lease on a claimed chunk; renewed while the chunk is worked on. */
  leaseSeconds: z.number().int().min(5).max(3600).default(60),
  /**
   * How long past its lease another worker's claim stands before it is taken over, judged on the
   * store's clock: room for a renewal held up by a slow store.
   */
  leaseAllowanceSeconds: z.number().int().min(0).max(3600).default(30),
}).strict();
export type PipelineDefinition = z.infer<typeof PipelineDefinition>;

/** A loaded definition, with the directory relative paths inside it are resolved against. */
export interface LoadedPipeline {
  definition: PipelineDefinition;
  file: string;
  baseDir: string;
}

/** Formats zod issues as one line per problem, each naming the field. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string[] {
  return issues.map((issue) => {
    const at = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    return `${at || '(top level)'}: ${issue.message}`;
  });
}

/** An invalid definition: every problem on its own line, exit code 2. */
export function invalidDefinition(file: string, problems: string[]): HogportError {
  return new HogportError('E_PIPELINE_INVALID', `${file} is not a valid pipeline definition:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
    exitCode: 2, details: { problems },
  });
}

export async function loadPipeline(file: string): Promise<LoadedPipeline> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new HogportError('E_PIPELINE_MISSING', `cannot read pipeline definition ${file}: ${(err as Error).message}`, { exitCode: 2 });
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw invalidDefinition(file, [`(syntax): ${(err as Error).message.split('\n')[0]}`]);
  }
  const parsed = PipelineDefinition.safeParse(raw ?? {});
  if (!parsed.success) throw invalidDefinition(file, formatIssues(parsed.error.issues));
  return { definition: parsed.data, file: path.resolve(file), baseDir: path.dirname(path.resolve(file)) };
}

/** Resolves a location from the definition: URIs stay as they are, relative paths are taken from the definition's directory. */
export function resolveLocation(baseDir: string, location: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) return location;
  return path.resolve(baseDir, location);
}
