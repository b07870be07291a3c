export { segmentSource } from './source.js';
export { mapSegmentMessage, SEGMENT_NAMESPACE } from './segment.js';
