import * as path from 'node:path';
import { canonicalJson, parseJsonExact, uuidV5 } from '@hogport/common';
import { filesInStore, formatIssues, invalidDefinition, outcomeOf, readRecords, recordOutcomes, resolveLocation, type Format, type RecordResult, type SourceFactory } from '@hogport/pipeline';
import { z } from 'zod';
import { declaredMapper, DeclaredMapping, FILES_NAMESPACE } from './mapping.js';
import { loadMappingModule, runMapper, type MapRecord } from './module.js';
import { mapGa4Row } from './ga4.js';
import { heapTable, mapHeapRow } from './heap.js';
import { mapSegmentMessage } from './segment.js';

export const FilesOptions = z.object({
  type: z.literal('files'),
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
export const filesSource: SourceFactory = (ctx) => {
  const parsed = FilesOptions.safeParse(ctx.options);
  if (!parsed.success) throw invalidDefinition('the pipeline definition', formatIssues(parsed.error.issues, 'source'));
  const o = parsed.data;
  const files = filesInStore(ctx, o.location, o.pattern);
  const modulePath = o.module ? resolveLocation(ctx.baseDir, o.module) : undefined;
  let mapper: Promise<MapRecord> | undefined;
  const declared = o.mapping ? declaredMapper(o.mapping) : undefined;
  const contentUuid = (e: object) => uuidV5(canonicalJson(e), FILES_NAMESPACE);
  return {
    type: 'files',
    plan: () => files.plan(),
    extract: (ectx) => files.extract(ectx),
    async *transform(raw, tctx) {
      const map = declared ? undefined : await (mapper ??= loadMappingModule(modulePath!));
      for (const file of raw) {
        for await (const r of readRecords(await file.open(), { file: file.name, format: o.format, csv: o.csv, ...(tctx.signal ? { signal: tctx.signal } : {}) })) {
          if (!('value' in r)) { yield { kind: 'reject', code: r.code, reason: r.reason, position: r.position, record: r.raw }; continue; }
          const fields = parseJsonFields(r.value, o.jsonFields);
          if (fields instanceof Error) { yield { kind: 'reject', code: 'invalid_json_field', reason: fields.message, position: r.position, record: JSON.stringify(r.value).slice(0, 65_536) }; continue; }
          const read = fields.value === r.value ? r : fields.exact ? { ...r, value: fields.value, exact: true as const } : { ...r, value: fields.value };
          const result = declared ? declared(read.value) : await runMapper(map!, read.value, { file: file.name, ...(r.position.line ? { line: r.position.line } : {}) }, contentUuid);
          yield outcomeOf(result, read);
        }
      }
    },
    // The module's file name is part of the config; its content is the user's to version.
    transformConfig: () => ({ source: 'files', version: 1, format: o.format, csv: o.csv, jsonFields: o.jsonFields, mapping: o.mapping ?? null, module: modulePath ? path.basename(modulePath) : null }),
  };
};

/**
 * A source of one known export shape in files (any store, one chunk per file): records read by
 * the shared reader, mapped by the source's own function.
 */
function exportFilesSource(type: string, spec: {
  pattern: string;
  format?: Format | 'auto';
  /** Chunks that load after every other (their values are the latest), by input key. */
  loadLast?: (key: string) => boolean;
  map: (value: unknown, where: { chunk: string; file: string }) => RecordResult;
}): SourceFactory {
  const Options = z.object({
    type: z.literal(type),
    /** Where the export is: a path or any store URI prefix. */
    location: z.string().min(1),
    pattern: z.string().min(1).default(spec.pattern),
  }).strict();
  return (ctx) => {
    const parsed = Options.safeParse(ctx.options);
    if (!parsed.success) throw invalidDefinition('the pipeline definition', formatIssues(parsed.error.issues, 'source'));
    const files = filesInStore(ctx, parsed.data.location, parsed.data.pattern);
    return {
      type,
      identities: true,
      async plan() {
        const planned = await files.plan();
        return spec.loadLast ? planned.map((c) => (spec.loadLast!(c.inputs[0]!.key) ? { ...c, loadLast: true } : c)) : planned;
      },
      extract: (ectx) => files.extract(ectx),
      async *transform(raw, tctx) {
        for (const file of raw) {
          yield* recordOutcomes(await file.open(), { file: file.name, format: spec.format ?? 'auto', ...(tctx.signal ? { signal: tctx.signal } : {}) }, (value) => spec.map(value, { chunk: tctx.chunk, file: file.name }));
        }
      },
      transformConfig: () => ({ source: type, version: 1 }),
    };
  };
}

/** Segment's S3/GCS logs (gzip JSON lines, sometimes already decompressed). */
export const segmentSource = exportFilesSource('segment', { pattern: '**/*.gz', format: 'jsonl', map: (v) => mapSegmentMessage(v) });

/** GA4's BigQuery export as NDJSON or Parquet extracts of events_YYYYMMDD. */
export const ga4Source = exportFilesSource('ga4', { pattern: '**/*', map: (v) => mapGa4Row(v) });

/** Heap's exports: event tables, users (as `$set`, loaded after the events) and user migrations (as links). */
export const heapSource = exportFilesSource('heap', {
  pattern: '**/*',
  loadLast: (key) => heapTable(key) === 'users',
  map: (v, where) => mapHeapRow(v, heapTable(`${where.chunk}/${where.file}`)),
});

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
