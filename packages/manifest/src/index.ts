export { Manifest, Claim, Failure, Counts, InputRef, OutputRef, MANIFEST_VERSION } from './schema.js';
export { readControl, encodeControl } from './io.js';
