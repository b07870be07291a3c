export { Manifest, Claim, Failure, Checkpoint, WorkerRegistration, Unreadable, Counts, InputRef, OutputRef, MANIFEST_VERSION } from './schema.js';
export { readControl, encodeControl } from './io.js';
