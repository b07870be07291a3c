export { MigrationProfile, profileText, APPROVAL_EVENTS, APPROVAL_EVENTS_PER_MINUTE, POSTHOG_IMPORTER_EVENTS_PER_SECOND, type ProfiledRecord, type ProfileJSON, type ProblemFigure } from './profile.js';
export { DistinctCount, Examples, Largest } from './sketch.js';
