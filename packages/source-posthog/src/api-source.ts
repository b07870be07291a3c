import { Readable } from 'node:stream';
import { HogportError, readAll, readSecret, uuidV5, type Logger } from '@hogport/common';
import { recordText, RejectCode } from '@hogport/event';
import { Breaker, unreachable } from '@hogport/http';
import { defineSource, mapOutcome, planWindows, type Outcome, type PlannedChunk, type RawFileInput, type SourceFactoryContext, type SourceSteps } from '@hogport/pipeline';
import { hogqlString, PostHogQuery } from '@hogport/query';
import { z } from 'zod';
import { mapPostHogResult, POSTHOG_FILES_NAMESPACE } from './source.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** Options that say where and how to fetch. `end` is not among them: persons are stamped with it. */
const EXTRACT_ONLY = ['host', 'projectId', 'personalApiKeyEnv', 'start', 'pageSize', 'persons'];

/** The chunk holding every person of the source project; it loads after the events. */
export const PERSONS_SOURCE_CHUNK = 'persons';
const isPersons = (chunk: string) => chunk === PERSONS_SOURCE_CHUNK;

export const PostHogApiOptions = z.object({
  /** The source instance's app host: https://us.posthog.com, https://eu.posthog.com or a self-hosted URL. */
  host: z.string().url(),
  projectId: z.union([z.string().min(1), z.number().int().positive()]).transform(String),
  /** The environment variable with a personal API key (Query Read) of the source instance. */
  personalApiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('SOURCE_POSTHOG_PERSONAL_API_KEY'),
  /** First day (inclusive) and the day after the last, UTC. */
  start: z.string().regex(DAY, 'must be a date, like 2024-03-01'),
  end: z.string().regex(DAY, 'must be a date, like 2024-04-01'),
  /** Rows per query page. */
  pageSize: z.number().int().positive().max(50_000).default(10_000),
  /** Also migrate persons: their properties as `$set`, their distinct ids as `$identify`. */
  persons: z.boolean().default(true),
}).strict();

