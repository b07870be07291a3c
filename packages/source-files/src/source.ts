import { canonicalJson, parseJsonExact, uuidV5 } from '@hogport/common';
import { defineSource, filesInStore, resolveLocation, type Format, type RecordResult, type DefinedSource } from '@hogport/pipeline';
import { z } from 'zod';
import { declaredMapper, DeclaredMapping, FILES_NAMESPACE } from './mapping.js';
import { loadMappingModule, runMapper, type MapRecord } from './module.js';

export const FilesOptions = z.object({
  /** A directory, a single file, or any store URI prefix. */
  location: z.string().min(1),
  pattern: z.string().min(1).default('**/*'),
  /** auto tells JSON lines, JSON arrays and CSV apart by their bytes (gzip or not). */
  format: z.enum(['auto', 'jsonl', 'json', 'csv', 'parquet']).default('auto'),
  /** Top-level fields holding JSON as text (a Parquet string column of properties, say), parsed before mapping. */
  jsonFields: z.array(z.string().min(1)).default([]),
  csv: z.object({ delimiter: z.string().length(1).optional() }).strict().default({}),
  /** The fields that make an event, declared… */
  mapping: DeclaredMapping.optional(),
  /** …or a JavaScript or TypeScript module whose default export maps a record (relative to the definition). */
  module: z.string().min(1).optional(),
}).strict().refine((o) => Boolean(o.mapping) !== Boolean(o.module), { message: 'give either source.mapping or source.module (one of them)' });

/**
 * Any file in any store, one chunk per file: JSON lines, JSON arrays or CSV (told by their bytes),
 * mapped by a mapping declared in the definition or by the user's own module.
 */
export const filesSource = defineSource({
  type: 'files',
  options: FilesOptions,
  // The module's name is part of the config; its content is the user's to version.
  extractOnly: ['location', 'pattern'],
  version: 2,
  setup(o, ctx) {
    const files = filesInStore(ctx, o.location, o.pattern);
    const modulePath = o.module ? resolveLocation(ctx.baseDir, o.module) : undefined;
    let mapper: Promise<MapRecord> | undefined;
    const declared = o.mapping ? declaredMapper(o.mapping) : undefined;
    const exactTypes = Object.values(o.mapping?.types ?? {}).some((t) => t === 'number' || t === 'json');
    const contentUuid = (e: object) => uuidV5(canonicalJson(e), FILES_NAMESPACE);
    return {
      async plan() {
        // A mapping module that cannot load would fail every chunk in transform: say so before any work.
        if (modulePath) await (mapper ??= loadMappingModule(modulePath));
        return files.plan();
      },
      check: () => files.check(),
      extract: (ectx) => files.extract(ectx),
      async map() {
        if (declared) return declared;
        const map = await (mapper ??= loadMappingModule(modulePath!));
        return (value, position) => runMapper(map, value, { file: position.file, ...(position.line ? { line: position.line } : {}) }, contentUuid);
      },
      read: {
        format: o.format,
        csv: o.csv,
        prepare(r) {
          const fields = parseJsonFields(r.value, o.jsonFields);
          if (fields instanceof Error) return { code: 'invalid_json_field', reason: fields.message };
          const read = fields.value === r.value ? r : fields.exact ? { ...r, value: fields.value, exact: true as const } : { ...r, value: fields.value };
          // A number or JSON field the mapping typed may hold a number a double cannot: counted when it does.
          return exactTypes && !read.exact ? { ...read, exact: true } : read;
        },
      },
    };
  },
});

/**
 * A source of one known export shape in files (any store, one chunk per file): records read by
 * the shared record reader, mapped by the source's own function, made for each chunk (so it may hold
 * what it needs across the chunk's records); the reader rejects a record its mapping throws on.
 * Segment, GA4 and Heap are made with it, each in a package of its own.
 */
export function exportFilesSource(type: string, spec: {
  pattern: string;
  format?: Format | 'auto';
  /** Bumped when the mapping changes its output for the same records. */
  version: number;
  /** Chunks that load after every other (their values are the latest), by chunk id. */
  loadLast?: (chunk: string) => boolean;
  mapper: (chunk: string) => (value: unknown) => RecordResult;
}): DefinedSource {
  const Options = z.object({
    /** Where the export is: a path or any store URI prefix. */
    location: z.string().min(1),
    pattern: z.string().min(1).default(spec.pattern),
  }).strict();
  return defineSource({
    type,
    options: Options,
    extractOnly: ['location', 'pattern'],
    version: spec.version,
    identities: true,
    ...(spec.loadLast ? { loadsLast: spec.loadLast } : {}),
    setup: (o, ctx) => ({ ...filesInStore(ctx, o.location, o.pattern), map: spec.mapper, read: { format: spec.format ?? 'auto' } }),
  });
}

/**
 * The record with its JSON-text fields parsed (numbers a double cannot hold kept exact), or the error
 * naming the field that is not JSON.
 */
function parseJsonFields(value: unknown, fields: readonly string[]): { value: unknown; exact: boolean } | Error {
  if (fields.length === 0 || value === null || typeof value !== 'object') return { value, exact: false };
  const out = { ...(value as Record<string, unknown>) };
  let exact = false;
  for (const f of fields) {
    if (typeof out[f] !== 'string') continue;
    try {
      const parsed = parseJsonExact(out[f] as string);
      out[f] = parsed.value;
      exact ||= parsed.exact;
    } catch (err) {
      return new Error(`field ${f} is not JSON: ${(err as Error).message}`);
    }
  }
  return { value: out, exact };
}
