import { gunzipIfGzipped, HOGPORT_VERSION, splitLines, type Logger } from '@hogport/common';
import { readHead } from '@hogport/event';
import type { Layout } from '@hogport/layout';
import type { Manifest } from '@hogport/manifest';
import type { Outcome, Source, TransformContext, TransformSpec } from '@hogport/pipeline';
import type { Store } from '@hogport/store';
import { rawFileInputs } from './stages/raw.js';
import { decideRecord, recordRules, type RecordDecision } from './stages/record.js';

/** One source record of a chunk beside what transform makes of it. */
export interface ChunkRecord {
  /** 1-based, in the order the source's reader gives the chunk's records. */
  index: number;
  /** What the source made of the record (its `read` is the record as read). */
  outcome: Outcome;
  decision: RecordDecision;
}

export interface ChunkRecordsOptions {
  source: Source;
  spec: TransformSpec;
  store: Store;
  layout: Layout;
  chunk: string;
  /** The chunk's committed extract manifest: its raw files are read, verified as transform reads them. */
  extract: Manifest;
  log: Logger;
  signal?: AbortSignal;
}

/**
 * A chunk's records through the source and the steps transform applies, in memory: nothing is
 * written. Streams like transform; a caller that stops iterating stops the reading.
 */
export async function* chunkRecords(o: ChunkRecordsOptions): AsyncGenerator<ChunkRecord> {
  const tctx: TransformContext = { migration: o.layout.migration, chunk: o.chunk, transform: o.spec, hogportVersion: HOGPORT_VERSION, log: o.log, ...(o.signal ? { signal: o.signal } : {}) };
  const rules = recordRules(o.source, o.spec, tctx);
  const files = rawFileInputs(o.store, o.layout, o.extract.outputs.filter((r) => r.role === 'raw'));
  let index = 0;
  for await (const outcome of o.source.transform(files, tctx)) {
    index += 1;
    yield { index, outcome, decision: decideRecord(outcome, rules) };
  }
}

/** The lines of a gzip JSON lines object a stage wrote (events, rejects), streamed. */
export async function* storedLines(store: Store, key: string): AsyncGenerator<string> {
  const stream = await gunzipIfGzipped(await store.read(key));
  try {
    for await (const { line } of splitLines(stream)) if (line !== '') yield line;
  } finally {
    stream.destroy();
  }
}

/** Which of `wanted` are the uuid of some line of a committed events object: one pass, holding only `wanted`. */
export async function uuidsPresent(store: Store, key: string, wanted: ReadonlySet<string>): Promise<Set<string>> {
  const found = new Set<string>();
  if (wanted.size === 0) return found;
  for await (const line of storedLines(store, key)) {
    const uuid = readHead(line) ?? (JSON.parse(line) as { uuid?: string }).uuid;
    if (uuid !== undefined && wanted.has(uuid)) found.add(uuid);
    if (found.size === wanted.size) break;
  }
  return found;
}
