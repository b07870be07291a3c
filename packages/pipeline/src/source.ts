import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { Logger } from '@hogport/common';
import type { Store } from '@hogport/store';
import type { Link, PersonRecord, PostHogEvent } from '@hogport/event';
import type { TransformSpec } from './definition.js';

// The event contract lives in @hogport/event; sources keep importing the type from here.
export type { Link, PersonRecord, PostHogEvent };

/** One unit of source work, planned deterministically from the definition. */
export interface PlannedChunk {
  id: string;
  /** What the chunk reads at the source (a file with its etag, a time window…), for the extract manifest. */
  inputs: Array<{ key: string; etag?: string; bytes?: number }>;
  /** Load after every other chunk (profiles: their values are the latest). */
  loadLast?: boolean;
}

export interface ExtractContext {
  chunk: PlannedChunk;
  /** Stores one raw file of the chunk, byte for byte; returns its sha256 and size. */
  writeRaw(name: string, body: Readable): Promise<{ sha256: string; bytes: number }>;
  signal: AbortSignal;
  log: Logger;
}

/** Where a record sits in the raw chunk, so a reject can be found again. */
export interface Position { file: string; line?: number; offset?: number; entry?: string }

/**
 * A source record as the reader gave it: its value, and the line it was for JSON lines. Outcomes
 * carry it so `hogport inspect` can show a record beside what it became; transform ignores it.
 */
export interface SourceRecord { value: unknown; raw?: string }

/**
 * What became of one source record: events (with the user links it shows), a person's properties
 * known apart from any event, a reject with a reason, or a drop by a named rule.
 */
export type Outcome =
  | {
    kind: 'events'; events: PostHogEvent[]; position: Position;
    /**
     * Users seen with anonymous ids (devices), or linked by the source's own identify and alias
     * calls: the merge step sends one identity event per pair across the migration, at the first
     * sighting (`at`, else the outcome's first event's time). A record of a source's identity call
     * has links and no events.
     */
    identify?: Link[];
    /** What was changed on the way (`invalid_utf8`, `number_as_text`…): counted in the manifest's `changedBy`. */
    changed?: readonly string[];
    read?: SourceRecord;
  }
  | {
    /** Folded into the person facts only: the merge step's `~persons` sends it (sources with `identities`). */
    kind: 'person'; person: PersonRecord; position: Position; changed?: readonly string[];
    /** Links the record shows besides (a users table row: its identity and the source's own id). */
    identify?: Link[];
    read?: SourceRecord;
  }
  | { kind: 'reject'; code: string; reason: string; position: Position; record: string }
  | { kind: 'drop'; rule: string; position: Position; read?: SourceRecord };

export interface TransformContext {
  migration: string;
  chunk: string;
  transform: TransformSpec;
  hogportVersion: string;
  log: Logger;
  /** Set when the chunk must stop (a stop request, a lost lease): sources hand it to the record reader. */
  signal?: AbortSignal;
}

export interface RawFileInput {
  name: string;
  /** Opens the raw file; the runner verifies its sha256 against the extract manifest as it is read. */
  open(): Promise<Readable>;
}

/**
 * What a source implements. hogport does the rest: claims, manifests, counting, writing events and
 * rejects, staleness and status.
 */
export interface Source {
  readonly type: string;
  /** The chunks the definition asks for, in the order they should be worked on. */
  plan(): Promise<PlannedChunk[]>;
  /** Copies one chunk's source data into the store through `ctx.writeRaw`. */
  extract(ctx: ExtractContext): Promise<void>;
  /** Turns a chunk's raw files into outcomes, one per source record, streaming. */
  transform(files: RawFileInput[], ctx: TransformContext): AsyncIterable<Outcome>;
  /** Everything besides the raw bytes that transform output depends on; hashed into the config hash. */
  transformConfig(): unknown;
  /**
   * True for sources whose users move between anonymous and identified ids (Amplitude, Mixpanel):
   * transform then writes per-chunk identity and person summaries, and load merges them into one
   * `$identify` per pair and a final `$set` per person with the latest values.
   */
  readonly identities?: boolean;
  /**
   * One cheap authenticated request proving the source accepts the credentials the definition names,
   * or a listing proving its location can be read: `hogport check` (and `run`, first) calls it before
   * any long work. Resolves to what it proved; throws a HogportError with exit code 3 when the source
   * refused the credentials, and any other error for everything else (unreachable, missing, malformed).
   */
  check?(signal: AbortSignal): Promise<string>;
  /** The environment variables the source reads secrets from, as alternatives: one group set in full suffices. */
  readonly secrets?: ReadonlyArray<readonly string[]>;
  /** Bytes one chunk may spool to local disk while it is transformed, when the plan does not know its inputs' sizes. */
  readonly spoolBytes?: number;
}

export interface SourceFactoryContext {
  /** The `source` section of the definition, including `type`. */
  options: Record<string, unknown>;
  baseDir: string;
  openStore(uri: string): Store;
  log: Logger;
  /**
   * Where a source keeps what its API quotas count, shared by every process of the migration
   * (the migration's store, under quotas/): `key` names one quota's record, by source and scope.
   */
  quotas?: { store: Store; key(source: string, scope: string): string };
}

export type SourceFactory = (ctx: SourceFactoryContext) => Source;

/**
 * A factory `defineSource` made, with the schema of the options it takes: the README's
 * configuration reference is checked against it, so an option cannot go undocumented.
 */
export interface DefinedSource extends SourceFactory {
  readonly type: string;
  readonly options: z.ZodType;
  /** Options put before the user's (Amplitude's `mode: api`): defaults the schema itself does not hold. */
  readonly defaults?: Readonly<Record<string, unknown>>;
}
