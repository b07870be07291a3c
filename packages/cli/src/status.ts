import { isDerivedChunk, STAGES, type Stage } from '@hogport/layout';
import { inspectChunk, listedChunks, type ChunkState, type ChunkStatus } from '@hogport/state';
import { Checkpoint, readControl } from '@hogport/manifest';
import pLimit from 'p-limit';
import type { Context } from './context.js';
import type { StageJob } from '@hogport/runner';
import { sampleViews, scopeText, type SampleView } from './sample.js';

export interface StatusReport {
  migration: string;
  store: string;
  /** Whether the destination is the dry-run outbox: then a loaded chunk was written there, not sent. */
  dryRun: boolean;
  chunks: Array<{ chunk: string } & Record<Stage, ChunkView>>;
  totals: Record<Stage, Record<ChunkStatus, number>>;
  /** Set when the load shown is a sample's lane (`status --sample`). */
  sample?: string;
  /** Every sample lane the store holds, with its scope and load totals. */
  samples: SampleView[];
}

interface ChunkView {
  status: ChunkStatus;
  counts?: { in: number; out: number; rejected: number; dropped: number };
  attempt?: string;
  finishedAt?: string;
  error?: { code: string; message: string };
  reason?: string;
  worker?: string;
  /** Load only: events acknowledged by an unfinished attempt, which the next one skips. */
  acknowledged?: number;
}

/** The state of every chunk in every stage, from the store alone (plus the plan, for chunks not yet started). */
export async function statusReport(ctx: Context, planned: string[], jobs: Record<Stage, StageJob>): Promise<StatusReport> {
  const ids = new Set(planned);
  for (const stage of STAGES) for (const id of await listedChunks(ctx.store, ctx.layout, stage)) ids.add(id);
  const chunks = [...ids].sort();
  const limit = pLimit(16);
  const rows = await Promise.all(chunks.map((chunk) => limit(async () => {
    const row = { chunk } as { chunk: string } & Record<Stage, ChunkView>;
    for (const stage of STAGES) {
      const expected = await jobs[stage].expect(chunk);
      row[stage] = stage === 'extract' && isDerivedChunk(chunk)
        ? { status: 'done', reason: 'derived from the whole migration by the merge step; nothing to extract' }
        : view(await inspectChunk(ctx.store, ctx.layout, stage, chunk, expected));
      if (stage === 'load' && row[stage].status !== 'done') {
        const cp = await readControl(ctx.store, ctx.layout.checkpoint(stage, chunk), Checkpoint).catch(() => undefined);
        if (cp) row[stage].acknowledged = cp.value.counts.in;
      }
    }
    return row;
  })));
  const empty = (): Record<ChunkStatus, number> => ({ done: 0, stale: 0, failed: 0, running: 0, pending: 0, waiting: 0 });
  const totals = { extract: empty(), transform: empty(), load: empty() };
  for (const row of rows) for (const stage of STAGES) totals[stage][row[stage].status] += 1;
  return {
    migration: ctx.layout.migration, store: ctx.store.url, dryRun: ctx.pipeline.definition.destination.type === 'dry-run', chunks: rows, totals,
    ...(ctx.layout.sample ? { sample: ctx.layout.sample } : {}), samples: await sampleViews(ctx),
  };
}

function view(s: ChunkState): ChunkView {
  const v: ChunkView = { status: s.status };
  if (s.manifest) {
    const m = s.manifest.value;
    v.counts = { in: m.counts.in, out: m.counts.out, rejected: m.counts.rejected, dropped: m.counts.dropped };
    v.attempt = m.attempt;
    v.finishedAt = m.finishedAt;
  }
  if (s.status === 'failed' && s.failure) v.error = s.failure.error;
  if (s.reason) v.reason = s.reason;
  if (s.status === 'running' && s.claim) v.worker = s.claim.worker;
  return v;
}

export function formatStatus(r: StatusReport): string {
  const lines: string[] = [];
  lines.push(`migration ${r.migration} in ${r.store}`);
  const shown = r.sample ? r.samples.find((v) => v.sample === r.sample) : undefined;
  if (r.sample) lines.push(`load: sample ${r.sample}${shown?.scope ? `: ${scopeText(shown.scope)}` : ' (not drawn yet)'}`);
  lines.push('');
  const cols: ChunkStatus[] = ['done', 'stale', 'failed', 'running', 'pending', 'waiting'];
  lines.push(['stage'.padEnd(10), ...cols.map((c) => c.padStart(8)), '   records in/out/rejected/dropped'].join(''));
  for (const stage of STAGES) {
    const sums = { in: 0, out: 0, rejected: 0, dropped: 0 };
    for (const row of r.chunks) {
      const c = row[stage].counts;
      if (c && row[stage].status === 'done') { sums.in += c.in; sums.out += c.out; sums.rejected += c.rejected; sums.dropped += c.dropped; }
    }
    lines.push([stage.padEnd(10), ...cols.map((c) => String(r.totals[stage][c]).padStart(8)), `   ${sums.in}/${sums.out}/${sums.rejected}/${sums.dropped}`].join(''));
  }
  const problems: string[] = [];
  for (const row of r.chunks) {
    for (const stage of STAGES) {
      const v = row[stage];
      if (v.status === 'failed') problems.push(`  ${stage} ${row.chunk}: failed: ${v.error?.code ?? ''} ${v.error?.message ?? ''}`);
      if (v.status === 'stale') problems.push(`  ${stage} ${row.chunk}: stale: ${v.reason ?? ''}`);
      if (v.status === 'running') problems.push(`  ${stage} ${row.chunk}: running on ${v.worker ?? '?'}`);
      if (v.acknowledged) problems.push(`  ${stage} ${row.chunk}: ${v.acknowledged} events acknowledged so far; the next attempt resumes after them`);
    }
  }
  if (problems.length > 0) { lines.push(''); lines.push(...problems); }
  lines.push('');
  const total = r.chunks.length;
  const summary = STAGES.map((s) => `${s} ${r.totals[s].done}/${total} done${r.totals[s].failed ? ` (${r.totals[s].failed} failed)` : ''}`).join(', ');
  const complete = STAGES.every((s) => r.totals[s].done === total);
  const end = r.sample
    ? ` — sample ${r.sample} ${r.dryRun ? 'written to its outbox, nothing sent' : 'loaded'}; the full load is shown without --sample`
    : r.dryRun ? ' — dry run complete: the events are in the outbox, nothing was sent' : ' — migration complete';
  lines.push(`${total} chunks: ${summary}${complete ? end : ''}`);
  if (r.samples.length > 0) {
    lines.push('');
    lines.push(`samples (hogport status --sample <percent> shows one's chunks):`);
    for (const v of r.samples) {
      const c = v.counts;
      lines.push(`  ${v.sample}: ${v.loaded} chunks loaded, events in/out/rejected/dropped ${c.in}/${c.out}/${c.rejected}/${c.dropped} (${c.notSampled} not in the sample)`);
      lines.push(`    ${v.scope ? `${scopeText(v.scope)}; drawn ${v.scope.at}` : 'no scope: its load has not started'}`);
    }
  }
  return lines.join('\n');
}
