export { HogportError, hasCode, describeError } from './errors.js';
export { createLogger, silentLogger, REDACT_PATHS, type Logger, type LoggerOptions } from './logger.js';
export { readSecret, rememberSecret, redact } from './secrets.js';
export { peekBytes, isGzipMagic, gunzipIfGzipped, HashingCounter, splitLines, sha256, readAll } from './streams.js';
export { canonicalJson, isUuid } from './json.js';
export { HOGPORT_VERSION } from './version.js';
export { sleep } from './time.js';
export { normalizeTimestamp, timeKey } from './timestamp.js';
export { parseRetryAfter, backoffMs } from './http.js';
