export {
  PipelineDefinition, TransformSpec, DestinationSpec, StoreSpec, DEFAULT_MAX_EVENTS_PER_MINUTE, loadPipeline, resolveLocation, formatIssues, invalidDefinition,
  type LoadedPipeline,
} from './definition.js';
export { planWindows, windowId, fileChunkId, selectChunks, type Window } from './chunks.js';
export type {
  Source, SourceFactory, DefinedSource, SourceFactoryContext, PlannedChunk, ExtractContext, TransformContext, RawFileInput, Outcome,
  Position, SourceRecord, PostHogEvent, Link, PersonRecord,
} from './source.js';
export { readRecords, recordOutcomes, outcomeOf, splitCsvRecord, READ_REJECTS, READ_CHANGES, type Format, type ReadOptions, type RecordRead, type RecordResult } from './records.js';
export { idOf, omitter, hasValue, putter, oncePer } from './values.js';
export { filesInStore, listable } from './files.js';
export { transformConfigOf } from './config.js';
export { defineSource, mapRecords, mapOutcome, type SourceDefinition, type SourceSteps, type RecordMapper, type RecordReading, type ReadRecord } from './define.js';
