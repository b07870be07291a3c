export { SOURCES } from './context.js';
export { statusReport, formatStatus, type StatusReport } from './status.js';
