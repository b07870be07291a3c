import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ExactNumber, gunzipIfGzipped, HogportError, MAX_LINE_BYTES, parseJsonExact, peekBytes, splitLineBatches, stopReason, TooDeepError, type SplitLine } from '@hogport/common';
import { mappingFailure, recordText, RejectCode } from '@hogport/event';
import type { Link, Outcome, PersonRecord, Position, PostHogEvent } from './source.js';

/** What a source's mapping makes of one parsed record. */
export type RecordResult =
  | {
    events: PostHogEvent[]; identify?: Link[];
    /** What the mapping repaired in the record to keep it (counted in the manifest's `changedBy`). */
    changed?: readonly string[];
  }
  | { person: PersonRecord; identify?: Link[] }
  | { drop: string }
  | { code: string; reason: string };

export type Format = 'jsonl' | 'json' | 'csv' | 'parquet';

/**
 * Reject codes of the reader, the same whatever the source: a line that is not JSON, a line longer
 * than the maximum (skipped unread), a CSV row that cannot be split into fields.
 */
export const READ_REJECTS = { invalidJson: 'invalid_json', lineTooLong: 'line_too_long', invalidCsvRow: 'invalid_csv_row' } as const;

/** What the reader marks on a record it kept but had to change (counted per chunk as `changedBy`). */
export const READ_CHANGES = { invalidUtf8: 'invalid_utf8', numberAsText: 'number_as_text', csvExtraFields: 'csv_extra_fields' } as const;

export interface ReadOptions {
  file: string;
  /** The zip entry the stream is, if it is one. */
  entry?: string;
  /** `auto` tells the format by the bytes; a function chooses from the first (decompressed) bytes. */
  format?: Format | 'auto' | ((head: Buffer) => Format);
  csv?: { delimiter?: string };
  /** Longest line (or CSV record) kept; longer ones become `line_too_long` rejects. */
  maxLineBytes?: number;
  /** Checked on every piece read: a stop interrupts even a line without end. */
  signal?: AbortSignal;
  /** Told the size of every decompressed piece before it is read; it may throw to stop the read. */
  meter?: (bytes: number) => void;
}

/** One record of a file with where it sits, or a piece of the file that is not a record and why. */
export type RecordRead =
  | {
    value: unknown; position: Position;
    /** The line the record was, for JSON lines: what a reject of the record shows. */
    raw?: string;
    /** `invalid_utf8` when bytes were replaced by U+FFFD, `csv_extra_fields` for a CSV row longer than its header. */
    changed?: string[];
    /** True when some number in it is an `ExactNumber`. */
    exact?: true;
  }
  | { code: string; reason: string; position: Position; raw: string };

/**
 * Reads the records of one raw file or zip entry whatever it is, told by its bytes: gzip or not,
 * then JSON lines (`{`), a JSON array (`[`, streamed element by element, never parsed whole), CSV
 * with a header row, or Parquet (`PAR1`). Lines are bounded, a byte order mark is not a record's,
 * invalid UTF-8 and numbers a double cannot hold are kept and marked. Any failure of the bytes
 * underneath (a cut gzip, a damaged zip entry) comes out as a thrown `HogportError`.
 */
export function readRecords(input: Readable, options: ReadOptions): AsyncGenerator<RecordRead> {
  return read(input, options, undefined);
}

/**
 * The outcomes of a file's records mapped by `map`: events, drops and rejects, each with its position
 * and what the reader changed. A mapping's reject shows the record as it was read.
 */
export function recordOutcomes(input: Readable, options: ReadOptions, map: (value: unknown, position: Position) => RecordResult | Promise<RecordResult>): AsyncGenerator<Outcome> {
  return read(input, options, map);
}

type Mapper = (value: unknown, position: Position) => RecordResult | Promise<RecordResult>;

function read(input: Readable, options: ReadOptions, map: undefined): AsyncGenerator<RecordRead>;
function read(input: Readable, options: ReadOptions, map: Mapper): AsyncGenerator<Outcome>;
/**
 * Both of the above in one generator: JSON lines, nearly every record read, are mapped in the
 * loop that splits them, since each generator between the bytes and the caller costs every record
 * a promise.
 */
