import { describeError } from '@hogport/common';
import { Manifest, readControl, SampleScope } from '@hogport/manifest';
import type { ChunkOutcome, SampleLane } from '@hogport/runner';
import pLimit from 'p-limit';
import { ingestionHost, type Context } from './context.js';
import type { RunFacts } from './run-summary.js';

/**
 * Reads from the store what the end of a run reports: the manifests of the chunks this run
 * transformed and loaded (not the ones it found already done), a few requests per chunk.
 */
export async function readRunFacts(ctx: Context, definition: string, stages: RunFacts['stages'], outcomes: readonly ChunkOutcome[], lane?: SampleLane): Promise<RunFacts> {
  const d = ctx.pipeline.definition.destination;
  const destination: RunFacts['destination'] = d.type === 'dry-run'
    ? { type: 'dry-run', outbox: `${ctx.store.url.replace(/\/+$/, '')}/${ctx.layout.outboxes()}` }
    : { type: 'posthog', host: ingestionHost(d.host) };
  const did = (stage: string) => outcomes.filter((o) => o.stage === stage && o.result === 'done').map((o) => o.chunk);
  const limit = pLimit(16);
  const unread: string[] = [];
  const manifests = (stage: 'transform' | 'load') => Promise.all(did(stage).map((chunk) => limit(async () => {
    const m = await readControl(ctx.store, ctx.layout.manifest(stage, chunk), Manifest).catch((err: unknown) => {
      ctx.log.warn({ chunk, stage, error: describeError(err) }, 'the end of the run could not read this manifest; its counts are left out');
      return undefined;
    });
    if (!m) unread.push(`${stage} ${chunk}`);
    return m ? { chunk, manifest: m.value } : undefined;
  })));
  const [t, l] = await Promise.all([manifests('transform'), manifests('load')]);
  // Manifests this run wrote count their rejects by code: the rejects themselves need not be read.
  const transformed = t.filter((x) => x !== undefined).map(({ chunk, manifest }) => {
    const rejects = manifest.outputs.find((o) => o.role === 'rejects')?.key;
    return { chunk, counts: manifest.counts, ...(rejects ? { rejects } : {}) };
  });
  const loaded = l.filter((x) => x !== undefined).map(({ chunk, manifest }) => ({
    chunk, counts: manifest.counts, rejects: manifest.outputs.filter((o) => o.role === 'rejects').map((o) => o.key),
    ...(manifest.delta ? { delta: manifest.delta } : {}),
  }));
  const scope = lane ? (await readControl(ctx.store, ctx.layout.scope(lane.id), SampleScope).catch(() => undefined))?.value : undefined;
  const sample = lane ? { sample: { id: lane.id, percent: lane.percent, ...(scope ? { scope } : {}) } } : {};
  return { definition, stages, outcomes, destination, store: ctx.store.url, transformed, loaded, unread: unread.sort(), ...sample };
}
