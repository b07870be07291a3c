export { filesSource, exportFilesSource, FilesOptions } from './source.js';
export { declaredMapper, DeclaredMapping, FILES_NAMESPACE } from './mapping.js';
export { loadMappingModule, runMapper, type MapRecord, type MappedEvent } from './module.js';
