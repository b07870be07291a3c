export { filesSource, segmentSource, ga4Source, heapSource, FilesOptions } from './source.js';
export { declaredMapper, DeclaredMapping, FILES_NAMESPACE } from './mapping.js';
export { loadMappingModule, runMapper, type MapRecord, type MappedEvent } from './module.js';
export { mapSegmentMessage, SEGMENT_NAMESPACE } from './segment.js';
export { mapGa4Row, GA4_NAMESPACE } from './ga4.js';
export { mapHeapRow, heapTable, HEAP_NAMESPACE, type HeapTable } from './heap.js';
