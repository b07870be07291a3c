export { runChunks, type RunOptions, type RunEvent, type RunSummary, type ChunkOutcome } from './run.js';
export type { StageJob, StageResult, ProcessContext } from './job.js';
export { acquireLease, currentWorker, Lease, type Worker } from './lease.js';
export { extractJob } from './stages/extract.js';
export { transformJob } from './stages/transform.js';
export { loadJob } from './stages/load.js';
export { finishEvent } from './stages/enrich.js';
export { GzipLinesWriter } from './stages/writer.js';
export { joinRateShare, type RateShare, type RateShareOptions } from './rate-share.js';
