import { pipeline } from 'node:stream/promises';
import { HashingCounter } from '@hogport/common';
import type { OutputRef } from '@hogport/manifest';
import type { PlannedChunk, Source } from '@hogport/pipeline';
import type { StageJob } from '../job.js';
import { digestOf } from './digest.js';

/**
 * Extract: copies each chunk's source data into the store byte for byte. The chunk is up to date
 * while its source inputs (keys, etags, sizes) are unchanged.
 */
export function extractJob(opts: { source: Source; planned: ReadonlyMap<string, PlannedChunk> }): StageJob {
  const { source, planned } = opts;
  const configHash = digestOf({ stage: 'extract', source: source.type });
  const expectFrom = (chunk: string) => {
    const plan = planned.get(chunk);
    return plan ? { inputDigest: digestOf(plan.inputs), configHash } : undefined;
  };
  return {
    stage: 'extract',
    expect: async (chunk) => expectFrom(chunk),
    expectFrom,
    async process(ctx) {
      const plan = planned.get(ctx.chunk)!;
      const outputs: OutputRef[] = [];
      await source.extract({
        chunk: plan,
        signal: ctx.signal,
        log: ctx.log,
        async writeRaw(name, body) {
          if (!/^[A-Za-z0-9._~=+#-][A-Za-z0-9._~=+#/ -]*$/.test(name) || name.includes('..')) {
            throw new Error(`source produced an unsafe raw file name: ${name}`);
          }
          const counter = new HashingCounter();
          const key = ctx.layout.raw(ctx.chunk, ctx.attempt, name);
          // The pipeline listens to both streams from the start, so a body that fails before the
          // store reads it (a cut download) rejects this write instead of an unheard 'error'.
          const flowing = pipeline(body, counter);
          const written = ctx.store.write(key, counter);
          const [flowed, stored] = await Promise.allSettled([flowing, written]);
          // A store that gave up closes the pipeline early: its own error says more than that.
          const closedByStore = stored.status === 'rejected' && flowed.status === 'rejected' && (flowed.reason as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE';
          if (flowed.status === 'rejected' && !closedByStore) throw flowed.reason;
          if (stored.status === 'rejected') throw stored.reason;
          outputs.push({ key, role: 'raw', bytes: counter.bytes, sha256: counter.sha256 });
          ctx.progress(1);
          return { sha256: counter.sha256, bytes: counter.bytes };
        },
      });
      const bytes = outputs.reduce((a, o) => a + o.bytes, 0);
      return {
        inputs: plan.inputs,
        outputs,
        counts: { unit: 'files', in: outputs.length, out: outputs.length, rejected: 0, dropped: 0, droppedBy: {} },
        bytes: { in: bytes, out: bytes },
      };
    },
  };
}
