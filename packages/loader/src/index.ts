export { type Batch, type Destination, type SendReport, type SendOptions, type RetryBudget, type InvalidEvent, batchBody, gzipBatchBody, MAX_REQUEST_BYTES, MAX_EVENT_BYTES, ENVELOPE_BYTES } from './destination.js';
export { batches, type BatchOptions, type IndexedLine } from './batcher.js';
export { validateEvent, type EventProblem } from './validate.js';
export { deliver, type Delivery, type DeliverOptions, type RefusedEvent } from './deliver.js';
export { RateGate, type RateLimit } from '@hogport/common';
export { PostHogDestination, type PostHogOptions } from './posthog.js';
export { DryRunDestination } from './dry-run.js';
export { probeProjectKey, type ProbeOptions } from './probe.js';
