import { Readable } from 'node:stream';
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
  return {
    stage: 'extract',
    async expect(chunk) {
      const plan = planned.get(chunk);
      return plan ? { inputDigest: digestOf(plan.inputs), configHash } : undefined;
    },
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
          body.on('error', (err) => counter.destroy(err));
          const key = ctx.layout.raw(ctx.chunk, ctx.attempt, name);
          await ctx.store.write(key, body.pipe(counter) as Readable);
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
