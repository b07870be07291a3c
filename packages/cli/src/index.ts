export { SOURCES } from './context.js';
export { snapshotOf } from './status.js';
