import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { gunzipIfGzipped, HOGPORT_VERSION, splitLines } from '@hogport/common';
import { isDerivedChunk, STAGES, type Stage } from '@hogport/layout';
import { Manifest, OTHER_EVENT_NAMES, readControl } from '@hogport/manifest';
import type { PlannedChunk } from '@hogport/pipeline';
import { renderReport, type DayFigures, type LoadChunk, type LoadedAgain, type RejectGroup, type ReportData, type StageFigures } from '@hogport/report';
import { isPersonsChunk, storedLines, type StageJob } from '@hogport/runner';
import pLimit from 'p-limit';
import { ingestionHost, type Context } from './context.js';
import { readSaved } from './saved-results.js';
import { snapshotOf } from './status.js';
import { sampleViews } from './sample.js';
import { storePath } from './run-summary.js';
import type { ProfileJSON } from '@hogport/profile';
import type { VerifyReport } from '@hogport/verify';

/** Rejects shown per code; reading stops once each code has these, or at the bounds below. */
const EXAMPLES_PER_CODE = 3;
const MAX_REJECT_LINES = 2000;
const MAX_REJECT_BYTES = 4 * 1024 * 1024;
/** Lines read from one rejects object: a chunk full of one code does not use up the budget. */
const MAX_LINES_PER_OBJECT = 200;
const MAX_NAMES_SHOWN = 200;
const MAX_LISTED = 25;
const IDENTITIES = /^~identities-\d+$/;

/**
 * Everything the report shows, read from the store: chunk states and the done manifests of every
 * stage from one snapshot of the migration, the first few rejects of each code, and the saved results of
 * `verify` and `profile`. The one place that gathers it, so where the states come from can change
 * without touching what is drawn.
 */
