export { posthogFilesSource, mapPostHogRecord, transformPostHogLines, PostHogFilesOptions, POSTHOG_FILES_NAMESPACE } from './source.js';
export { normalizeTimestamp } from './timestamp.js';
