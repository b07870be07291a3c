export { posthogFilesSource, mapPostHogRecord, transformPostHogLines, PostHogFilesOptions, POSTHOG_FILES_NAMESPACE } from './source.js';
export { posthogApiSource, PostHogApiOptions, PERSONS_SOURCE_CHUNK, eventsPageQuery, personsPageQuery, cursorTime } from './api-source.js';
