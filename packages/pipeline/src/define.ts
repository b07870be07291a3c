import { mappingFailure, recordText } from '@hogport/event';
import type { z } from 'zod';
import { transformConfigOf } from './config.js';
import { formatIssues, invalidDefinition } from './definition.js';
import { outcomeOf, readRecords, recordOutcomes, type ReadOptions, type RecordRead, type RecordResult } from './records.js';
import type { DefinedSource, ExtractContext, Outcome, PlannedChunk, Position, RawFileInput, Source, SourceFactoryContext, TransformContext } from './source.js';

/** One record to what it becomes; what it throws costs that record alone. */
export type RecordMapper = (value: unknown, position: Position) => RecordResult | Promise<RecordResult>;

/** A record as the reader gave it, with its value. */
export type ReadRecord = Extract<RecordRead, { value: unknown }>;

/** How the shared record reader reads a chunk's raw files for a `map`. */
export interface RecordReading {
  format?: ReadOptions['format'];
  csv?: ReadOptions['csv'];
  /**
   * A step between the reader and the map: the record made ready to map (JSON held as text parsed,
   * `exact` set where it then holds numbers a double cannot), or the reason it cannot be (a reject).
   */
  prepare?: (read: ReadRecord) => ReadRecord | { code: string; reason: string };
}

/** The work a source does itself; hogport does the rest (see `Source`). */
export type SourceSteps = {
  plan(): Promise<PlannedChunk[]>;
  extract(ctx: ExtractContext): Promise<void>;
  /**
   * Optional, and worth having for every source that talks to an API or reads a location: the one
   * cheap step `hogport check` takes for this source before any long work (see `Source.check`). An
   * API source makes one authenticated request its API answers cheaply (and throws a HogportError
   * with exit code 3 when the credentials are refused, anything else when the API cannot be asked);
   * a source reading files lists its location. It resolves to what it proved, for the user to read.
   */
  check?(signal: AbortSignal): Promise<string>;
} & (
  | {
    /**
     * The mapping of one chunk's records, made for each chunk (so it may hold what it needs across
     * them: the messages seen, the table the chunk is), read by the shared record reader.
     */
    map(chunk: string): RecordMapper | Promise<RecordMapper>;
    read?: RecordReading;
  }
  /** A source that reads its raw files itself (zips, pages): `mapRecords` reads a file of records the shared way. */
  | { transform(files: RawFileInput[], ctx: TransformContext): AsyncIterable<Outcome> }
);

export interface SourceDefinition<S extends z.ZodType<object>> {
  /** The `type` of the definition's `source` section, named here once. */
  type: string;
  /**
   * The source's options besides `type`, parsed once; every problem is refused on a line of its own.
   * Options the source does not know are refused too, if the schema is strict (as every source's is).
   */
  options: S;
  /** Options put before the user's, for a default that decides the schema's branch (Amplitude's `mode`). */
  defaults?: Record<string, unknown>;
  /** Options that say where and how to fetch and change nothing in the mapping: out of the config hash. */
  extractOnly?: readonly string[];
  /** Bumped when the mapping changes its output for the same records: every chunk is then stale. */
  version: number;
  /** Users move between anonymous and identified ids: see `Source.identities`. */
  identities?: boolean;
  /**
   * The environment variables the options name for secrets, as alternatives (one group set in full
   * suffices): `hogport check` reports any missing by name, never by value.
   */
  secrets?: (options: z.output<S>) => string[][];
  /** Bytes one chunk may spool to local disk when the plan does not know its size (zips of an API): `hogport check` wants that much free. */
  spoolBytes?: (options: z.output<S>) => number | undefined;
  /** The chunks that load after every other (their values are the latest), told by id. */
  loadsLast?: (chunk: string, options: z.output<S>) => boolean;
  /** The source's plan, extract and map (or transform), given its parsed options. */
  setup(options: z.output<S>, ctx: SourceFactoryContext): SourceSteps;
}

/**
 * One way to define a source: its options parsed and refused the same way as every other, its config
 * hash, its capabilities as declarations, and its records read, guarded and counted by the shared
 * reader. It returns the factory the CLI's registry holds.
 *
 *   export const mySource = defineSource({
 *     type: 'my-source', version: 1, options: MyOptions, extractOnly: ['location'],
 *     setup: (o, ctx) => ({ ...filesInStore(ctx, o.location, '**\/*'), map: () => mapMyRecord }),
 *   });
 */
