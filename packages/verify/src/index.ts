export { verifyMigration, countQuery, formatVerify, type VerifyOptions, type VerifyReport, type ChunkCheck, type ChunkVerdict } from './verify.js';
export { PostHogQuery, type QueryOptions } from '@hogport/query';
