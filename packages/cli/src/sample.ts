import { sampleIdOf } from '@hogport/layout';
import { Manifest, readControl, SampleScope } from '@hogport/manifest';
import type { SampleLane } from '@hogport/runner';
import pLimit from 'p-limit';
import type { Context } from './context.js';

/**
 * The context of a sampled run: the same migration, with its load keys in the sample's lane and
 * the sample's destination (`sample.destination`, else `destination`) as the one everything sends
 * to, checks and names. Extract, transform and the merge are the migration's own.
 */
export function sampledContext(ctx: Context, percent: number): { ctx: Context; lane: SampleLane } {
  const id = sampleIdOf(percent)!;
  const def = ctx.pipeline.definition;
  const destination = def.sample?.destination ?? def.destination;
  return {
    ctx: { ...ctx, layout: ctx.layout.sampled(id), pipeline: { ...ctx.pipeline, definition: { ...def, destination } } },
    lane: { id, percent },
  };
}

/** A sample lane found in the store: its scope, and what its load manifests add up to. */
export interface SampleView {
  sample: string;
  scope?: SampleScope;
  /** Chunks with a load manifest in the lane, and their counts summed. */
  loaded: number;
  counts: { in: number; out: number; rejected: number; dropped: number; notSampled: number };
}

/** Every sample lane under the migration's samples/ prefix, from the store alone. */
export async function sampleViews(ctx: Context): Promise<SampleView[]> {
  const ids = new Set<string>();
  for await (const obj of ctx.store.list(ctx.layout.samples())) {
    const id = ctx.layout.sampleOf(obj.key);
    if (id) ids.add(id);
  }
  const limit = pLimit(16);
  return Promise.all([...ids].sort().map(async (sample): Promise<SampleView> => {
    const lane = ctx.layout.sampled(sample);
    const scope = (await readControl(ctx.store, ctx.layout.scope(sample), SampleScope).catch(() => undefined))?.value;
    const keys: string[] = [];
    for await (const obj of ctx.store.list(lane.manifests('load'))) if (lane.chunkOf('manifests', 'load', obj.key)) keys.push(obj.key);
    const counts = { in: 0, out: 0, rejected: 0, dropped: 0, notSampled: 0 };
    const manifests = await Promise.all(keys.map((key) => limit(async () => (await readControl(ctx.store, key, Manifest).catch(() => undefined))?.value)));
    let loaded = 0;
    for (const m of manifests) {
      if (!m) continue;
      loaded += 1;
      counts.in += m.counts.in; counts.out += m.counts.out; counts.rejected += m.counts.rejected; counts.dropped += m.counts.dropped;
      counts.notSampled += m.counts.droppedBy.notSampled ?? 0;
    }
    return { sample, ...(scope ? { scope } : {}), loaded, counts };
  }));
}

/** A scope in words, for status and the end of a run. */
export function scopeText(s: Pick<SampleScope, 'percent' | 'clusters' | 'linkedIds' | 'persons'>): string {
  const persons = s.persons.total ? `, ${s.persons.sampled} of ${s.persons.total} persons with properties` : '';
  return `${s.percent}% of persons: ${s.clusters.sampled} of ${s.clusters.total} linked persons (${s.linkedIds.sampled} of ${s.linkedIds.total} of their ids)${persons}; ids never linked are drawn one by one`;
}
