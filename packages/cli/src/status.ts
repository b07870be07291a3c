import type { Stage } from '@hogport/layout';
import { takeSnapshot, type MigrationSnapshot } from '@hogport/state';
import type { Context } from './context.js';
import type { StageJob } from '@hogport/runner';

/**
 * The migration as the store has it now, with the plan's chunks that have nothing written yet:
 * what `status`, `verify`, the report and a run's skip decisions read.
 */
export async function snapshotOf(ctx: Context, planned: readonly string[], jobs: Record<Stage, StageJob>, stages?: readonly Stage[]): Promise<MigrationSnapshot> {
  return takeSnapshot({
    store: ctx.store, layout: ctx.layout, planned, ...(stages ? { stages } : {}),
    expect: (stage, chunk, upstream) => jobs[stage].expectFrom(chunk, upstream),
    dryRun: ctx.pipeline.definition.destination.type === 'dry-run',
  });
}
