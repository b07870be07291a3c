export { Manifest, Claim, Failure, Checkpoint, WorkerRegistration, Counts, InputRef, OutputRef, MANIFEST_VERSION } from './schema.js';
export { readControl, encodeControl } from './io.js';
