export { posthogFilesSource, mapPostHogRecord, transformPostHogLines, PostHogFilesOptions, POSTHOG_FILES_NAMESPACE } from './source.js';
