import { createWriteStream } from 'node:fs';
import { createLogger, HogportError, readSecret, type Logger } from '@hogport/common';
import { layout as makeLayout, type Layout, type Stage } from '@hogport/layout';
import { DryRunDestination, PostHogDestination, type Destination, type RateGate } from '@hogport/loader';
import { loadPipeline, resolveLocation, type LoadedPipeline, type PlannedChunk, type Source, type SourceFactory } from '@hogport/pipeline';
import { extractJob, loadJob, transformJob, type StageJob } from '@hogport/runner';
import { amplitudeSource } from '@hogport/source-amplitude';
import { filesSource, ga4Source, heapSource, segmentSource } from '@hogport/source-files';
import { mixpanelSource } from '@hogport/source-mixpanel';
import { posthogApiSource, posthogFilesSource } from '@hogport/source-posthog';
import { openStore, type Store, type StoreOptions } from '@hogport/store';

/** Every source hogport knows, by the `source.type` that names it in a definition. */
export const SOURCES: Record<string, SourceFactory> = {
  'posthog-files': posthogFilesSource,
  posthog: posthogApiSource,
  amplitude: amplitudeSource,
  mixpanel: mixpanelSource,
  files: filesSource,
  segment: segmentSource,
  ga4: ga4Source,
  heap: heapSource,
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
  close(): Promise<void>;
}

export function makeLogger(opts: GlobalOptions, quietOnTty: boolean): Logger {
  const level = opts.logLevel ?? (quietOnTty && process.stderr.isTTY && !opts.logFile ? 'warn' : 'info');
  if (opts.logFile) {
    const stream = createWriteStream(opts.logFile, { flags: 'a' });
    return createLogger({ level, destination: { write: (line: string) => stream.write(line) } });
  }
  return createLogger({ level });
}

export async function openContext(file: string, opts: GlobalOptions, log: Logger): Promise<Context> {
  const pipeline = await loadPipeline(file);
  const def = pipeline.definition;
  const spec = typeof def.store === 'string' ? { uri: def.store } : def.store;
  const storeOptions: StoreOptions = {};
  if (typeof def.store !== 'string' && def.store.s3) storeOptions.s3 = def.store.s3;
  if (typeof def.store !== 'string' && def.store.gcs) storeOptions.gcs = def.store.gcs;
  const store = openStore(opts.store ?? resolveLocation(pipeline.baseDir, spec.uri), storeOptions);
  const factory = SOURCES[def.source.type];
  if (!factory) {
    throw new HogportError('E_PIPELINE_INVALID', `${file}: source.type "${def.source.type}" is not known; available: ${Object.keys(SOURCES).join(', ')}`, { exitCode: 2 });
  }
  const opened: Store[] = [store];
  const source = factory({
    options: def.source, baseDir: pipeline.baseDir, log,
    openStore: (uri) => { const s = openStore(uri, storeOptions); opened.push(s); return s; },
  });
  return {
    pipeline, store, layout: makeLayout(def.id), source, log,
    async close() { await Promise.all(opened.map((s) => s.close())); },
  };
}

/** Names where events go, for the load stage's config: another destination means another load. */
export function destinationId(ctx: Context): string {
  const d = ctx.pipeline.definition.destination;
  return d.type === 'dry-run' ? 'dry-run' : `posthog ${new URL(d.host).origin}${new URL(d.host).pathname.replace(/\/+$/, '')}`;
}

export interface DestinationChoices {
  historicalMigration: boolean;
  rate?: RateGate;
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

/** The three stage jobs. Without a destination, load can say what is up to date but not send. */
export function stageJobs(ctx: Context, planned: PlannedChunk[], destination?: Destination, batchMaxEvents?: number): Record<Stage, StageJob> {
  const def = ctx.pipeline.definition;
  const d = def.destination;
  return {
    extract: extractJob({ source: ctx.source, planned: new Map(planned.map((c) => [c.id, c])) }),
    transform: transformJob({ source: ctx.source, spec: def.transform, store: ctx.store, layout: ctx.layout }),
    load: loadJob({
      ...(destination ? { destination } : {}), destinationId: destinationId(ctx), batchMaxEvents: batchMaxEvents ?? d.batchMaxEvents,
      store: ctx.store, layout: ctx.layout, ...(d.type === 'posthog' ? { retryBudget: d.retryBudget } : {}),
    }),
  };
}
