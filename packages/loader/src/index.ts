export { type Batch, type Destination, type SendReport, batchBody, MAX_REQUEST_BYTES, MAX_EVENT_BYTES, ENVELOPE_BYTES } from './destination.js';
export { batches, uuidOf, type BatchOptions, type BatcherStats } from './batcher.js';
export { PostHogDestination, parseRetryAfter, type PostHogOptions } from './posthog.js';
export { DryRunDestination } from './dry-run.js';
