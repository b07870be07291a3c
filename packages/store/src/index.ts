export type { Store, ObjectInfo, WriteCondition, Body } from './types.js';
export { openStore, type StoreOptions } from './open.js';
export { readSmall, readJsonWithEtag } from './helpers.js';
export { FileStore } from './drivers/file.js';
export type { S3Options } from './drivers/s3.js';
export type { GcsOptions } from './drivers/gcs.js';
