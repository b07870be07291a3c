import { exportFilesSource } from '@hogport/source-files';
import { heapTable, mapHeapRow } from './heap.js';

/**
 * Heap's exports: event tables, users (person records, sent once in `~persons` after the events) and
 * user migrations (as links). The table is told by the chunk id, at plan and at transform alike.
 */
export const heapSource = exportFilesSource('heap', {
  pattern: '**/*', version: 5,
  mapper: (chunk) => {
    const table = heapTable(chunk);
    return (v) => mapHeapRow(v, table);
  },
});
