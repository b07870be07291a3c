export { HttpClient, RETRYABLE_STATUSES, isNetworkError, type HttpClientOptions, type CallOptions, type CallResult, type Reply, type Answer } from './client.js';
export { Breaker, unreachable, type BreakerOptions } from './breaker.js';
export { CompleteBody, jsonLinesComplete, zipComplete, bodyIncomplete, isBodyIncomplete, type BodyCheck } from './complete.js';
