import type { Layout, Stage } from '@hogport/layout';
import type { Store } from '@hogport/store';
import type { Manifest } from '@hogport/manifest';
import type { TransformSpec } from '@hogport/pipeline';
import { POSTHOG_GUIDANCE } from '@hogport/event';
import { takeSnapshot, type MigrationSnapshot } from '@hogport/state';
import type { StageJob } from './job.js';
import { mergeIdentities } from './merge.js';
import { runChunks, type RunOptions, type RunSummary } from './run.js';
import { drawSample, type SampleLane } from './sample.js';

export interface LoadPlan {
  /** Chunk ids, oldest events first; chunks not transformed yet keep their planned order after them; chunks the source wants last (profiles) at the end. */
  order: string[];
  /** Events the transformed chunks hold. */
  events: number;
  /** Chunks holding events less than 48 hours old, and the latest such timestamp. */
  recent?: { chunks: number; latest: string };
}

/**
 * The order a load sends chunks in, from their transform manifests alone: oldest events first,
 * which keeps person properties right (a later event's $set lands after an earlier one's), and the
 * chunks the source wants last after every other. Pure: the caller reads the manifests.
 */
export function planLoad(ids: readonly string[], manifestOf: (id: string) => Manifest | undefined, last: ReadonlySet<string> = new Set(), now: number = Date.now()): LoadPlan {
  let events = 0;
  let recent: LoadPlan['recent'];
  const keyed = ids.map((id, i) => ({ id, i, m: manifestOf(id) }));
  for (const { m } of keyed) {
    if (!m) continue;
    events += m.counts.events ?? m.counts.out;
    const max = m.eventTime?.max;
    if (max && Date.parse(max) > now - POSTHOG_GUIDANCE.minEventAgeMs) {
      recent = { chunks: (recent?.chunks ?? 0) + 1, latest: !recent || max > recent.latest ? max : recent.latest };
    }
  }
  keyed.sort((a, b) => {
    if (last.has(a.id) !== last.has(b.id)) return last.has(a.id) ? 1 : -1;
    const ta = a.m?.eventTime?.min;
    const tb = b.m?.eventTime?.min;
    if (ta && tb && ta !== tb) return ta < tb ? -1 : 1;
    if (Boolean(ta) !== Boolean(tb)) return ta ? -1 : 1;
    return a.i - b.i;
  });
  return { order: keyed.map((k) => k.id), events, ...(recent ? { recent } : {}) };
}

/**
 * The migration as the store has it now, each chunk judged against what its stage's job expects
 * from upstream: what status, verify, the report and every run's decisions read.
 */
export function migrationSnapshot(o: { store: Store; layout: Layout; jobs: Record<Stage, StageJob>; planned: readonly string[]; stages?: readonly Stage[]; dryRun: boolean; leaseAllowanceMs?: number }): Promise<MigrationSnapshot> {
  return takeSnapshot({
    store: o.store, layout: o.layout, planned: o.planned, ...(o.stages ? { stages: o.stages } : {}),
    expect: (stage, chunk, upstream) => o.jobs[stage].expectFrom(chunk, upstream),
    dryRun: o.dryRun, ...(o.leaseAllowanceMs !== undefined ? { leaseAllowanceMs: o.leaseAllowanceMs } : {}),
  });
}

export interface MigrationOptions extends RunOptions {
  /** Every planned source chunk: the merge spans them all. */
  all: readonly string[];
  /** The chunks this run works on. */
  ids: readonly string[];
  /** Chunks the source wants loaded after every other (profiles, users). */
  last: ReadonlySet<string>;
  stages: readonly Stage[];
  jobs: Record<Stage, StageJob>;
  transform: TransformSpec;
  /** `merge.shards`. */
  shards: number;
  /**
   * The source moves users between anonymous and known ids: load follows the merge, identities
   * first and persons last. A sampled load (`lane`) is ordered so too, as it is drawn from the whole migration.
   */
  identities: boolean;
  lane?: SampleLane;
  /** The destination is the dry-run outbox (snapshots judge a done load by it). */
  dryRun: boolean;
  /** Says something the user should hear now (a wait, a blocked load), beside the log. */
  notify?: (message: string) => void;
}

/**
 * One pass of a migration, the way every worker, sampled run and Job runs it. For most sources the
 * stages run chunk by chunk. For identity sources, and every sampled load: extract and transform as
 * usual, then the merge over the whole migration (and the draw of the sample from its identity
 * links), then load in the order that keeps identities and person properties right: identities
 * first, the chunks oldest first, persons last (and only once every chunk is loaded). Each phase
 * starts from a snapshot of the store as the phase before left it.
 */
