import { exportFilesSource } from '@hogport/source-files';
import { mapGa4Row } from './ga4.js';

/** GA4's BigQuery export as NDJSON or Parquet extracts of events_YYYYMMDD. */
export const ga4Source = exportFilesSource('ga4', { pattern: '**/*', version: 6, mapper: () => (v) => mapGa4Row(v) });