export function defineSource<S extends z.ZodType<object>>(def: SourceDefinition<S>): DefinedSource {
  const factory = (ctx: SourceFactoryContext) => {
    // The registry chose this source by its type: the schema holds the source's own options only.
    const { type, ...given } = ctx.options;
    if (type !== undefined && type !== def.type) throw invalidDefinition('the pipeline definition', [`source.type: is "${String(type)}", but this source is "${def.type}"`]);
    const parsed = def.options.safeParse(def.defaults ? { ...def.defaults, ...given } : given);
    if (!parsed.success) throw invalidDefinition('the pipeline definition', formatIssues(parsed.error.issues, 'source'));
    const options = parsed.data as z.output<S>;
    const steps = def.setup(options, ctx);
    const loadsLast = def.loadsLast;
    const source: Source = {
      type: def.type,
      plan: loadsLast
        ? async () => (await steps.plan()).map((c) => (loadsLast(c.id, options) ? { ...c, loadLast: true } : c))
        : () => steps.plan(),
      extract: (ectx) => steps.extract(ectx),
      transform: 'transform' in steps
        ? (files, tctx) => steps.transform(files, tctx)
        : (files, tctx) => readWith(files, tctx, () => steps.map(tctx.chunk), steps.read),
      transformConfig: () => transformConfigOf(def.type, def.version, options, def.extractOnly ?? []),
    };
    const check = steps.check;
    if (check) source.check = (signal) => check(signal);
    const secrets = def.secrets?.(options);
    const spoolBytes = def.spoolBytes?.(options);
    return {
      ...source,
      ...(def.identities ? { identities: true } : {}),
      ...(secrets?.length ? { secrets } : {}),
      ...(spoolBytes ? { spoolBytes } : {}),
    };
  };
  return Object.assign(factory, { type: def.type, options: def.options, ...(def.defaults ? { defaults: def.defaults } : {}) });
}

/**
 * The outcomes of a chunk's raw files of records, read by the shared reader and mapped by `map`: a
 * throw from the map, sync or async, rejects that record alone.
 */
export function mapRecords(files: RawFileInput[], ctx: Pick<TransformContext, 'signal'>, map: RecordMapper, reading: RecordReading = {}): AsyncGenerator<Outcome> {
  return readWith(files, ctx, () => map, reading);
}

// The one generator between the reader and the runner: each one more costs every record a promise.
async function* readWith(files: RawFileInput[], ctx: Pick<TransformContext, 'signal'>, makeMap: () => RecordMapper | Promise<RecordMapper>, reading: RecordReading = {}): AsyncGenerator<Outcome> {
  const map = await makeMap();
  const { prepare } = reading;
  for (const file of files) {
    const options: ReadOptions = { file: file.name, format: reading.format ?? 'auto', ...(reading.csv ? { csv: reading.csv } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) };
    if (!prepare) { yield* recordOutcomes(await file.open(), options, map); continue; }
    for await (const r of readRecords(await file.open(), options)) {
      if (!('value' in r)) { yield { kind: 'reject', code: r.code, reason: r.reason, position: r.position, record: r.raw }; continue; }
      const ready = prepare(r);
      if (!('value' in ready)) { yield { kind: 'reject', code: ready.code, reason: ready.reason, position: r.position, record: recordText(r.value) }; continue; }
      const out = mapOutcome(map, ready);
      yield out instanceof Promise ? await out : out;
    }
  }
}

/**
 * The outcome of one record a source read itself (a row of a page, a profile): what its map makes
 * of it, or, for whatever the map throws, a reject of that record alone.
 */
export function mapOutcome(map: (value: unknown, position: Position) => RecordResult, read: ReadRecord): Outcome;
export function mapOutcome(map: RecordMapper, read: ReadRecord): Outcome | Promise<Outcome>;
export function mapOutcome(map: RecordMapper, read: ReadRecord): Outcome | Promise<Outcome> {
  let mapped: RecordResult | Promise<RecordResult>;
  try {
    mapped = map(read.value, read.position);
  } catch (err) {
    mapped = mappingFailure(err);
  }
  return mapped instanceof Promise ? mapped.catch(mappingFailure).then((m) => outcomeOf(m, read)) : outcomeOf(mapped, read);
}
