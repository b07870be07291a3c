import type { ThreadJob } from '@hogport/runner';
import { makeLogger, openContext, stageJobs, type GlobalOptions } from './context.js';

export interface ThreadData {
  file: string;
  opts: GlobalOptions;
  logLevel: string;
  /** While the run's progress bars show: the channel to send log lines to, so they are printed above the bars. */
  logChannel?: string;
}

/** Builds the transform job inside a worker thread, from the same definition and options as the run. */
export default async function setup(data: unknown): Promise<ThreadJob> {
  const { file, opts, logLevel, logChannel } = data as ThreadData;
  const channel = logChannel ? new BroadcastChannel(logChannel) : undefined;
  channel?.unref();
  const log = makeLogger({ ...opts, logLevel }, false, channel ? (line) => channel.postMessage(line) : undefined);
  const ctx = await openContext(file, opts, log);
  return { job: stageJobs(ctx, []).transform, store: ctx.store, layout: ctx.layout, log };
}