export async function reportData(ctx: Context, planned: readonly PlannedChunk[], jobs: Record<Stage, StageJob>): Promise<ReportData> {
  const generatedAt = new Date().toISOString();
  const snapshot = await snapshotOf(ctx, planned.map((c) => c.id), jobs);
  const status = snapshot.toJSON() as { chunks: Array<{ chunk: string } & Record<Stage, NonNullable<ReturnType<typeof snapshot.toJSON>['chunks'][number]['load']>>>; totals: Record<Stage, Record<string, number>> };
  const read = (stage: Stage) => snapshot.chunks
    .filter((chunk) => snapshot.state(stage, chunk).status === 'done' && !(stage === 'extract' && isDerivedChunk(chunk)))
    .map((chunk) => snapshot.manifest(stage, chunk)).filter((m): m is Manifest => m !== undefined);
  const [extract, transform, load] = [read('extract'), read('transform'), read('load')];
  const notes: string[] = [];
  const [verify, profile, samples] = await Promise.all([readSaved<VerifyReport>(ctx, 'hogport.verify'), readSaved<ProfileJSON>(ctx, 'hogport.profile'), sampleViews(ctx)]);
  if (verify.note) notes.push(verify.note);
  if (profile.note) notes.push(profile.note);

  const loaded = new Set(load.map((m) => m.chunk));
  const verifiedChunks = new Set(verify.saved?.result.chunks.filter((c) => c.verdict === 'ok' || c.verdict === 'duplicated').map((c) => c.chunk) ?? []);
  const days = new Map<string, DayFigures>();
  const names = new Map<string, { source: number; loaded: number }>();
  const withoutFigures: string[] = [];
  for (const m of transform) {
    if (!m.eventDays || !m.eventNames) { withoutFigures.push(m.chunk); continue; }
    const isLoaded = loaded.has(m.chunk);
    for (const [day, n] of Object.entries(m.eventDays)) {
      const d = days.get(day) ?? { day, source: 0, loaded: 0, ...(verify.saved ? { verified: 0 } : {}) };
      d.source += n;
      if (isLoaded) d.loaded += n;
      if (verify.saved && verifiedChunks.has(m.chunk)) d.verified! += n;
      days.set(day, d);
    }
    for (const [name, n] of Object.entries(m.eventNames)) {
      const f = names.get(name) ?? { source: 0, loaded: 0 };
      f.source += n;
      if (isLoaded) f.loaded += n;
      names.set(name, f);
    }
  }
  const overflow = names.get(OTHER_EVENT_NAMES) ?? { source: 0, loaded: 0 };
  names.delete(OTHER_EVENT_NAMES);
  const rankedNames = [...names.entries()].sort((a, b) => b[1].source - a[1].source || (a[0] < b[0] ? -1 : 1));
  const otherNames = { ...overflow };
  for (const [, f] of rankedNames.slice(MAX_NAMES_SHOWN)) { otherNames.source += f.source; otherNames.loaded += f.loaded; }

  const attention = status.chunks.flatMap((row) => STAGES.flatMap((stage) => {
    const v = row[stage];
    if (v.status !== 'failed' && v.status !== 'stale' && v.status !== 'running') return [];
    const detail = v.status === 'failed' ? `${v.error?.code ?? ''} ${v.error?.message ?? ''}`.trim() : v.status === 'running' ? `running on ${v.worker ?? 'a worker'}` : v.reason ?? '';
    return [{ stage, chunk: row.chunk, state: v.status, detail }];
  }));

  const loadChunks: LoadChunk[] = load.map((m) => ({
    chunk: m.chunk, events: m.counts.out, rejected: m.counts.rejected, batches: statNumber(m, 'batches'), retries: statNumber(m, 'retries'),
    startedAt: m.startedAt, finishedAt: m.finishedAt, durationMs: m.durationMs,
  }));
  const firstStartedAt = load.reduce<string | undefined>((t, m) => (t === undefined || Date.parse(m.startedAt) < Date.parse(t) ? m.startedAt : t), undefined);
  const lastFinishedAt = load.reduce<string | undefined>((t, m) => (t === undefined || Date.parse(m.finishedAt) > Date.parse(t) ? m.finishedAt : t), undefined);
  const loadEvents = sum(load.map((m) => m.counts.out));
  const wallMs = firstStartedAt && lastFinishedAt ? Date.parse(lastFinishedAt) - Date.parse(firstStartedAt) : 0;

  const derived = transform.filter((m) => isDerivedChunk(m.chunk));
  const identityChunks = derived.filter((m) => IDENTITIES.test(m.chunk)).sort((a, b) => (a.chunk < b.chunk ? -1 : 1));
  const personChunks = derived.filter((m) => isPersonsChunk(m.chunk));
  const persons = personChunks.length === 0 ? undefined : {
    chunk: personChunks.length === 1 ? personChunks[0]!.chunk : `~persons-* (${personChunks.length} shards)`,
    counts: { out: sum(personChunks.map((m) => m.counts.out)) },
    loaded: personChunks.every((m) => loaded.has(m.chunk)),
  };

  const d = ctx.pipeline.definition.destination;
  const v = verify.saved;
  const p = profile.saved;
  return {
    migration: ctx.layout.migration,
    store: ctx.store.url,
    generatedAt,
    hogportVersion: HOGPORT_VERSION,
    destination: d.type === 'dry-run' ? { type: 'dry-run' } : { type: 'posthog', host: ingestionHost(d.host) },
    chunks: { total: status.chunks.length, byStage: status.totals, attention: attention.slice(0, MAX_LISTED), attentionTotal: attention.length },
    stages: { extract: stageFigures(extract, 'files'), transform: stageFigures(transform, 'records'), load: stageFigures(load, 'events') },
    days: [...days.values()].sort((a, b) => (a.day < b.day ? -1 : 1)),
    withoutFigures: withoutFigures.sort(),
    names: rankedNames.slice(0, MAX_NAMES_SHOWN).map(([name, f]) => ({ name, ...f })),
    distinctNames: rankedNames.length,
    otherNames,
    rejects: await rejectExamples(ctx, transform, load),
    identities: {
      pairs: sum(identityChunks.map((m) => m.counts.out)),
      chunks: identityChunks.map((m) => ({ chunk: m.chunk, pairs: m.counts.out, loaded: loaded.has(m.chunk) })),
      ...(persons ? { persons: { chunk: persons.chunk, persons: persons.counts.out, loaded: persons.loaded } } : {}),
    },
    load: {
      chunks: load.length, events: loadEvents, rejected: sum(load.map((m) => m.counts.rejected)),
      batches: sum(loadChunks.map((c) => c.batches)), retries: sum(loadChunks.map((c) => c.retries)), busyMs: sum(load.map((m) => m.durationMs)),
      ...(firstStartedAt ? { firstStartedAt } : {}), ...(lastFinishedAt ? { lastFinishedAt } : {}),
      ...(wallMs > 0 ? { eventsPerSecond: (loadEvents * 1000) / wallMs } : {}),
      slowest: [...loadChunks].sort((a, b) => b.durationMs - a.durationMs || (a.chunk < b.chunk ? -1 : 1)).slice(0, 10),
      ...(await loadedAgain(ctx, load)),
    },
    ...(v ? {
      verify: {
        takenAt: v.takenAt, ok: v.result.ok, chunks: v.result.chunks.length, totals: v.result.totals,
        mismatched: v.result.chunks.filter((c) => c.verdict !== 'ok').slice(0, MAX_LISTED).map((c) => ({ chunk: c.chunk, verdict: c.verdict, expected: c.expected, found: c.found })),
      },
    } : {}),
    ...(ctx.layout.sample ? { sample: ctx.layout.sample } : {}),
    samples: samples.map(({ sample, scope, loaded, counts }) => ({
      sample, loaded, counts,
      ...(scope ? { scope: { percent: scope.percent, rule: scope.rule, at: scope.at, clusters: scope.clusters, linkedIds: scope.linkedIds, persons: scope.persons } } : {}),
    })),
    ...(p ? { profile: { takenAt: p.takenAt, chunks: p.result.chunks, records: p.result.records, events: p.result.events, problems: p.result.problems } } : {}),
    notes,
  };
}

