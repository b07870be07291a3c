import { exportFilesSource } from '@hogport/source-files';
import { heapTable, mapHeapRow } from './heap.js';

/**
 * Heap's exports: event tables, users (person records, sent once in `~persons` after the events),
 * user migrations (as links) and sessions (dropped by rule). The table is told by the chunk id, at plan and at transform alike.
 */
export const heapSource = exportFilesSource('heap', {
  pattern: '**/*', version: 8,
  mapper: (chunk) => {
    const table = heapTable(chunk);
    return (v) => mapHeapRow(v, table);
  },
});
