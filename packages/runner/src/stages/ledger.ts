import { createHash } from 'node:crypto';
import { gunzipIfGzipped, splitLines } from '@hogport/common';
import { readHeadFields, type EventHead } from '@hogport/event';
import type { Store } from '@hogport/store';
import { LineSorter } from './sorter.js';

/**
 * A load's ledger: what a loaded chunk handed to PostHog, one line per event, sorted, written
 * beside the load manifest (an output of role `ledger`):
 *
 *   <uuid> TAB <content hash> TAB <dedup key hash>
 *
 * The content hash is over the event line as transform wrote it, less `$lib_version` (the hogport
 * version that wrote it, which says nothing about the event); the dedup key hash is over what
 * PostHog deduplicates on besides the uuid (event name, distinct_id and the timestamp's UTC day).
 * A re-extracted chunk is compared with its ledger by uuid, whatever order its events come in.
 */
export interface Entry {
  uuid: string;
  content: string;
  key: string;
}

/** An entry of the chunk being loaded, with its 0-based position among the chunk's event lines. */
export interface PositionedEntry extends Entry {
  position: number;
  /** Outside the sample being loaded: not sent, so not in the ledger. */
  outside?: boolean;
}

const UUID_TEXT = /^[0-9A-Za-z-]{1,64}$/;
const LIB_VERSION = /,?"\$lib_version":"(?:[^"\\]|\\.)*"/;

/** The identity of an event line, or undefined for a line with no uuid (load refuses it with the reason). */
export function entryOf(line: string): Entry | undefined {
  const head = headOf(line);
  // Only a uuid can be a sort key (no tab or newline in it); load refuses any other anyway.
  if (!head || !UUID_TEXT.test(head.uuid)) return undefined;
  return {
    uuid: head.uuid,
    content: createHash('sha256').update(line.replace(LIB_VERSION, '')).digest('hex').slice(0, 16),
    key: dedupKeyHash(head),
  };
}

/** The head of any event line: read without parsing when it is in transform's layout. */
export function headOf(line: string): EventHead | undefined {
  const fast = readHeadFields(line);
  if (fast) return fast;
  try {
    const e = JSON.parse(line) as Record<string, unknown>;
    if (typeof e.uuid !== 'string' || e.uuid === '') return undefined;
    const props = (e.properties ?? {}) as Record<string, unknown>;
    return { uuid: e.uuid, event: String(e.event ?? ''), distinctId: String(e.distinct_id ?? props.distinct_id ?? ''), timestamp: String(e.timestamp ?? '') };
  } catch {
    return undefined;
  }
}

/** A timestamp in UTC as transform writes it: its day is its first ten characters. */
const UTC_ISO = /^\d{4}-\d{2}-\d{2}T[^+]*Z$/;

function dedupKeyHash(head: EventHead): string {
  const t = UTC_ISO.test(head.timestamp) ? undefined : Date.parse(head.timestamp);
  const day = t === undefined ? head.timestamp.slice(0, 10) : Number.isNaN(t) ? head.timestamp : new Date(t).toISOString().slice(0, 10);
  return createHash('sha256').update(`${head.event}\n${head.distinctId}\n${day}`).digest('hex').slice(0, 8);
}

export function ledgerLine(e: Entry): string {
  return `${e.uuid}\t${e.content}\t${e.key}`;
}

/** Sort lines of entries with their position: sorted, they come by uuid, then content. */
export function sortLine(e: Entry, position: number, outside = false): string {
  return `${ledgerLine(e)}\t${String(position).padStart(12, '0')}${outside ? '\tS' : ''}`;
}

function parseLine(line: string): PositionedEntry {
  const [uuid = '', content = '', key = '', position, flag] = line.split('\t');
  return { uuid, content, key, position: position === undefined ? -1 : Number(position), ...(flag === 'S' ? { outside: true } : {}) };
}

/** A ledger object's entries, in its (sorted) order. */
export async function* readLedger(store: Store, key: string): AsyncGenerator<Entry> {
  const stream = await gunzipIfGzipped(await store.read(key));
  for await (const { line } of splitLines(stream)) if (line !== '') yield parseLine(line);
}

/** Entries read back from sort lines. */
export async function* entriesOf(sorter: LineSorter): AsyncGenerator<PositionedEntry> {
  for await (const line of sorter.sorted()) yield parseLine(line);
}

/** What became of one event of the chunk being loaded, against what the chunk loaded before. */
export type Verdict =
  /** Its uuid was loaded before with the same content: not sent again. */
  | 'loaded'
  /** A uuid not loaded before: sent. */
  | 'new'
  /** Its uuid was loaded before with other content: sent again only when asked to. */
  | 'changed';

export interface Group {
  uuid: string;
  /** What the ledger holds under the uuid: one entry, or more when changed events were re-sent. */
  before: Entry[];
  /** The chunk's events under the uuid, each with its verdict; `keyChanged` when no entry before shares its dedup key. */
  now: Array<PositionedEntry & { verdict: Verdict; keyChanged: boolean }>;
}

/**
 * Walks a ledger and the chunk's entries, both sorted by uuid, one uuid at a time: streaming, so
 * memory stays bounded by the events under one uuid however large the chunk.
 */
export async function* compareByUuid(before: AsyncIterable<Entry>, now: AsyncIterable<PositionedEntry>): AsyncGenerator<Group> {
  const a = before[Symbol.asyncIterator]();
  const b = now[Symbol.asyncIterator]();
  let x = await a.next();
  let y = await b.next();
  while (!x.done || !y.done) {
    const uuid = x.done ? y.value!.uuid : y.done ? x.value.uuid : x.value.uuid < y.value.uuid ? x.value.uuid : y.value.uuid;
    const group: Group = { uuid, before: [], now: [] };
    while (!x.done && x.value.uuid === uuid) {
      group.before.push(x.value);
      x = await a.next();
    }
    while (!y.done && y.value.uuid === uuid) {
      const e = y.value;
      const verdict: Verdict = group.before.length === 0 ? 'new' : group.before.some((o) => o.content === e.content) ? 'loaded' : 'changed';
      group.now.push({ ...e, verdict, keyChanged: verdict === 'changed' && !group.before.some((o) => o.key === e.key) });
      y = await b.next();
    }
    yield group;
  }
}
