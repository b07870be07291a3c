import { Readable } from 'node:stream';
import { gunzipIfGzipped, HogportError, isTimeZone, parseJsonExact, readAll, readSecret, TooDeepError } from '@hogport/common';
import { Breaker, unreachable } from '@hogport/http';
import { defineSource, idOf, mapOutcome, mapRecords, planWindows, type Outcome, type PlannedChunk, type RawFileInput, type RecordResult, type SourceFactoryContext, type SourceSteps, type TransformContext } from '@hogport/pipeline';
import { z } from 'zod';
import { checkCredentials, downloadDay, downloadProfiles, MixpanelLimiter, type MixpanelApiOptions } from './api.js';
import { mapMixpanelProfile, mapMixpanelRecord, type MixpanelMapping } from './map.js';

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const HOSTS = {
  us: { export: 'https://data.mixpanel.com', query: 'https://mixpanel.com' },
  eu: { export: 'https://data-eu.mixpanel.com', query: 'https://eu.mixpanel.com' },
  in: { export: 'https://data-in.mixpanel.com', query: 'https://in.mixpanel.com' },
} as const;
/**
 * Options that say where and how to fetch. `end` is not among them: profiles without `$last_seen`
 * are stamped with it.
 */
const EXTRACT_ONLY = ['region', 'exportEndpoint', 'queryEndpoint', 'projectId', 'serviceAccountUserEnv', 'serviceAccountSecretEnv', 'projectSecretEnv', 'start', 'profiles', 'maxQueriesPerHour', 'maxQueriesPerSecond', 'maxAttempts', 'timeoutSeconds'];

/** The chunk that holds every Engage profile; it loads after the events. */
export const PROFILES_CHUNK = 'profiles';
const isProfiles = (chunk: string) => chunk === PROFILES_CHUNK;

export const MixpanelOptions = z.object({
  region: z.enum(['us', 'eu', 'in']).default('us'),
  /** Override the hosts (a proxy, or stand-ins for tests). */
  exportEndpoint: z.string().url().optional(),
  queryEndpoint: z.string().url().optional(),
  projectId: z.union([z.string().min(1), z.number().int().positive()]).transform(String).optional(),
  /** A service account (with projectId), from the environment. */
  serviceAccountUserEnv: z.string().regex(ENV_NAME).default('MIXPANEL_SERVICE_ACCOUNT_USER'),
  serviceAccountSecretEnv: z.string().regex(ENV_NAME).default('MIXPANEL_SERVICE_ACCOUNT_SECRET'),
  /** Or the project secret, from the environment. */
  projectSecretEnv: z.string().regex(ENV_NAME).default('MIXPANEL_PROJECT_SECRET'),
  /** First day (inclusive) and the day after the last, in the project's time zone. */
  start: z.string().regex(DAY, 'must be a date, like 2024-03-01'),
  end: z.string().regex(DAY, 'must be a date, like 2024-04-01'),
  /** The project's time zone, for projects created before 2023, which store local time. */
  timezone: z.string().refine(isTimeZone, 'must be an IANA time zone, like America/Los_Angeles').optional(),
  /** Also migrate Engage profiles, into the per-person $set the merge step sends after all events. */
  profiles: z.boolean().default(false),
  maxQueriesPerHour: z.number().int().positive().default(60),
  maxQueriesPerSecond: z.number().int().positive().default(3),
  maxAttempts: z.number().int().positive().max(100).default(12),
  timeoutSeconds: z.number().positive().default(600),
  renameEvents: z.record(z.string().min(1), z.string().min(1)).default({}),
  dropProperties: z.array(z.string().min(1)).default([]),
}).strict();
export type MixpanelOptions = z.infer<typeof MixpanelOptions>;

/**
 * Mixpanel as a source: one chunk per day from the Raw Event Export API (the response stored as it
 * came, gzip included), and optionally one chunk of Engage profiles. Every request shares one
 * limiter that holds Mixpanel's quotas (60 an hour, 3 a second) whatever the concurrency, across
 * every process extracting the project (through the store), and across restarts.
 */
export const mixpanelSource = defineSource({
  type: 'mixpanel',
  options: MixpanelOptions,
  extractOnly: EXTRACT_ONLY,
  version: 3,
  identities: true,
  loadsLast: isProfiles,
  secrets: (o) => [[o.serviceAccountUserEnv, o.serviceAccountSecretEnv], [o.projectSecretEnv]],
  setup: (options, ctx) => sourceSteps(options, ctx),
});

