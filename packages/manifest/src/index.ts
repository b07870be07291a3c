export { Manifest, Claim, Failure, Checkpoint, WorkerRegistration, Unreadable, SampleScope, Counts, InputRef, OutputRef, MANIFEST_VERSION } from './schema.js';
export { readControl, encodeControl } from './io.js';
