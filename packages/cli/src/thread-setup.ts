import type { ThreadJob } from '@hogport/runner';
import { makeLogger, openContext, stageJobs, type GlobalOptions } from './context.js';

export interface ThreadData {
  file: string;
  opts: GlobalOptions;
  logLevel: string;
}

/** Builds the transform job inside a worker thread, from the same definition and options as the run. */
export default async function setup(data: unknown): Promise<ThreadJob> {
  const { file, opts, logLevel } = data as ThreadData;
  const log = makeLogger({ ...opts, logLevel }, false);
  const ctx = await openContext(file, opts, log);
  return { job: stageJobs(ctx, []).transform, store: ctx.store, layout: ctx.layout, log };
}
