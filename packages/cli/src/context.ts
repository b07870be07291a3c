import { createWriteStream } from 'node:fs';
import { createLogger, HogportError, readSecret, type Logger } from '@hogport/common';
import { layout as makeLayout, type Layout, type Stage } from '@hogport/layout';
import { DryRunDestination, PostHogDestination, type Destination, type RateLimit } from '@hogport/loader';
import { loadPipeline, resolveLocation, type LoadedPipeline, type PlannedChunk, type DefinedSource, type Source } from '@hogport/pipeline';
import { extractJob, loadJob, StoreClock, transformJob, type SampleLane, type StageJob } from '@hogport/runner';
import { openStore, type Store, type StoreOptions } from '@hogport/store';
/**
 * Every source hogport knows, by the `source.type` that names it in a definition. Each is loaded
 * only when a definition names it: a process (and every transform thread) carries one source's
 * modules, not all of them.
 */
export const SOURCES: Record<string, () => Promise<DefinedSource>> = {
  'posthog-files': async () => (await import('@hogport/source-posthog')).posthogFilesSource,
  posthog: async () => (await import('@hogport/source-posthog')).posthogApiSource,
  amplitude: async () => (await import('@hogport/source-amplitude')).amplitudeSource,
  mixpanel: async () => (await import('@hogport/source-mixpanel')).mixpanelSource,
  files: async () => (await import('@hogport/source-files')).filesSource,
  segment: async () => (await import('@hogport/source-segment')).segmentSource,
  ga4: async () => (await import('@hogport/source-ga4')).ga4Source,
  heap: async () => (await import('@hogport/source-heap')).heapSource,
};

export interface GlobalOptions {
  store?: string;
  logLevel?: string;
  logFile?: string;
}

export interface Context {
  pipeline: LoadedPipeline;
  store: Store;
  layout: Layout;
  source: Source;
  log: Logger;
  /** This machine's clock against the store's, one for the process: read once, kept by every claim it writes. */
  clock: StoreClock;
  close(): Promise<void>;
}

/** A logger to --log-file when given, else to `write` (stderr, or above the progress bars), else to stderr. */
export function makeLogger(opts: GlobalOptions, quietOnTty: boolean, write?: (line: string) => void): Logger {
  const level = opts.logLevel ?? (quietOnTty && process.stderr.isTTY && !opts.logFile ? 'warn' : 'info');
  if (opts.logFile) {
    const stream = createWriteStream(opts.logFile, { flags: 'a' });
    return createLogger({ level, destination: { write: (line: string) => stream.write(line) } });
  }
  return createLogger({ level, ...(write ? { destination: { write } } : {}) });
}

export async function openContext(file: string, opts: GlobalOptions, log: Logger): Promise<Context> {
  const pipeline = await loadPipeline(file);
  const def = pipeline.definition;
  const spec = typeof def.store === 'string' ? { uri: def.store } : def.store;
  const storeOptions: StoreOptions = {};
  if (typeof def.store !== 'string' && def.store.s3) storeOptions.s3 = def.store.s3;
  if (typeof def.store !== 'string' && def.store.gcs) storeOptions.gcs = def.store.gcs;
  const store = openStore(opts.store ?? resolveLocation(pipeline.baseDir, spec.uri), storeOptions);
  const load = Object.hasOwn(SOURCES, def.source.type) ? SOURCES[def.source.type] : undefined;
  if (!load) {
    throw new HogportError('E_PIPELINE_INVALID', `${file}: source.type "${def.source.type}" is not known; available: ${Object.keys(SOURCES).join(', ')}`, { exitCode: 2 });
  }
  const opened: Store[] = [store];
  const factory = await load();
  const layout = makeLayout(def.id);
  const source = factory({
    options: def.source, baseDir: pipeline.baseDir, log,
    quotas: { store, key: (name, scope) => layout.quota(name, scope) },
    openStore: (uri) => { const s = openStore(uri, storeOptions); opened.push(s); return s; },
  });
  if (def.transform.importEvents === false && !source.identities) {
    throw new HogportError('E_PIPELINE_INVALID', `${file}: transform.importEvents: false imports only identities and persons, and the ${def.source.type} source has none: nothing would be sent. Remove the setting.`, { exitCode: 2 });
  }
  return {
    pipeline, store, layout, source, log, clock: new StoreClock(store, log),
    async close() { await Promise.all(opened.map((s) => s.close())); },
  };
}

/** Names where events go, for the load stage's config: another destination means another load. */
export function destinationId(ctx: Context): string {
  const d = ctx.pipeline.definition.destination;
  return d.type === 'dry-run' ? 'dry-run' : `posthog ${ingestionHost(d.host)}`;
}

/** A PostHog host as it is named in messages and the load stage's config: its origin and path, no trailing slash. */
export function ingestionHost(host: string): string {
  const url = new URL(host);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export interface DestinationChoices {
  historicalMigration: boolean;
  rate?: RateLimit;
}

/** The destination the definition names. The project key is read from the environment, never from the file. */
export function openDestination(ctx: Context, choices: DestinationChoices): Destination {
  const d = ctx.pipeline.definition.destination;
  if (d.type === 'dry-run') {
    return new DryRunDestination(ctx.store, (b) => ctx.layout.outbox(b.chunk, b.attempt, b.seq), { historicalMigration: choices.historicalMigration });
  }
  const apiKey = readSecret(d.apiKeyEnv);
  if (!apiKey) {
    throw new HogportError('E_NO_API_KEY', `the environment variable ${d.apiKeyEnv} is not set: export your PostHog project API key there (destination.apiKeyEnv names it)`, { exitCode: 2 });
  }
  return new PostHogDestination({
    host: d.host, apiKey, concurrency: d.concurrency, maxAttempts: d.maxAttempts, timeoutMs: d.timeoutSeconds * 1000, log: ctx.log,
    historicalMigration: choices.historicalMigration, ...(choices.rate ? { rate: choices.rate } : {}),
  });
}

/**
 * The three stage jobs. Without a destination, load can say what is up to date but not send; with a
 * sample lane, it sends only the lane's persons once they are drawn.
 */
export function stageJobs(ctx: Context, planned: PlannedChunk[], destination?: Destination, batchMaxEvents?: number, sample?: SampleLane): Record<Stage, StageJob> {
  const def = ctx.pipeline.definition;
  const d = def.destination;
  return {
    extract: extractJob({ source: ctx.source, planned: new Map(planned.map((c) => [c.id, c])) }),
    transform: transformJob({ source: ctx.source, spec: def.transform, store: ctx.store, layout: ctx.layout }),
    load: loadJob({
      ...(destination ? { destination } : {}), destinationId: destinationId(ctx), batchMaxEvents: batchMaxEvents ?? d.batchMaxEvents,
      store: ctx.store, layout: ctx.layout, ...(d.type === 'posthog' ? { retryBudget: d.retryBudget } : {}), ...(sample ? { sample } : {}),
    }),
  };
}
