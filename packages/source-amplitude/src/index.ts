export { amplitudeSource, AmplitudeOptions, AVAILABILITY_DELAY_MS } from './source.js';
export { mapAmplitudeRecord, sessionUuid, AMPLITUDE_NAMESPACE, type AmplitudeMapping, type Mapped } from './map.js';
export { readAmplitude, amplitudeChunkMapper, naturalOrder } from './read.js';
export { downloadHour, exportHour, type ExportApiOptions } from './export-api.js';
