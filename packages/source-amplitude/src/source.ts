import * as path from 'node:path';
import { HogportError, readSecret } from '@hogport/common';
import { Breaker, unreachable } from '@hogport/http';
import { defineSource, listable, planWindows, resolveLocation, type PlannedChunk, type SourceFactoryContext, type SourceSteps } from '@hogport/pipeline';
import type { Store } from '@hogport/store';
import { z } from 'zod';
import { checkExportApi, downloadHour } from './export-api.js';
import { naturalOrder, readAmplitude } from './read.js';

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const HOUR = 3_600_000;
/** Amplitude makes data available about this long after upload. */
export const AVAILABILITY_DELAY_MS = 2 * HOUR;
const ENDPOINTS = { us: 'https://amplitude.com', eu: 'https://analytics.eu.amplitude.com' } as const;

const time = z.string().refine((s) => !Number.isNaN(Date.parse(s.length === 13 ? `${s}:00Z` : s)), 'must be an ISO date or date-time in UTC, like 2024-03-01 or 2024-03-01T05');
const common = {
  /** Amplitude event names to rename (applied before the built-in renames). */
  renameEvents: z.record(z.string().min(1), z.string().min(1)).default({}),
  /** Properties removed from event_properties and user_properties. */
  dropProperties: z.array(z.string().min(1)).default([]),
  /** Uncompressed bytes one chunk may expand to: past it the chunk fails (zip bombs). */
  maxUncompressedBytes: z.number().int().positive().default(64 * 2 ** 30),
};

export const AmplitudeOptions = z.discriminatedUnion('mode', [
  z.object({
    mode: z.literal('api'),
    region: z.enum(['us', 'eu']).default('us'),
    /** Overrides the region's host (a proxy, or a stand-in for tests). */
    endpoint: z.string().url().optional(),
    /** First hour, by Amplitude's upload time (inclusive). */
    start: time,
    /** End of the range (exclusive); hours less than 2 hours old are not planned. */
    end: time,
    apiKeyEnv: z.string().regex(ENV_NAME).default('AMPLITUDE_API_KEY'),
    secretKeyEnv: z.string().regex(ENV_NAME).default('AMPLITUDE_SECRET_KEY'),
    maxAttempts: z.number().int().positive().max(50).default(8),
    timeoutSeconds: z.number().positive().default(600),
    ...common,
  }).strict(),
  z.object({
    mode: z.literal('files'),
    /** Where Amplitude's S3 export (or a copy of it) lives: a path or any store URI. */
    location: z.string().min(1),
    /** Plan only hours whose `_complete` marker exists (Amplitude writes it when an hour is whole). */
    requireComplete: z.boolean().default(true),
    ...common,
  }).strict(),
]);
export type AmplitudeOptions = z.infer<typeof AmplitudeOptions>;

/** Options that say where and how to fetch, and change nothing in how a chunk's bytes are mapped. */
const EXTRACT_ONLY = ['mode', 'region', 'endpoint', 'start', 'end', 'apiKeyEnv', 'secretKeyEnv', 'maxAttempts', 'timeoutSeconds', 'location', 'requireComplete'];

/** `{projectId}_{YYYY-MM-DD}_{H}#{N}.json[.gz]` and the hour's `_complete` marker. */
const FILE = /(?:^|\/)(\d+)_(\d{4}-\d{2}-\d{2})_(\d{1,2})#(\d+)\.json(?:\.gz)?$/;
const MARKER = /(?:^|\/)(\d+)_(\d{4}-\d{2}-\d{2})_(\d{1,2})_complete$/;
const hourId = (date: string, h: string) => `${date}T${h.padStart(2, '0')}`;
const parseTime = (s: string) => new Date(Date.parse(s.length === 13 ? `${s}:00:00Z` : /[zZ]|[+-]\d\d:?\d\d$/.test(s) || s.length === 10 ? s : `${s}Z`));

/**
 * Amplitude as a source, in one of two modes. `api`: one chunk per UTC hour of upload time from the
 * Export API, the zip stored as it came. `files`: Amplitude's S3 export (or a copy in any store), one
 * chunk per hour's file set. Both read the same way: zip entries or files in natural order, gzip
 * told by its bytes, records mapped by `mapAmplitudeRecord`.
 */
export const amplitudeSource = defineSource({
  type: 'amplitude',
  options: AmplitudeOptions,
  defaults: { mode: 'api' },
  extractOnly: EXTRACT_ONLY,
  version: 3,
  identities: true,
  secrets: (o) => (o.mode === 'api' ? [[o.apiKeyEnv, o.secretKeyEnv]] : []),
  // An Export API answer is one zip of at most 4 GB (past it Amplitude answers 400), spooled whole
  // to local disk to be read; in files mode the plan knows every file's size.
  spoolBytes: (o) => (o.mode === 'api' ? EXPORT_API_MAX_BYTES : undefined),
  setup: (options, ctx) => sourceSteps(options, ctx),
});

/** The largest answer the Export API gives (4 GB); a bigger hour is a 400. */
export const EXPORT_API_MAX_BYTES = 4 * 10 ** 9;

