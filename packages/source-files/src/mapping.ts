import { canonicalJson, epochToIso, ExactNumber, isUuid, normalizeTimestamp, ownValue, parseJsonExact, setOwn, wallToUtc, isTimeZone, uuidV5, URL_NAMESPACE } from '@hogport/common';
import { RejectCode } from '@hogport/event';
import { hasValue, idOf, omitter, type PostHogEvent, type RecordResult } from '@hogport/pipeline';
import { z } from 'zod';

/** Namespace of uuids derived for records of user-mapped files. */
export const FILES_NAMESPACE = uuidV5('hogport.files', URL_NAMESPACE);

const path = z.string().min(1);
/** A field of the record by dot path, or a constant. */
const Field = z.union([path, z.object({ value: z.string().min(1) }).strict()]);

/**
 * Which fields of a record make the event, declared in the pipeline definition. Paths use dots
 * (`user.id`); a list tries each path in turn.
 */
export const DeclaredMapping = z.object({
  event: Field,
  distinctId: z.union([path, z.array(path).min(1)]),
  timestamp: z.object({
    field: path,
    /** iso (with or without zone), or epoch seconds, milliseconds, microseconds. */
    format: z.enum(['iso', 'unix', 'unix_ms', 'unix_us']).default('iso'),
    /** For iso times without a zone: the zone they are in (an IANA name; UTC by default). */
    zone: z.string().refine(isTimeZone, 'must be an IANA time zone, like Europe/Berlin').default('UTC'),
  }).strict(),
  /** The record's own id, for a uuid that re-runs repeat (a uuid is kept, anything else hashed). */
  uuid: path.optional(),
  /**
   * The type of top-level fields (a CSV's columns, which are all text otherwise), applied before
   * anything else is read from the record: `number`, `boolean`, `json` or `string`.
   */
  // Optional rather than defaulted: a definition without types keeps the transform config it had.
  types: z.record(z.string().min(1), z.enum(['number', 'boolean', 'json', 'string'])).optional(),
  properties: z.object({
    /** Top-level fields to take ("*": all but the mapped ones). */
    include: z.array(z.string().min(1)).default(['*']),
    exclude: z.array(z.string().min(1)).default([]),
    rename: z.record(z.string().min(1), z.string().min(1)).default({}),
    constant: z.record(z.string().min(1), z.unknown()).default({}),
  }).strict().default({ include: ['*'], exclude: [], rename: {}, constant: {} }),
}).strict();
export type DeclaredMapping = z.infer<typeof DeclaredMapping>;

/** A reader of one dot path, split once rather than on every record. */
export function getter(p: string): (record: unknown) => unknown {
  const parts = p.split('.');
  return (record) => {
    let v: unknown = record;
    for (const part of parts) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string, unknown>)[part];
    }
    return v;
  };
}

export type FieldType = NonNullable<DeclaredMapping['types']>[string];

/** JSON's number grammar: what `number` accepts from text (no `1,5`, no `0x1F`, no `NaN`). */
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const BOOLEANS = new Map([['true', true], ['false', false], ['1', true], ['0', false], ['yes', true], ['no', false]]);
const NOT_THE_TYPE = Symbol('not the type');

/**
 * A field's value as its declared type, `undefined` for no value (an empty CSV cell), or NOT_THE_TYPE.
 * Numbers keep every digit: one a double cannot hold is an `ExactNumber` with the text written.
 */