/** `2024-03-01T10:00:00.123Z` (or with microseconds, or an offset) as HogQL's `YYYY-MM-DD HH:MM:SS.ffffff` in UTC. */
export function cursorTime(ts: string): string {
  const m = /\.(\d{1,6})/.exec(ts);
  const micro = m ? m[1]!.padEnd(6, '0') : '000000';
  const iso = new Date(Date.parse(ts)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${micro}`;
}

/** One page of a day's events after a (timestamp, uuid) cursor: no gaps and no repeats at page edges. */
export function eventsPageQuery(day: string, next: string, after: { timestamp: string; uuid: string } | undefined, limit: number): string {
  return [
    'SELECT uuid, event, distinct_id, properties, timestamp, elements_chain FROM events',
    `WHERE timestamp >= toDateTime(${hogqlString(`${day} 00:00:00`)}, 'UTC') AND timestamp < toDateTime(${hogqlString(`${next} 00:00:00`)}, 'UTC')`,
    ...(after ? [`AND (timestamp, uuid) > (toDateTime64(${hogqlString(cursorTime(after.timestamp))}, 6, 'UTC'), toUUID(${hogqlString(after.uuid)}))`] : []),
    'ORDER BY timestamp, uuid',
    `LIMIT ${limit}`,
  ].join('\n');
}

/** One page of persons with their distinct ids, after a (person, distinct id) cursor. */
export function personsPageQuery(after: { person: string; distinctId: string } | undefined, limit: number): string {
  return [
    'SELECT person_id, distinct_id, person.properties AS properties FROM person_distinct_ids',
    ...(after ? [`WHERE (person_id, distinct_id) > (${hogqlString(after.person)}, ${hogqlString(after.distinctId)})`] : []),
    'ORDER BY person_id, distinct_id',
    `LIMIT ${limit}`,
  ].join('\n');
}

/**
 * PostHog as a source (self-hosted to Cloud, region to region), through the source's query API: one
 * chunk per UTC day, read in pages ordered by (timestamp, uuid) with a cursor, each page stored as it
 * came. uuids and elements_chain are kept; person_id and person_properties belong to the source
 * instance and are not read. Persons become a `$set` each, and their extra distinct ids `$identify`
 * events through the identity merge.
 */
export const posthogApiSource = defineSource({
  type: 'posthog',
  options: PostHogApiOptions,
  extractOnly: EXTRACT_ONLY,
  version: 2,
  identities: true,
  loadsLast: isPersons,
  secrets: (o) => [[o.personalApiKeyEnv]],
  setup: (options, ctx) => sourceSteps(options, ctx),
});

function sourceSteps(options: z.output<typeof PostHogApiOptions>, ctx: SourceFactoryContext): SourceSteps {
  const personsTime = `${options.end}T00:00:00.000Z`;
  // One for every chunk of the run: a source instance that stopped answering stops the extract.
  const breaker = new Breaker({
    unreachable: (last, failures) => unreachable('E_POSTHOG_SOURCE_UNREACHABLE', `the source PostHog instance at ${options.host} could not be reached: ${failures} queries in a row failed (last ${last}). Nothing is lost: re-run once it answers`),
  });
  const client = (log: Logger, quick?: { maxAttempts: number; timeoutMs: number }) => {
    const personalKey = readSecret(options.personalApiKeyEnv);
    if (!personalKey) throw new HogportError('E_NO_API_KEY', `set a personal API key of the source instance (Query Read) in ${options.personalApiKeyEnv}`, { exitCode: 2, details: { fatal: true } });
    return new PostHogQuery({ host: options.host, projectId: options.projectId, personalKey, log, ...(quick ? { ...quick, backoff: { baseMs: 500, capMs: 2000 } } : { breaker }) });
  };

  return {
    async check(signal) {
      // The cheapest query there is, through the same endpoint, key and project every page uses.
      const raw = await client(ctx.log, { maxAttempts: 4, timeoutMs: 20_000 }).hogqlRaw('SELECT 1', signal);
      const { results } = JSON.parse(raw.toString('utf8')) as { results?: unknown };
      if (!Array.isArray(results)) throw new HogportError('E_QUERY_FAILED', `${options.host} answered the query API without results: is source.host the PostHog app host (like https://us.posthog.com)?`, { exitCode: 2 });
      return `the query API of ${options.host} ran SELECT 1 for project ${options.projectId} with the personal API key`;
    },
    async plan(): Promise<PlannedChunk[]> {
      const days = planWindows(new Date(`${options.start}T00:00:00Z`), new Date(`${options.end}T00:00:00Z`), 'day')
        .map((id) => ({ id, inputs: [{ key: `posthog-query:${new URL(options.host).host}:${options.projectId}:${id}` }] }));
      return options.persons ? [...days, { id: PERSONS_SOURCE_CHUNK, inputs: [{ key: `posthog-persons:${new URL(options.host).host}:${options.projectId}` }] }] : days;
    },
    async extract(ectx) {
      const q = client(ectx.log);
      const persons = isPersons(ectx.chunk.id);
      const next = persons ? '' : new Date(Date.parse(`${ectx.chunk.id}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
      let eventCursor: { timestamp: string; uuid: string } | undefined;
      let personCursor: { person: string; distinctId: string } | undefined;
      for (let page = 1; ; page++) {
        ectx.signal.throwIfAborted();
        const body = await q.hogqlRaw(persons ? personsPageQuery(personCursor, options.pageSize) : eventsPageQuery(ectx.chunk.id, next, eventCursor, options.pageSize), ectx.signal);
        await ectx.writeRaw(`page-${String(page).padStart(6, '0')}.json`, Readable.from([body]));
        const { columns, results } = JSON.parse(body.toString('utf8')) as { columns: string[]; results: unknown[][] };
        if (results.length < options.pageSize) return;
        const last = row(columns, results.at(-1)!);
        if (persons) personCursor = { person: String(last.person_id), distinctId: String(last.distinct_id) };
        else eventCursor = { timestamp: String(last.timestamp), uuid: String(last.uuid) };
      }
    },
    transform: (files, tctx) => (isPersons(tctx.chunk) ? personsOutcomes(files, personsTime) : eventOutcomes(files)),
  };
}

function row(columns: string[], values: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  columns.forEach((c, i) => { out[c] = values[i]; });
  return out;
}

/** A page is at most `pageSize` rows: read whole, then mapped row by row. */
async function* pages(files: RawFileInput[]): AsyncGenerator<{ file: string; rows: Array<Record<string, unknown>> } | Outcome> {
  for (const file of files) {
    const text = (await readAll(await file.open())).toString('utf8');
    try {
      const { columns, results } = JSON.parse(text) as { columns: string[]; results: unknown[][] };
      yield { file: file.name, rows: results.map((r) => row(columns, r)) };
    } catch (err) {
      yield { kind: 'reject', code: 'invalid_page', reason: `the query page is not a query API answer: ${(err as Error).message}`, position: { file: file.name }, record: text.slice(0, 65_536) };
    }
  }
}

async function* eventOutcomes(files: RawFileInput[]): AsyncGenerator<Outcome> {
  for await (const page of pages(files)) {
    if ('kind' in page) { yield page; continue; }
    for (const [i, r] of page.rows.entries()) {
      const position = { file: page.file, line: i + 1 };
      let properties: unknown = r.properties;
      if (typeof properties === 'string') {
        try { properties = JSON.parse(properties); } catch { yield { kind: 'reject', code: 'invalid_properties', reason: 'properties is not JSON', position, record: recordText(r) }; continue; }
      }
      // Whatever mapping throws on one row costs that row; a reject shows the row as it came.
      const row = { uuid: r.uuid, event: r.event, distinct_id: r.distinct_id, timestamp: r.timestamp, properties, ...(r.elements_chain ? { elements_chain: r.elements_chain } : {}) };
      yield mapOutcome(() => mapPostHogResult(row), { value: r, position });
    }
  }
}

/** Rows come ordered by person: each person's first distinct id carries the `$set`, the others are identified to it. */
async function* personsOutcomes(files: RawFileInput[], timestamp: string): AsyncGenerator<Outcome> {
  let current: string | undefined;
  let primary = '';
  for await (const page of pages(files)) {
    if ('kind' in page) { yield page; continue; }
    for (const [i, r] of page.rows.entries()) {
      const position = { file: page.file, line: i + 1 };
      const person = String(r.person_id);
      const distinctId = String(r.distinct_id ?? '');
      if (distinctId === '') { yield { kind: 'reject', code: RejectCode.missingDistinctId, reason: 'a person row without a distinct_id', position, record: recordText(r) }; continue; }
      if (person !== current) {
        current = person;
        primary = distinctId;
        let props: unknown = r.properties;
        if (typeof props === 'string') { try { props = JSON.parse(props); } catch { props = {}; } }
        const set = props !== null && typeof props === 'object' ? props as Record<string, unknown> : {};
        yield { kind: 'events', position, events: [{ uuid: uuidV5(`person:${person}`, POSTHOG_FILES_NAMESPACE), event: '$set', distinct_id: primary, timestamp, properties: { $set: set } }] };
      } else {
        // No event of its own: the identity merge turns the pair into one `$identify`, loaded first.
        // The source instance joined these ids itself, so they go even under identifyEvents: false.
        yield { kind: 'events', events: [], position, identify: [{ distinctId: primary, anonId: distinctId, at: timestamp, recorded: true }] };
      }
    }
  }
}
