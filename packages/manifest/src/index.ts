export { Manifest, Claim, Failure, Checkpoint, WorkerRegistration, Pace, Unreadable, SampleScope, MergePart, MergeShard, Counts, InputRef, OutputRef, MANIFEST_VERSION, MAX_EVENT_NAMES, OTHER_EVENT_NAMES } from './schema.js';
export { readControl, encodeControl } from './io.js';