function asType(v: unknown, type: FieldType): unknown {
  if (v === null || v === undefined) return v;
  if (typeof v === 'string' && v.trim() === '' && type !== 'string') return undefined;
  switch (type) {
    case 'number': {
      if ((typeof v === 'number' && Number.isFinite(v)) || v instanceof ExactNumber) return v;
      const text = typeof v === 'string' ? v.trim() : undefined;
      return text !== undefined && NUMBER.test(text) ? parseJsonExact(text).value : NOT_THE_TYPE;
    }
    case 'boolean': {
      if (typeof v === 'boolean') return v;
      const b = typeof v === 'string' || typeof v === 'number' ? BOOLEANS.get(String(v).trim().toLowerCase()) : undefined;
      return b ?? NOT_THE_TYPE;
    }
    case 'json': {
      if (typeof v !== 'string') return v;
      try {
        return parseJsonExact(v).value;
      } catch {
        return NOT_THE_TYPE;
      }
    }
    case 'string':
      return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
}

/**
 * The record with its declared fields as their types, or the reject naming the first field that does
 * not parse: a revenue of `12,50` is not a number, and sending it as text would leave the user's
 * sums and charts silently short of it, so it is a reject the user can find, fix and send again.
 */
function typedRecord(record: Record<string, unknown>, types: ReadonlyArray<readonly [string, FieldType]>): { record: Record<string, unknown> } | { reject: RecordResult } {
  const out = { ...record };
  for (const [field, type] of types) {
    if (!Object.hasOwn(out, field)) continue;
    const v = asType(out[field], type);
    if (v === NOT_THE_TYPE) {
      return { reject: { code: 'bad_field_type', reason: `field ${field} is declared ${type}, but holds ${JSON.stringify(out[field])?.slice(0, 60)}` } };
    }
    if (v === undefined) delete out[field];
    else setOwn(out, field, v);
  }
  return { record: out };
}

/** The mapping function a declared mapping describes. */
export function declaredMapper(m: DeclaredMapping): (record: unknown) => RecordResult {
  const idPaths = Array.isArray(m.distinctId) ? m.distinctId : [m.distinctId];
  const mapped = new Set([typeof m.event === 'string' ? m.event : '', ...idPaths, m.timestamp.field, m.uuid ?? ''].map((p) => p.split('.')[0]!));
  const include = new Set(m.properties.include);
  const exclude = new Set(m.properties.exclude);
  const eventOf = typeof m.event === 'string' ? getter(m.event) : undefined;
  const idsOf = idPaths.map(getter);
  const timeOfRecord = getter(m.timestamp.field);
  const ownIdOf = m.uuid ? getter(m.uuid) : undefined;
  const renames = Object.keys(m.properties.rename).length > 0;
  // The usual declaration (every field but the mapped ones, nothing renamed) takes the fast path.
  const rest = include.has('*') && !renames ? omitter([...new Set([...mapped, ...exclude])].filter(Boolean)) : undefined;
  const types = Object.entries(m.types ?? {});
  return (input) => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return { code: RejectCode.notAnObject, reason: 'the record is not an object' };
    let record = input as Record<string, unknown>;
    if (types.length > 0) {
      const typed = typedRecord(record, types);
      if ('reject' in typed) return typed.reject;
      record = typed.record;
    }
    const name = eventOf ? eventOf(record) : (m.event as { value: string }).value;
    if (typeof name !== 'string' || name === '') return { code: RejectCode.missingEvent, reason: `no event name at ${typeof m.event === 'string' ? m.event : '(constant)'}` };
    let distinctId: string | undefined;
    for (const read of idsOf) if ((distinctId = idOf(read(record))) !== undefined) break;
    if (!distinctId) return { code: RejectCode.missingDistinctId, reason: `none of ${idPaths.join(', ')} holds a distinct id` };
    const timestamp = timeOf(timeOfRecord(record), m.timestamp.format, m.timestamp.zone);
    if (!timestamp) return { code: RejectCode.badTimestamp, reason: `${m.timestamp.field} ${JSON.stringify(timeOfRecord(record))?.slice(0, 40)} is not a ${m.timestamp.format} time` };
    let properties: Record<string, unknown>;
    if (rest) {
      properties = rest(record);
    } else {
      properties = {};
      for (const [k, v] of Object.entries(record)) {
        if (exclude.has(k) || (include.has('*') ? mapped.has(k) : !include.has(k))) continue;
        setOwn(properties, (ownValue(m.properties.rename, k) as string | undefined) ?? k, v);
      }
    }
    Object.assign(properties, m.properties.constant);
    const own = ownIdOf?.(record);
    const uuid = typeof own === 'string' && isUuid(own) ? own.toLowerCase()
      : hasValue(own) ? uuidV5(`id:${String(own)}`, FILES_NAMESPACE)
        : uuidV5(canonicalJson({ event: name, distinct_id: distinctId, timestamp, properties }), FILES_NAMESPACE);
    const event: PostHogEvent = { uuid, event: name, distinct_id: distinctId, timestamp, properties };
    return { events: [event] };
  };
}

function timeOf(v: unknown, format: DeclaredMapping['timestamp']['format'], zone: string): string | undefined {
  if (format === 'iso') {
    if (typeof v !== 'string') return undefined;
    const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(v.trim());
    if (hasZone || zone === 'UTC') return normalizeTimestamp(v);
    const local = normalizeTimestamp(v);
    if (!local) return undefined;
    // Whole seconds through the zone; the fraction as written.
    const utc = epochToIso(wallToUtc(Date.parse(local), zone), 'ms', 'ms');
    return utc === undefined ? undefined : normalizeTimestamp(utc.replace(/\.\d+Z$/, local.slice(19)));
  }
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return undefined;
  return epochToIso(n, format === 'unix' ? 's' : format === 'unix_ms' ? 'ms' : 'us', 'ms');
}
