import type { Stage } from '@hogport/layout';
import type { MigrationSnapshot } from '@hogport/state';
import type { Context } from './context.js';
import { migrationSnapshot, type StageJob } from '@hogport/runner';
import { sampleViews, scopeText, type SampleView } from './sample.js';

/**
 * The migration as the store has it now, with the plan's chunks that have nothing written yet:
 * what `status`, `verify`, the report and a run's skip decisions read.
 */
export async function snapshotOf(ctx: Context, planned: readonly string[], jobs: Record<Stage, StageJob>, stages?: readonly Stage[]): Promise<MigrationSnapshot> {
  return migrationSnapshot({
    store: ctx.store, layout: ctx.layout, jobs, planned, ...(stages ? { stages } : {}),
    dryRun: ctx.pipeline.definition.destination.type === 'dry-run',
    leaseAllowanceMs: ctx.pipeline.definition.leaseAllowanceSeconds * 1000,
  });
}

/** What `hogport status` shows: the snapshot, which sample's load it shows (`--sample`), and every sample lane the store holds. */
export interface StatusReport {
  snapshot: MigrationSnapshot;
  /** Set when the load shown is a sample's lane. */
  sample?: string;
  samples: SampleView[];
}

export async function statusReport(ctx: Context, planned: readonly string[], jobs: Record<Stage, StageJob>): Promise<StatusReport> {
  const snapshot = await snapshotOf(ctx, planned, jobs);
  return { snapshot, ...(ctx.layout.sample ? { sample: ctx.layout.sample } : {}), samples: await sampleViews(ctx) };
}

export function statusJSON(r: StatusReport): object {
  return { ...r.snapshot.toJSON(), ...(r.sample ? { sample: r.sample } : {}), samples: r.samples };
}

export function formatStatus(r: StatusReport, definition?: string): string {
  const lines = r.snapshot.toText(definition).split('\n');
  if (r.sample) {
    const shown = r.samples.find((v) => v.sample === r.sample);
    lines.splice(1, 0, `load: sample ${r.sample}${shown?.scope ? `: ${scopeText(shown.scope)}` : ' (not drawn yet)'}`);
    // A sample's lane done is a test migration, never the migration complete.
    const end = ` — sample ${r.sample} ${r.snapshot.dryRun ? 'written to its outbox, nothing sent' : 'loaded'}; the full load is shown without --sample`;
    lines[lines.length - 1] = lines.at(-1)!.replace(/ — (dry run complete|migration complete).*$/, end);
  }
  if (r.samples.length > 0) {
    lines.push('', `samples (hogport status --sample <percent> shows one's chunks):`);
    for (const v of r.samples) {
      const c = v.counts;
      lines.push(`  ${v.sample}: ${v.loaded} chunks loaded, events in/out/rejected/dropped ${c.in}/${c.out}/${c.rejected}/${c.dropped} (${c.notSampled} not in the sample)`);
      lines.push(`    ${v.scope ? `${scopeText(v.scope)}; drawn ${v.scope.at}` : 'no scope: its load has not started'}`);
    }
  }
  return lines.join('\n');
}
