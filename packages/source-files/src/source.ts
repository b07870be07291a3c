import * as path from 'node:path';
import { canonicalJson } from '@hogport/common';
import { filesInStore, formatIssues, invalidDefinition, resolveLocation, type Outcome, type RecordResult, type SourceFactory } from '@hogport/pipeline';
import { v5 as uuidv5 } from 'uuid';
import { z } from 'zod';
import { readRecords, type RecordRead } from './formats.js';
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

export const SegmentOptions = z.object({
  type: z.literal('segment'),
  /** Where Segment's logs are: the bucket prefix holding segment-logs/{source}/{day}/ (or a copy). */
  location: z.string().min(1),
  pattern: z.string().min(1).default('**/*.gz'),
}).strict();

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
  const contentUuid = (e: object) => uuidv5(canonicalJson(e), FILES_NAMESPACE);
  return {
    type: 'files',
    plan: () => files.plan(),
    extract: (ectx) => files.extract(ectx),
    async *transform(raw) {
      const map = declared ? undefined : await (mapper ??= loadMappingModule(modulePath!));
      for (const file of raw) {
        for await (const r of readRecords(await file.open(), file.name, o.format, o.csv)) {
          if ('error' in r) { yield { kind: 'reject', code: 'unreadable_record', reason: r.error, position: r.position, record: r.raw }; continue; }
          const value = parseJsonFields(r.value, o.jsonFields);
          if (value instanceof Error) { yield { kind: 'reject', code: 'invalid_json_field', reason: value.message, position: r.position, record: JSON.stringify(r.value).slice(0, 65_536) }; continue; }
          const result = declared ? declared(value) : await runMapper(map!, value, { file: file.name, ...(r.position.line ? { line: r.position.line } : {}) }, contentUuid);
          yield outcome(result, r);
        }
      }
    },
    // The module's file name is part of the config; its content is the user's to version.
    transformConfig: () => ({ source: 'files', version: 1, format: o.format, csv: o.csv, jsonFields: o.jsonFields, mapping: o.mapping ?? null, module: modulePath ? path.basename(modulePath) : null }),
  };
};

export const Ga4Options = z.object({
  type: z.literal('ga4'),
  /** Where the NDJSON extracts of events_YYYYMMDD are: a path or any store URI. */
  location: z.string().min(1),
  pattern: z.string().min(1).default('**/*'),
}).strict();

/** GA4's BigQuery export as NDJSON extracts (one chunk per file), rows mapped by `mapGa4Row`. */
export const ga4Source: SourceFactory = (ctx) => {
  const parsed = Ga4Options.safeParse(ctx.options);
  if (!parsed.success) throw invalidDefinition('the pipeline definition', formatIssues(parsed.error.issues, 'source'));
  const files = filesInStore(ctx, parsed.data.location, parsed.data.pattern);
  return {
    type: 'ga4',
    identities: true,
    plan: () => files.plan(),
    extract: (ectx) => files.extract(ectx),
    async *transform(raw) {
      for (const file of raw) {
        for await (const r of readRecords(await file.open(), file.name)) {
          if ('error' in r) { yield { kind: 'reject', code: 'unreadable_record', reason: r.error, position: r.position, record: r.raw }; continue; }
          yield outcome(mapGa4Row(r.value), r);
        }
      }
    },
    transformConfig: () => ({ source: 'ga4', version: 1 }),
  };
};

export const HeapOptions = z.object({
  type: z.literal('heap'),
  /** Where the Heap export is (events, users and user_migrations tables as JSON or CSV files). */
  location: z.string().min(1),
  pattern: z.string().min(1).default('**/*'),
}).strict();

/** Heap's exports: event tables, users (as `$set`) and user migrations (as links), one chunk per file. */
export const heapSource: SourceFactory = (ctx) => {
  const parsed = HeapOptions.safeParse(ctx.options);
  if (!parsed.success) throw invalidDefinition('the pipeline definition', formatIssues(parsed.error.issues, 'source'));
  const files = filesInStore(ctx, parsed.data.location, parsed.data.pattern);
  return {
    type: 'heap',
    identities: true,
    async plan() {
      // Users carry the latest properties: their files load after the events.
      return (await files.plan()).map((c) => (heapTable(c.inputs[0]!.key) === 'users' ? { ...c, loadLast: true } : c));
    },
    extract: (ectx) => files.extract(ectx),
    async *transform(raw, tctx) {
      for (const file of raw) {
        const table = heapTable(`${tctx.chunk}/${file.name}`);
        for await (const r of readRecords(await file.open(), file.name)) {
          if ('error' in r) { yield { kind: 'reject', code: 'unreadable_record', reason: r.error, position: r.position, record: r.raw }; continue; }
          yield outcome(mapHeapRow(r.value, table), r);
        }
      }
    },
    transformConfig: () => ({ source: 'heap', version: 1 }),
  };
};

/** Segment's S3/GCS logs (gzip JSON lines, sometimes already decompressed), one chunk per file. */
export const segmentSource: SourceFactory = (ctx) => {
  const parsed = SegmentOptions.safeParse(ctx.options);
  if (!parsed.success) throw invalidDefinition('the pipeline definition', formatIssues(parsed.error.issues, 'source'));
  const files = filesInStore(ctx, parsed.data.location, parsed.data.pattern);
  return {
    type: 'segment',
    identities: true,
    plan: () => files.plan(),
    extract: (ectx) => files.extract(ectx),
    async *transform(raw) {
      for (const file of raw) {
        for await (const r of readRecords(await file.open(), file.name, 'jsonl')) {
          if ('error' in r) { yield { kind: 'reject', code: 'unreadable_record', reason: r.error, position: r.position, record: r.raw }; continue; }
          yield outcome(mapSegmentMessage(r.value), r);
        }
      }
    },
    transformConfig: () => ({ source: 'segment', version: 1 }),
  };
};

/** The record with its JSON-text fields parsed, or the error naming the field that is not JSON. */
function parseJsonFields(value: unknown, fields: readonly string[]): unknown {
  if (fields.length === 0 || value === null || typeof value !== 'object') return value;
  const out = { ...(value as Record<string, unknown>) };
  for (const f of fields) {
    if (typeof out[f] !== 'string') continue;
    try { out[f] = JSON.parse(out[f] as string); } catch (err) { return new Error(`field ${f} is not JSON: ${(err as Error).message}`); }
  }
  return out;
}

function outcome(result: RecordResult, r: Extract<RecordRead, { value: unknown }>): Outcome {
  if ('events' in result) return { kind: 'events', events: result.events, position: r.position, ...(result.identify ? { identify: result.identify } : {}) };
  if ('drop' in result) return { kind: 'drop', rule: result.drop, position: r.position };
  return { kind: 'reject', code: result.code, reason: result.reason, position: r.position, record: JSON.stringify(r.value).slice(0, 65_536) };
}
