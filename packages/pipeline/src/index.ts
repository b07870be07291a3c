export {
  PipelineDefinition, TransformSpec, DestinationSpec, StoreSpec, loadPipeline, resolveLocation, formatIssues, invalidDefinition,
  type LoadedPipeline,
} from './definition.js';
export { planWindows, windowId, fileChunkId, selectChunks, type Window } from './chunks.js';
export type {
  Source, SourceFactory, SourceFactoryContext, PlannedChunk, ExtractContext, TransformContext, RawFileInput, Outcome,
  Position, PostHogEvent,
} from './source.js';
export { jsonLineOutcomes, type RecordResult } from './lines.js';
export { idOf, omitter } from './values.js';
export { filesInStore } from './files.js';
export { transformConfigOf } from './config.js';
