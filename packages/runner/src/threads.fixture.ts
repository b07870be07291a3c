// A stage job for the thread pool's tests: what it does is told by the chunk's name.
import { isMainThread, threadId } from 'node:worker_threads';
import { silentLogger, sleep } from '@hogport/common';
import { layout } from '@hogport/layout';
import { openStore } from '@hogport/store';
import { HogportError } from '@hogport/common';
import type { StageJob } from './job.js';
import type { ThreadJob } from './threads.js';

export function fixtureJob(): StageJob {
  return {
    stage: 'transform',
    expect: async () => ({ inputDigest: 'in', configHash: 'cfg' }),
    expectFrom: () => ({ inputDigest: 'in', configHash: 'cfg' }),
    async process(ctx) {
      ctx.progress(1);
      if (ctx.chunk.startsWith('crash')) process.exit(3);
      if (ctx.chunk.startsWith('fail')) throw new HogportError('E_FIXTURE', `chunk ${ctx.chunk} failed on purpose`, { details: { fatal: ctx.chunk === 'fail-fatal' } });
      if (ctx.chunk.startsWith('slow')) {
        await sleep(30_000, ctx.signal);
      } else {
        await sleep(50);
      }
      return {
        inputs: [], outputs: [], counts: { unit: 'records', in: 1, out: 1, rejected: 0, dropped: 0, events: 1, droppedBy: {} },
        bytes: { in: 0, out: 0 }, stats: { thread: isMainThread ? 'main' : String(threadId) },
      };
    },
  };
}

export default async function setup(data: unknown): Promise<ThreadJob> {
  const { dir } = data as { dir: string };
  return { job: fixtureJob(), store: openStore(dir), layout: layout('m'), log: silentLogger };
}
