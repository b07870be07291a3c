export { amplitudeSource, AmplitudeOptions, AVAILABILITY_DELAY_MS, EXPORT_API_MAX_BYTES } from './source.js';
export { mapAmplitudeRecord, sessionUuid, AMPLITUDE_NAMESPACE, type AmplitudeMapping, type Mapped } from './map.js';
export { readAmplitude, amplitudeChunkMapper, naturalOrder } from './read.js';
export { downloadHour, exportHour, checkExportApi, EMPTY_HOUR, type ExportApiOptions } from './export-api.js';