function sourceSteps(options: AmplitudeOptions, ctx: SourceFactoryContext): SourceSteps {
  const mapping = { renameEvents: options.renameEvents, dropProperties: options.dropProperties };
  let store: Store | undefined;
  const filesStore = () => (store ??= ctx.openStore(resolveLocation(ctx.baseDir, (options as { location: string }).location)));
  // One for every hour of the run: an Export API that stopped answering stops the extract once.
  const breaker = new Breaker({
    unreachable: (last, failures) => unreachable('E_AMPLITUDE_UNREACHABLE', `Amplitude's Export API could not be reached: ${failures} requests in a row failed (last ${last}). The extract stopped; nothing is lost: re-run it once Amplitude answers (check source.region or source.endpoint and the network)`),
  });

  const keys = (api: Extract<AmplitudeOptions, { mode: 'api' }>) => {
    const apiKey = readSecret(api.apiKeyEnv);
    const secretKey = readSecret(api.secretKeyEnv);
    if (!apiKey || !secretKey) {
      throw new HogportError('E_NO_API_KEY', `set the Amplitude API key and secret key in the environment variables ${api.apiKeyEnv} and ${api.secretKeyEnv} (source.apiKeyEnv and source.secretKeyEnv name them)`, { exitCode: 2, details: { fatal: true } });
    }
    return { apiKey, secretKey };
  };

  return {
    async check(signal) {
      if (options.mode === 'files') return listable(filesStore());
      const endpoint = options.endpoint ?? ENDPOINTS[options.region];
      await checkExportApi({ endpoint, ...keys(options), log: ctx.log }, signal);
      return `Amplitude's Export API at ${endpoint} accepted the API key and secret key`;
    },
    async plan(): Promise<PlannedChunk[]> {
      if (options.mode === 'api') {
        const start = parseTime(options.start);
        const requested = parseTime(options.end);
        const available = new Date(Math.floor((Date.now() - AVAILABILITY_DELAY_MS) / HOUR) * HOUR);
        const end = requested > available ? available : requested;
        if (requested > available) {
          ctx.log.warn({ requestedEnd: requested.toISOString(), plannedEnd: end.toISOString() }, 'hours less than 2 hours old are not planned: Amplitude makes data available about 2 hours after upload');
        }
        if (!(start < end)) throw new HogportError('E_RANGE', `no hour between ${start.toISOString()} and ${end.toISOString()} is available to export yet (Amplitude needs about 2 hours after upload)`, { exitCode: 2 });
        return planWindows(start, end, 'hour').map((id) => ({ id, inputs: [{ key: `amplitude-export:${options.region}:${id}` }] }));
      }
      const hours = new Map<string, Array<{ key: string; etag: string; bytes: number }>>();
      const complete = new Set<string>();
      const s = filesStore();
      for await (const obj of s.list('')) {
        const m = MARKER.exec(obj.key);
        if (m) { complete.add(hourId(m[2]!, m[3]!)); continue; }
        const f = FILE.exec(obj.key);
        if (!f) continue;
        const id = hourId(f[2]!, f[3]!);
        const list = hours.get(id) ?? [];
        list.push({ key: `${s.url.replace(/\/$/, '')}/${obj.key}`, etag: obj.etag, bytes: obj.size });
        hours.set(id, list);
      }
      const ids = [...hours.keys()].sort();
      const incomplete = options.requireComplete ? ids.filter((id) => !complete.has(id)) : [];
      if (incomplete.length > 0) ctx.log.warn({ hours: incomplete.slice(0, 20), count: incomplete.length }, 'hours without a _complete marker are not planned yet (set source.requireComplete: false if your copy has no markers)');
      const chunks = ids.filter((id) => !incomplete.includes(id)).map((id) => ({ id, inputs: hours.get(id)!.sort((a, b) => naturalOrder(a.key, b.key)) }));
      if (chunks.length === 0) throw new HogportError('E_SOURCE_EMPTY', `no complete Amplitude export hour under ${s.url} (files named {project}_{YYYY-MM-DD}_{H}#{N}.json.gz)`, { exitCode: 2 });
      return chunks;
    },
    async extract(ectx) {
      if (options.mode === 'api') {
        await downloadHour(ectx.chunk.id, {
          endpoint: options.endpoint ?? ENDPOINTS[options.region], ...keys(options), maxAttempts: options.maxAttempts,
          timeoutMs: options.timeoutSeconds * 1000, log: ectx.log, breaker,
        }, (body) => ectx.writeRaw(`export-${ectx.chunk.id}.zip`, body), ectx.signal);
        return;
      }
      const s = filesStore();
      const base = s.url.replace(/\/$/, '');
      for (const input of ectx.chunk.inputs) {
        await ectx.writeRaw(path.posix.basename(input.key), await s.read(input.key.slice(base.length + 1)));
      }
    },
    transform: (files, tctx) => readAmplitude(files, { mapping, maxUncompressedBytes: options.maxUncompressedBytes, ...(tctx.signal ? { signal: tctx.signal } : {}) }),
  };
}