/** Changed events the report lists one by one, over every chunk. */
const CHANGED_LISTED = 20;

/** What the loads of chunks loaded again add up to, with the first few changed events from their lists. */
async function loadedAgain(ctx: Context, load: readonly Manifest[]): Promise<{ again?: LoadedAgain }> {
  const again = load.filter((m) => m.delta);
  if (again.length === 0) return {};
  const d = again.map((m) => m.delta!);
  const changedEvents: LoadedAgain['changedEvents'] = [];
  for (const m of again) {
    const list = m.outputs.find((o) => o.role === 'changed');
    if (!list || changedEvents.length >= CHANGED_LISTED) continue;
    for await (const line of storedLines(ctx.store, list.key)) {
      const e = JSON.parse(line) as Omit<LoadedAgain['changedEvents'][number], 'chunk'>;
      changedEvents.push({ chunk: m.chunk, uuid: e.uuid, event: e.event, distinct_id: e.distinct_id, timestamp: e.timestamp, keyChanged: e.keyChanged, resent: e.resent });
      if (changedEvents.length >= CHANGED_LISTED) break;
    }
  }
  return {
    again: {
      chunks: again.length, alreadyLoaded: sum(d.map((x) => x.alreadyLoaded)), new: sum(d.map((x) => x.new)), changed: sum(d.map((x) => x.changed)),
      resent: sum(d.map((x) => x.changedResent)), keptOut: sum(d.map((x) => x.changed - x.changedResent)), changedEvents,
    },
  };
}

/** What a stage's manifests add up to; load's rejects are named by what refused them. */
function stageFigures(manifests: readonly Manifest[], unit: StageFigures['unit']): StageFigures {
  const f: StageFigures = { chunks: manifests.length, unit, in: 0, out: 0, rejected: 0, dropped: 0, events: 0, rejectedBy: {}, droppedBy: {} };
  const add = (into: Record<string, number>, key: string, n: number) => { if (n > 0) into[key] = (into[key] ?? 0) + n; };
  for (const m of manifests) {
    const c = m.counts;
    f.in += c.in; f.out += c.out; f.rejected += c.rejected; f.dropped += c.dropped; f.events += c.events ?? c.out;
    for (const [k, n] of Object.entries(c.droppedBy)) add(f.droppedBy, k, n);
    const by = c.rejectedBy ?? (m.stage === 'load' ? loadRejectedBy(m) : {});
    for (const [k, n] of Object.entries(by)) add(f.rejectedBy, k, n);
    add(f.rejectedBy, 'unnamed', c.rejected - sum(Object.values(by)));
  }
  return f;
}

/** Load manifests count their rejects as invalid (refused before sending) or refused by PostHog. */
function loadRejectedBy(m: Manifest): Record<string, number> {
  const by = { invalid: statNumber(m, 'invalid'), refusedByPostHog: statNumber(m, 'refusedByPostHog') };
  return by.invalid + by.refusedByPostHog === m.counts.rejected ? by : {};
}

/** The load category a reject's code falls under, as `loadRejectedBy` names them. */
function loadCategory(code: string): string {
  return code.startsWith('E_POSTHOG_') ? 'refusedByPostHog' : 'invalid';
}

/**
 * The first few rejects of each code, read from the start of the chunks' rejects objects until
 * every code has its examples or a bound on lines or bytes is reached: the report costs a few
 * reads however many records were rejected.
 */
