export { verifyMigration, countQuery, formatVerify, type VerifyOptions, type VerifyReport, type ChunkCheck, type ChunkVerdict } from './verify.js';
export { PostHogQuery, hogqlString, hogqlProperty, type QueryOptions, type QueryResult } from './query.js';
