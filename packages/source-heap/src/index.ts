export { heapSource } from './source.js';
export { mapHeapRow, heapTable, HEAP_NAMESPACE, type HeapTable } from './heap.js';