async function* read(input: Readable, options: ReadOptions, map: Mapper | undefined): AsyncGenerator<RecordRead | Outcome> {
  const streams: Readable[] = [input];
  // Every stream gets a listener from the start: an error while nothing reads must not go unhandled.
  let failed: unknown;
  const remember = (err: unknown) => { failed ??= err; };
  input.on('error', remember);
  try {
    const plain = await gunzipIfGzipped(input);
    if (plain !== input) { streams.push(plain); plain.on('error', remember); }
    const head = await peekBytes(plain, 512);
    const format = options.format ?? 'auto';
    const kind = typeof format === 'function' ? format(head) : format !== 'auto' ? format : head.subarray(0, 4).toString('latin1') === 'PAR1' ? 'parquet' : sniff(head);
    const pieces = metered(plain, options);
    if (kind === 'jsonl') {
      for await (const batch of splitLineBatches(pieces, lineOptions(options))) {
        for (const l of batch) {
          const r = lineRecord(l, options);
          if (r === undefined) continue;
          if (map === undefined) { yield r; continue; }
          if (!('value' in r)) { yield rejectOutcome(r); continue; }
          const mapped = mapOne(map, r);
          yield outcomeOf(mapped instanceof Promise ? await mapped : mapped, r);
        }
      }
    } else {
      const records = kind === 'parquet' ? parquetRows(Readable.from(pieces, { objectMode: false }), options.file)
        : kind === 'json' ? jsonArray(pieces, options)
          : csvRows(pieces, options);
      for await (const r of records) {
        if (map === undefined) { yield r; continue; }
        if (!('value' in r)) { yield rejectOutcome(r); continue; }
        const mapped = mapOne(map, r);
        yield outcomeOf(mapped instanceof Promise ? await mapped : mapped, r);
      }
    }
    if (failed !== undefined) throw failed;
  } catch (err) {
    throw unreadable(options, failed ?? err);
  } finally {
    for (const s of streams) if (!s.destroyed) s.destroy();
  }
}

/**
 * One record through its mapping: whatever the mapping throws (a bug, a stack overflow on a record
 * nested 100,000 deep) rejects that record alone, and a promise is made only when the mapping makes one.
 */
function mapOne(map: Mapper, r: Extract<RecordRead, { value: unknown }>): RecordResult | Promise<RecordResult> {
  try {
    const mapped = map(r.value, r.position);
    return mapped instanceof Promise ? mapped.catch(mappingFailure) : mapped;
  } catch (err) {
    return mappingFailure(err);
  }
}

function rejectOutcome(r: Extract<RecordRead, { code: string }>): Outcome {
  return { kind: 'reject', code: r.code, reason: r.reason, position: r.position, record: r.raw };
}

/** The outcome of one read record given what its mapping made of it. */
export function outcomeOf(result: RecordResult, r: Extract<RecordRead, { value: unknown }>): Outcome {
  if ('events' in result) {
    // The read record itself, not a copy: one more reference per record, for inspect.
    const out: Outcome = { kind: 'events', events: result.events, position: r.position, read: r };
    if (result.identify) out.identify = result.identify;
    let changed: readonly string[] | undefined = r.exact && result.events.some(carriesExactNumber) ? [...(r.changed ?? []), READ_CHANGES.numberAsText] : r.changed;
    if (result.changed) changed = changed ? [...changed, ...result.changed] : result.changed;
    if (changed) out.changed = changed;
    return out;
  }
  if ('person' in result) {
    const changed = r.exact && (holds(result.person.set) || holds(result.person.setOnce)) ? [...(r.changed ?? []), READ_CHANGES.numberAsText] : r.changed;
    const out: Outcome = { kind: 'person', person: result.person, position: r.position, read: r };
    if (result.identify) out.identify = result.identify;
    if (changed) out.changed = changed;
    return out;
  }
  if ('drop' in result) return { kind: 'drop', rule: result.drop, position: r.position, read: r };
  return { kind: 'reject', code: result.code, reason: result.reason, position: r.position, record: r.raw ?? recordText(r.value) };
}

/** True when an event's properties hold a number the source wrote that went out as its text. */
function carriesExactNumber(e: PostHogEvent): boolean {
  return holds(e.properties) || holds(e.$set) || holds(e.$set_once);
}

function holds(value: unknown): boolean {
  if (value instanceof ExactNumber) return true;
  if (value === null || typeof value !== 'object') return false;
  for (const v of Object.values(value)) if (holds(v)) return true;
  return false;
}

function sniff(head: Buffer): Format {
  const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('[')) return 'json';
  if (text.startsWith('{') || text === '') return 'jsonl';
  return 'csv';
}

/** The decompressed pieces, each told to the meter and preceded by a look at the stop signal. */
async function* metered(input: Readable, options: ReadOptions): AsyncGenerator<Buffer> {
  for await (const piece of input as AsyncIterable<Buffer>) {
    if (options.signal?.aborted) throw stopReason(options.signal);
    options.meter?.(piece.length);
    yield piece;
  }
}