async function rejectExamples(ctx: Context, transform: readonly Manifest[], load: readonly Manifest[]): Promise<ReportData['rejects']> {
  const groups = new Map<string, RejectGroup>();
  const group = (stage: RejectGroup['stage'], code: string) => {
    const key = `${stage}\u0000${code}`;
    let g = groups.get(key);
    if (!g) { g = { stage, code, count: 0, examples: [] }; groups.set(key, g); }
    return g;
  };
  for (const m of transform) for (const [code, n] of Object.entries(m.counts.rejectedBy ?? {})) group('transform', code).count += n;
  for (const m of load) for (const [code, n] of Object.entries(loadRejectedBy(m))) if (n > 0) group('load', code).count += n;
  const full = () => [...groups.values()].every((g) => g.examples.length >= Math.min(EXAMPLES_PER_CODE, g.count));
  const objects = [
    ...transform.filter((m) => m.counts.rejected > 0).flatMap((m) => m.outputs.filter((o) => o.role === 'rejects').map((o) => ({ stage: 'transform' as const, chunk: m.chunk, key: o.key }))),
    ...load.filter((m) => m.counts.rejected > 0).flatMap((m) => m.outputs.filter((o) => o.role === 'rejects').map((o) => ({ stage: 'load' as const, chunk: m.chunk, key: o.key }))),
  ].sort((a, b) => (a.key < b.key ? -1 : 1));
  let linesRead = 0;
  let bytesRead = 0;
  for (const obj of objects) {
    if (full() || linesRead >= MAX_REJECT_LINES || bytesRead >= MAX_REJECT_BYTES) break;
    const opened: Readable[] = [];
    try {
      const raw = await ctx.store.read(obj.key);
      opened.push(raw);
      const text = await gunzipIfGzipped(raw);
      opened.push(text);
      let inObject = 0;
      for await (const { line } of splitLines(text)) {
        if (line === '') continue;
        linesRead += 1; inObject += 1; bytesRead += Buffer.byteLength(line);
        const r = parseReject(line);
        if (r) {
          const g = groups.get(`${obj.stage}\u0000${obj.stage === 'load' ? loadCategory(r.code) : r.code}`);
          if (g && g.examples.length < EXAMPLES_PER_CODE) g.examples.push({ chunk: obj.chunk, reason: obj.stage === 'load' ? `${r.code}: ${r.reason}` : r.reason, record: r.record });
        }
        if (inObject >= MAX_LINES_PER_OBJECT || linesRead >= MAX_REJECT_LINES || bytesRead >= MAX_REJECT_BYTES || full()) break;
      }
    } catch (err) {
      ctx.log.warn({ key: obj.key, error: { message: (err as Error).message } }, 'a rejects object could not be read for the report; its examples are left out');
    } finally {
      for (const s of opened) s.destroy();
    }
  }
  const ordered = [...groups.values()].filter((g) => g.count > 0)
    .sort((a, b) => (a.stage === b.stage ? 0 : a.stage === 'transform' ? -1 : 1) || b.count - a.count || (a.code < b.code ? -1 : 1));
  return { groups: ordered, complete: full(), linesRead, bytesRead };
}

function parseReject(line: string): { code: string; reason: string; record: string } | undefined {
  try {
    const r = JSON.parse(line) as { code?: unknown; reason?: unknown; record?: unknown };
    if (typeof r.code !== 'string') return undefined;
    return { code: r.code, reason: String(r.reason ?? ''), record: typeof r.record === 'string' ? r.record : JSON.stringify(r.record) };
  } catch {
    return undefined;
  }
}

function statNumber(m: Manifest, key: string): number {
  const v = m.stats[key];
  return typeof v === 'number' ? v : 0;
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** `report-20240301T093000Z`: sorts by time, and names no two reports of one second alike in practice. */
export function reportName(at: Date = new Date()): string {
  return `report-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

/** Where a key is, as a user opens it: a plain path for a local store, the store's URL and the key otherwise. */
export function storeLocation(storeUrl: string, key: string): string {
  const full = storePath(storeUrl, key);
  return storeUrl.startsWith('file:') ? fileURLToPath(full) : full;
}

/** Builds the report, writes it into the store (and to `out`, when given), and says where it is. */
export async function writeReport(ctx: Context, planned: readonly PlannedChunk[], jobs: Record<Stage, StageJob>, out?: string): Promise<{ key: string; location: string; data: ReportData }> {
  const data = await reportData(ctx, planned, jobs);
  const html = renderReport(data);
  const key = ctx.layout.report(reportName(new Date(data.generatedAt)));
  await ctx.store.write(key, html);
  if (out) await writeFile(out, html);
  return { key, location: storeLocation(ctx.store.url, key), data };
}