function sourceSteps(options: MixpanelOptions, ctx: SourceFactoryContext): SourceSteps {
  const mapping: MixpanelMapping = { renameEvents: options.renameEvents, dropProperties: options.dropProperties, ...(options.timezone ? { timezone: options.timezone } : {}) };
  // Mixpanel counts queries per project: every process extracting it shares them through the store.
  const scope = options.projectId ?? 'project-secret';
  const limiter = new MixpanelLimiter(options.maxQueriesPerHour, options.maxQueriesPerSecond, {}, ctx.quotas ? { store: ctx.quotas.store, key: ctx.quotas.key('mixpanel', scope), scope, log: ctx.log } : undefined);
  const fallbackTime = `${options.end}T00:00:00.000Z`;
  const mapProfile = (profile: unknown) => mapMixpanelProfile(profile, mapping, fallbackTime);
  // One for every day of the run: a Mixpanel that stopped answering stops the extract once.
  const breaker = new Breaker({
    unreachable: (last, failures) => unreachable('E_MIXPANEL_UNREACHABLE', `Mixpanel could not be reached: ${failures} requests in a row failed (last ${last}). The extract stopped; nothing is lost: re-run it once Mixpanel answers (check source.region or the endpoints and the network)`),
  });

  const api = (log: MixpanelApiOptions['log']): MixpanelApiOptions => {
    const user = readSecret(options.serviceAccountUserEnv);
    const secret = readSecret(options.serviceAccountSecretEnv);
    const projectSecret = readSecret(options.projectSecretEnv);
    let credentials: string;
    if (user && secret) {
      if (!options.projectId) throw new HogportError('E_PIPELINE_INVALID', 'a Mixpanel service account needs source.projectId', { exitCode: 2, details: { fatal: true } });
      credentials = `${user}:${secret}`;
    } else if (projectSecret) {
      credentials = `${projectSecret}:`;
    } else {
      throw new HogportError('E_NO_API_KEY', `set a Mixpanel service account in ${options.serviceAccountUserEnv} and ${options.serviceAccountSecretEnv} (with source.projectId), or the project secret in ${options.projectSecretEnv}`, { exitCode: 2, details: { fatal: true } });
    }
    return {
      exportBase: options.exportEndpoint ?? HOSTS[options.region].export, queryBase: options.queryEndpoint ?? HOSTS[options.region].query,
      ...(options.projectId ? { projectId: options.projectId } : {}), credentials, maxAttempts: options.maxAttempts, timeoutMs: options.timeoutSeconds * 1000, log, limiter, breaker,
    };
  };

  return {
    check: (signal) => checkCredentials(api(ctx.log), Boolean(readSecret(options.serviceAccountUserEnv) && readSecret(options.serviceAccountSecretEnv)), options.start, signal),
    async plan(): Promise<PlannedChunk[]> {
      const start = new Date(`${options.start}T00:00:00Z`);
      let end = new Date(`${options.end}T00:00:00Z`);
      // A day is exported once it has ended everywhere (time zones run up to 14 hours ahead of UTC... and 12 behind).
      const complete = new Date(Math.floor((Date.now() - 12 * 3_600_000) / 86_400_000) * 86_400_000);
      if (end > complete) {
        ctx.log.warn({ requestedEnd: options.end, plannedEnd: complete.toISOString().slice(0, 10) }, 'days that have not ended yet are not planned');
        end = complete;
      }
      const where = `${options.region}:${options.projectId ?? 'secret'}`;
      const days = start < end ? planWindows(start, end, 'day').map((id) => ({ id, inputs: [{ key: `mixpanel-export:${where}:${id}` }] })) : [];
      if (days.length === 0 && !options.profiles) throw new HogportError('E_RANGE', `no whole day between ${options.start} and ${options.end} to export`, { exitCode: 2 });
      return options.profiles ? [...days, { id: PROFILES_CHUNK, inputs: [{ key: `mixpanel-engage:${where}` }] }] : days;
    },
    async extract(ectx) {
      const a = api(ectx.log);
      if (isProfiles(ectx.chunk.id)) {
        await downloadProfiles(a, (page, body) => ectx.writeRaw(`engage-${String(page).padStart(6, '0')}.json`, Readable.from([body])), ectx.signal);
        return;
      }
      await downloadDay(ectx.chunk.id, a, (body) => ectx.writeRaw(`export-${ectx.chunk.id}.jsonl`, body), ectx.signal);
    },
    transform(files, tctx) {
      return isProfiles(tctx.chunk) ? profiles(files) : events(files, tctx);
    },
  };

  function events(files: RawFileInput[], tctx: TransformContext): AsyncIterable<Outcome> {
    // Raw exports are not deduplicated: within a day, one $insert_id is one event. A record without
    // one has a uuid from its content, so only a record identical to another shares it.
    const seen = new Set<string>();
    const map = (value: unknown): RecordResult => {
      const m = mapMixpanelRecord(value, mapping);
      if (!('events' in m) || m.events.length === 0) return m;
      const uuid = m.events[0]!.uuid;
      if (seen.has(uuid)) return { drop: idOf((value as { properties: Record<string, unknown> }).properties.$insert_id) ? 'duplicate_insert_id' : 'duplicate_record' };
      seen.add(uuid);
      return m;
    };
    return mapRecords(files, tctx, map, { format: 'jsonl' });
  }

  async function* profiles(files: RawFileInput[]): AsyncGenerator<Outcome> {
    for (const file of files) {
      // One Engage page: at most a thousand profiles.
      const text = (await readAll(await gunzipIfGzipped(await file.open()))).toString('utf8');
      let page: { results?: unknown[] };
      let exact: boolean;
      try {
        try {
          ({ value: page, exact } = parseJsonExact(text) as { value: { results?: unknown[] }; exact: boolean });
        } catch (err) {
          if (!(err instanceof TooDeepError)) throw err;
          // One profile nested beyond reading: the page is read as it parses, and that profile is refused by its mapping.
          page = JSON.parse(text) as { results?: unknown[] };
          exact = false;
        }
      } catch (err) {
        yield { kind: 'reject', code: 'invalid_json', reason: `the profile page is not JSON: ${(err as Error).message}`, position: { file: file.name }, record: text.slice(0, 65_536) };
        continue;
      }
      for (const [i, profile] of (page.results ?? []).entries()) {
        const read = { value: profile, position: { file: file.name, line: i + 1 }, ...(exact ? { exact: true as const } : {}) };
        // Whatever mapping throws on one profile (a time out of range, a profile too deep) costs that profile.
        yield mapOutcome(mapProfile, read);
      }
    }
  }
}
