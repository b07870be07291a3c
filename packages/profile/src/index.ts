export { MigrationProfile, profileText, type ProfiledRecord, type ProfileJSON, type ProblemFigure } from './profile.js';
export { DistinctCount, Examples, Largest } from './sketch.js';