function positionOf(options: ReadOptions, l: { number: number; offset: number }): Position {
  // Built field by field: spreading costs more than parsing a short line.
  return options.entry === undefined ? { file: options.file, line: l.number, offset: l.offset } : { file: options.file, entry: options.entry, line: l.number, offset: l.offset };
}

function tooLong(options: ReadOptions, l: SplitLine): RecordRead {
  return { code: READ_REJECTS.lineTooLong, reason: `the line is ${l.tooLong} bytes, over the limit of ${options.maxLineBytes ?? MAX_LINE_BYTES} bytes for a record (capture refuses events over 1,000,000 bytes): it was skipped unread, its first bytes are kept`, position: positionOf(options, l), raw: l.line };
}

/** One line of JSON lines as a record, a reject, or nothing (a blank line). */
function lineRecord(l: SplitLine, options: ReadOptions): RecordRead | undefined {
  const line = l.line;
  if (l.tooLong !== undefined) return tooLong(options, l);
  // A cheap test first: trimming every (long) line would copy it.
  if (line.length === 0 || (line.charCodeAt(0) <= 32 && line.trim() === '')) return undefined;
  const position = positionOf(options, l);
  let parsed;
  try {
    parsed = parseJsonExact(line);
  } catch (err) {
    if (err instanceof TooDeepError) return { code: RejectCode.tooDeep, reason: err.message, position, raw: line };
    return { code: READ_REJECTS.invalidJson, reason: `not valid JSON: ${(err as Error).message}`, position, raw: line };
  }
  const r: RecordRead = { value: parsed.value, position, raw: line };
  if (l.invalidUtf8) r.changed = [READ_CHANGES.invalidUtf8];
  if (parsed.exact) r.exact = true;
  return r;
}

function lineOptions(options: ReadOptions): { maxLineBytes: number; signal?: AbortSignal } {
  return options.signal ? { maxLineBytes: options.maxLineBytes ?? MAX_LINE_BYTES, signal: options.signal } : { maxLineBytes: options.maxLineBytes ?? MAX_LINE_BYTES };
}

/**
 * The elements of a JSON array, streamed: each element's bytes are found by their brackets and
 * quotes, then parsed alone like a line (numbers kept exact, invalid UTF-8 marked), so the array is
 * never held whole. An element over the maximum is skipped unread, as a `line_too_long` reject. A
 * broken array cannot be read past the break: the elements before it are kept, the file fails.
 */
async function* jsonArray(pieces: AsyncIterable<Buffer>, options: ReadOptions): AsyncGenerator<RecordRead> {
  const { file } = options;
  const max = options.maxLineBytes ?? MAX_LINE_BYTES;
  const broken = (why: string) => new HogportError('E_FILE_UNREADABLE', `${file} is not a valid JSON array: ${why}`);
  // before: the opening bracket not seen yet; between: outside any element; inside: in one; after: past the closing bracket.
  let state: 'before' | 'between' | 'inside' | 'after' = 'before';
  let index = 0;
  let offset = 0;
  let start = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let parts: Buffer[] = [];
  let length = 0;
  let expectComma = false;
  let first = true;
  const finish = (): RecordRead => {
    const position: Position = { file, line: index + 1, offset: start };
    index += 1;
    expectComma = true;
    if (length > max) {
      const head = Buffer.concat(parts).subarray(0, 1024).toString('utf8');
      const bytes = length;
      parts = []; length = 0;
      return { code: READ_REJECTS.lineTooLong, reason: `the element is ${bytes} bytes, over the limit of ${max} bytes for a record (capture refuses events over 1,000,000 bytes): it was skipped unread, its first bytes are kept`, position, raw: head };
    }
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
    parts = []; length = 0;
    const text = bytes.toString('utf8');
    let parsed;
    try {
      parsed = parseJsonExact(text);
    } catch (err) {
      // A whole element, well formed but too deep, costs that element alone.
      if (err instanceof TooDeepError) return { code: RejectCode.tooDeep, reason: err.message, position, raw: text.slice(0, 65_536) };
      throw broken(`element ${position.line} (at byte ${start}): ${(err as Error).message}`);
    }
    const r: RecordRead = { value: parsed.value, position };
    if (!isUtf8(bytes)) r.changed = [READ_CHANGES.invalidUtf8];
    if (parsed.exact) r.exact = true;
    return r;
  };
  for await (let buf of pieces) {
    if (first && buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) { buf = buf.subarray(3); offset = 3; }
    first = false;
    let from = 0;
    const keep = (to: number) => {
      if (to <= from) return;
      // Past the maximum only the first bytes are kept, for the reject.
      if (length + (to - from) <= max) parts.push(buf.subarray(from, to));
      else if (length < 1024) parts.push(buf.subarray(from, from + Math.min(to - from, 1024 - length)));
      else if (length <= max) parts = [Buffer.concat(parts).subarray(0, 1024)];
      length += to - from;
    };
    for (let i = 0; i < buf.length; i++) {
      const c = buf[i]!;
      if (state === 'inside') {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c) escaped = true;
          else if (c === 0x22) inString = false;
          continue;
        }
        if (c === 0x22) { inString = true; continue; }
        if (c === 0x7b || c === 0x5b) { depth += 1; continue; }
        if ((c === 0x7d || c === 0x5d) && depth > 0) { depth -= 1; continue; }
        if (depth === 0 && (c === 0x2c || c === 0x5d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) {
          keep(i);
          state = 'between';
          yield finish();
          // The separator is looked at again outside the element.
          i -= 1;
        }
        continue;
      }
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
      if (state === 'before') {
        if (c !== 0x5b) throw broken(`it starts with ${JSON.stringify(String.fromCharCode(c))}, not [`);
        state = 'between';
      } else if (state === 'after') {
        throw broken(`there is more after its closing ] (at byte ${offset + i})`);
      } else if (c === 0x5d) {
        state = 'after';
      } else if (c === 0x2c) {
        if (!expectComma) throw broken(`a comma where an element should be (at byte ${offset + i})`);
        expectComma = false;
      } else {
        if (expectComma) throw broken(`a comma is missing before byte ${offset + i}`);
        state = 'inside';
        start = offset + i;
        from = i;
        depth = 0;
        if (c === 0x22) inString = true;
        else if (c === 0x7b || c === 0x5b) depth = 1;
      }
    }
    if (state === 'inside') keep(buf.length);
    offset += buf.length;
  }
  // Narrowed wrongly across the loop's assignments, so compared as a string.
  const end: string = state;
  if (end !== 'after') throw broken(end === 'before' ? 'the file is empty' : 'it ends before its closing ]');
}