export async function runMigration(options: MigrationOptions): Promise<RunSummary> {
  const { store, layout, jobs, log } = options;
  const snapshot = (of: readonly Stage[], chunks: readonly string[]): Promise<MigrationSnapshot> => migrationSnapshot({
    store, layout, jobs, planned: chunks, stages: of, dryRun: options.dryRun, ...(options.leaseAllowanceMs !== undefined ? { leaseAllowanceMs: options.leaseAllowanceMs } : {}),
  });
  const known = async (of: readonly Stage[], chunks: readonly string[]) => (options.force ? undefined : snapshot(of, chunks));
  const loading = options.stages.includes('load');
  if (!(options.identities || options.lane) || !loading) {
    const s = await known(options.stages, options.all);
    return runChunks(options.stages.map((st) => jobs[st]), options.ids, { ...options, ...(s ? { snapshot: s } : {}) });
  }

  const outcomes: RunSummary['outcomes'] = [];
  const phase = async (list: StageJob[], chunks: readonly string[], at?: MigrationSnapshot): Promise<RunSummary | undefined> => {
    if (chunks.length === 0) return undefined;
    const s = await runChunks(list, chunks, { ...options, ...(at ? { snapshot: at } : {}) });
    outcomes.push(...s.outcomes);
    return s.fatal ? s : undefined;
  };
  const stopped = (s: RunSummary): RunSummary => ({ outcomes, ...(s.fatal ? { fatal: s.fatal } : {}) });
  const say = (message: string, level: 'info' | 'warn' = 'warn') => {
    log[level](message);
    options.notify?.(message);
  };

  const early = options.stages.filter((s) => s !== 'load');
  const before = early.length > 0 ? await phase(early.map((s) => jobs[s]), options.ids, await known(early, options.all)) : undefined;
  if (before) return stopped(before);
  const merged = await mergeIdentities({ store, layout, chunks: options.all, transform: options.transform, worker: options.worker.id, log, shards: options.shards });
  if (merged.waiting.length > 0) {
    const why = options.identities ? 'identities are merged across the whole migration and load before the events' : 'the sample is drawn from the whole migration';
    say(`load waits until every chunk is transformed (${merged.waiting.length} not yet, like ${merged.waiting.slice(0, 3).join(', ')}): ${why}`);
    for (const chunk of options.ids) outcomes.push({ chunk, stage: 'load', result: 'waiting' });
    return { outcomes };
  }
  if (options.lane) {
    const scope = await drawSample({ store, layout, lane: options.lane, chunks: [...merged.identities, ...options.all], persons: merged.persons, log });
    log.info({ sample: options.lane.id, clusters: scope.clusters, linkedIds: scope.linkedIds }, 'sampled load: only the drawn persons\' events are sent');
  }
  // Ordered now that every chunk is transformed. Chunks the source wants last (profiles, users) form
  // a phase of their own, so no event loads after them even with concurrency.
  const loads = await snapshot(['load'], [...options.all, ...merged.identities, ...merged.persons]);
  const order = planLoad(options.ids, (id) => loads.manifest('transform', id), options.last).order;
  const atLoads = options.force ? undefined : loads;
  for (const list of [merged.identities, order.filter((id) => !options.last.has(id)), order.filter((id) => options.last.has(id))]) {
    const s = await phase([jobs.load], list, atLoads);
    if (s) return stopped(s);
    // An event sent before its $identify lands on a person of its own, which PostHog cannot undo.
    if (list === merged.identities && !list.every((id) => outcomes.some((o) => o.stage === 'load' && o.chunk === id && (o.result === 'done' || o.result === 'skipped')))) {
      say('events load only after every identity chunk has: the next run loads the identities, then the events');
      for (const chunk of order) outcomes.push({ chunk, stage: 'load', result: 'blocked' });
      return { outcomes };
    }
  }
  if (merged.persons.length > 0) {
    const after = await snapshot(['load'], [...options.all, ...merged.persons]);
    if (options.all.every((chunk) => after.state('load', chunk).status === 'done')) {
      const s = await phase([jobs.load], merged.persons, options.force ? undefined : after);
      if (s) return stopped(s);
    } else {
      log.info('person properties load once every chunk is loaded');
    }
  }
  return { outcomes };
}
