export { renderReport } from './render.js';
export { STAGES, CHUNK_STATES, type ReportData, type ReportStage, type ReportChunkState, type StageFigures, type DayFigures, type NameFigures, type RejectGroup, type LoadChunk, type LoadedAgain, type ReportSample } from './data.js';