/**
 * CSV with a header row, read record by record from its lines: a record goes on over lines while a
 * quoted field is open. A record that cannot be split into fields (a stray quote) costs its first
 * line only, as a reject: the lines after it are read again on their own, so every other row comes
 * out as written. A quote left open runs at most to the line limit or the end of the file.
 */
async function* csvRows(pieces: AsyncIterable<Buffer>, options: ReadOptions): AsyncGenerator<RecordRead> {
  const delimiter = options.csv?.delimiter ?? ',';
  const max = options.maxLineBytes ?? MAX_LINE_BYTES;
  let columns: string[] | undefined;
  // Lines of the record under way (more than one only while a quoted field is open), their quotes.
  let pending: Array<{ l: SplitLine; quotes: number }> = [];
  let quotes = 0;
  let bytes = 0;
  let waiting = false;
  const drain = function* (atEnd: boolean): Generator<RecordRead> {
    while (pending.length > 0) {
      // The record is the lines up to the first one that closes every quote.
      let end = -1;
      if (quotes % 2 === 0 && (pending.length === 1 || waiting)) end = pending.length;
      else if (waiting && !atEnd && bytes <= max) return;
      else for (let i = 0, q = 0; i < pending.length; i++) if ((q += pending[i]!.quotes) % 2 === 0) { end = i + 1; break; }
      waiting = false;
      // No line closes the quote yet: wait for more (then only the newest line can close it).
      if (end === -1 && !atEnd && bytes <= max) { waiting = true; return; }
      const lines = end === -1 ? [] : pending.slice(0, end);
      const fields = end === -1 ? undefined : splitCsvRecord(lines.length === 1 ? lines[0]!.l.line : lines.map((x, i) => (i === lines.length - 1 ? x.l.line : `${x.l.line}${x.l.crlf ? '\r\n' : '\n'}`)).join(''), delimiter);
      const first = pending[0]!.l;
      if (fields === undefined) {
        if (columns === undefined) throw new HogportError('E_FILE_UNREADABLE', `${options.file} is not valid CSV: its header row (line ${first.number}) has a quote where none can be`);
        yield { code: READ_REJECTS.invalidCsvRow, reason: `line ${first.number} is not a CSV row: a quote where none can be (a field is quoted whole, a quote inside it doubled)`, position: positionOf(options, first), raw: first.line };
        drop(1);
        continue;
      }
      drop(end);
      if (columns === undefined) { columns = fields; continue; }
      const record: Record<string, string> = {};
      for (let i = 0; i < columns.length && i < fields.length; i++) {
        // As JSON.parse does: a column named `__proto__` is a field, never the prototype.
        if (columns[i] === '__proto__') Object.defineProperty(record, '__proto__', { value: fields[i], writable: true, enumerable: true, configurable: true });
        else record[columns[i]!] = fields[i]!;
      }
      const r: RecordRead = { value: record, position: positionOf(options, first) };
      if (lines.some((x) => x.l.invalidUtf8)) r.changed = [READ_CHANGES.invalidUtf8];
      // Fields past the header have no name to go under: left out, and counted.
      if (fields.length > columns.length) r.changed = [...(r.changed ?? []), READ_CHANGES.csvExtraFields];
      yield r;
    }
  };
  const drop = (n: number) => {
    for (const x of pending.slice(0, n)) { quotes -= x.quotes; bytes -= x.l.line.length; }
    pending = pending.slice(n);
  };
  for await (const batch of splitLineBatches(pieces, lineOptions(options))) for (const l of batch) {
    if (l.tooLong !== undefined) {
      yield* drain(true);
      yield tooLong(options, l);
      continue;
    }
    // Blank lines between records are no record; inside a quoted field they are part of it.
    if (pending.length === 0 && (l.line.length === 0 || (l.line.charCodeAt(0) <= 32 && l.line.trim() === ''))) continue;
    const q = countQuotes(l.line);
    pending.push({ l, quotes: q });
    quotes += q;
    bytes += l.line.length;
    yield* drain(false);
  }
  yield* drain(true);
}

