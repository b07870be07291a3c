import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream';
import { describeError } from '@hogport/common';
import { Manifest, readControl, type Counts } from '@hogport/manifest';
import type { ChunkOutcome } from '@hogport/runner';
import pLimit from 'p-limit';
import type { Context } from './context.js';
import type { RunFacts } from './run-summary.js';

/**
 * Reads from the store what the end of a run reports: the manifests of the chunks this run
 * transformed and loaded (not the ones it found already done), a few requests per chunk.
 */
export async function readRunFacts(ctx: Context, definition: string, stages: RunFacts['stages'], outcomes: readonly ChunkOutcome[]): Promise<RunFacts> {
  const d = ctx.pipeline.definition.destination;
  const destination: RunFacts['destination'] = d.type === 'dry-run'
    ? { type: 'dry-run', outbox: `${ctx.store.url.replace(/\/+$/, '')}/${ctx.layout.outboxes()}` }
    : { type: 'posthog', host: `${new URL(d.host).origin}${new URL(d.host).pathname.replace(/\/+$/, '')}` };
  const did = (stage: string) => outcomes.filter((o) => o.stage === stage && o.result === 'done').map((o) => o.chunk);
  const limit = pLimit(16);
  const manifests = (stage: 'transform' | 'load') => Promise.all(did(stage).map((chunk) => limit(async () => {
    const m = await readControl(ctx.store, ctx.layout.manifest(stage, chunk), Manifest).catch((err: unknown) => {
      ctx.log.warn({ chunk, stage, error: describeError(err) }, 'the end of the run could not read this manifest; its counts are left out');
      return undefined;
    });
    return m ? { chunk, manifest: m.value } : undefined;
  })));
  const [t, l] = await Promise.all([manifests('transform'), manifests('load')]);
  const transformed = await Promise.all(t.filter((x) => x !== undefined).map(({ chunk, manifest }) => limit(async () => {
    const rejects = manifest.outputs.find((o) => o.role === 'rejects')?.key;
    const counts = manifest.counts.rejected > 0 && !manifest.counts.rejectedBy && rejects
      ? { ...manifest.counts, rejectedBy: await rejectCodes(ctx, rejects) }
      : manifest.counts;
    return { chunk, counts, ...(rejects ? { rejects } : {}) };
  })));
  const loaded = l.filter((x) => x !== undefined).map(({ chunk, manifest }) => ({
    chunk, counts: manifest.counts, rejects: manifest.outputs.filter((o) => o.role === 'rejects').map((o) => o.key),
  }));
  return { definition, stages, outcomes, destination, store: ctx.store.url, transformed, loaded };
}

/**
 * Rejects by code, counted from a rejects object: for manifests written before they counted them.
 * Streamed, one line at a time; a code it cannot read is left out, and the summary says how many.
 */
async function rejectCodes(ctx: Context, key: string): Promise<NonNullable<Counts['rejectedBy']>> {
  const byCode: Record<string, number> = {};
  try {
    const gunzip = createGunzip();
    pipeline(await ctx.store.read(key), gunzip, () => undefined);
    for await (const line of createInterface({ input: gunzip, crlfDelay: Infinity })) {
      if (!line) continue;
      const code = (JSON.parse(line) as { code?: unknown }).code;
      if (typeof code === 'string') byCode[code] = (byCode[code] ?? 0) + 1;
    }
  } catch (err) {
    ctx.log.warn({ key, error: describeError(err) }, 'the end of the run could not read these rejects; their codes are left out');
  }
  return byCode;
}