function countQuotes(line: string): number {
  let n = 0;
  for (let i = line.indexOf('"'); i !== -1; i = line.indexOf('"', i + 1)) n++;
  return n;
}

/**
 * The fields of one CSV record (RFC 4180: a field quoted whole, a quote in it doubled), or undefined
 * when a quote stands where none can be.
 */
export function splitCsvRecord(text: string, delimiter: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q === -1) return undefined;
        value += text.slice(j, q);
        if (text[q + 1] === '"') { value += '"'; j = q + 2; continue; }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === text.length) return fields;
      if (text[i] !== delimiter) return undefined;
      i += 1;
      continue;
    }
    const d = text.indexOf(delimiter, i);
    const value = d === -1 ? text.slice(i) : text.slice(i, d);
    if (value.includes('"')) return undefined;
    fields.push(value);
    if (d === -1) return fields;
    i = d + 1;
  }
}

/** Rows read at once from a Parquet file: bounds memory whatever the row group size. */
const PARQUET_SLICE = 10_000;

/**
 * A Parquet file's rows, nested columns assembled, INT64 as numbers (or text past 2^53), timestamps
 * as ISO text. Parquet needs random access to its footer, so the file is spooled to a temporary file
 * first and read a slice of rows at a time.
 */
async function* parquetRows(input: Readable, file: string): AsyncGenerator<RecordRead> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, toJson } = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-parquet-'));
  try {
    const spooled = path.join(dir, 'file.parquet');
    await pipeline(input, createWriteStream(spooled));
    let metadata;
    const buffer = await asyncBufferFromFile(spooled);
    try {
      metadata = await parquetMetadataAsync(buffer);
    } catch (err) {
      throw new HogportError('E_FILE_UNREADABLE', `${file} is not a readable Parquet file: ${(err as Error).message}`);
    }
    const rows = Number(metadata.num_rows);
    for (let start = 0; start < rows; start += PARQUET_SLICE) {
      let slice;
      try {
        slice = await parquetReadObjects({ file: buffer, metadata, rowStart: start, rowEnd: Math.min(rows, start + PARQUET_SLICE), compressors });
      } catch (err) {
        throw new HogportError('E_FILE_UNREADABLE', `${file} has rows ${start + 1} to ${Math.min(rows, start + PARQUET_SLICE)} that cannot be read: ${(err as Error).message}`);
      }
      for (const [i, row] of slice.entries()) yield { value: toJson(row), position: { file, line: start + i + 1 } };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A failure of the bytes under the reader, as an error naming the file (and entry) to re-extract. */
function unreadable(options: ReadOptions, err: unknown): Error {
  if (err instanceof HogportError) return err;
  if (options.signal?.aborted && err === options.signal.reason) return err as Error;
  const where = options.entry ? `entry ${options.entry} of ${options.file}` : options.file;
  return new HogportError('E_RAW_UNREADABLE', `${where} cannot be read (${(err as Error)?.message ?? String(err)}): the raw file is damaged or was cut short`, { details: { file: options.file, ...(options.entry ? { entry: options.entry } : {}) } });
}
