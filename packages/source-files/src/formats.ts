import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse as parseCsv } from 'csv-parse';
import { gunzipIfGzipped, HogportError, peekBytes, splitLines } from '@hogport/common';
import type { Position } from '@hogport/pipeline';
import streamArray from 'stream-json/streamers/stream-array.js';

export type Format = 'jsonl' | 'json' | 'csv' | 'parquet';

/** One record of a file, or a piece of it that could not be read, with where it sits. */
export type RecordRead = { value: unknown; position: Position } | { error: string; position: Position; raw: string };

/**
 * Reads the records of a file whatever it is, told by its bytes: gzip or not, then a JSON array
 * (`[`, streamed element by element, never parsed whole), JSON lines (`{`), or CSV with a header row
 * (quoting and embedded newlines included), or Parquet (`PAR1`).
 */
export async function* readRecords(input: Readable, file: string, format: Format | 'auto' = 'auto', csv: { delimiter?: string } = {}): AsyncGenerator<RecordRead> {
  const plain = await gunzipIfGzipped(input);
  const head = await peekBytes(plain, 512);
  const kind = format !== 'auto' ? format : head.subarray(0, 4).toString('latin1') === 'PAR1' ? 'parquet' : sniff(head);
  if (kind === 'parquet') yield* parquetRows(plain, file);
  else if (kind === 'json') yield* jsonArray(plain, file);
  else if (kind === 'csv') yield* csvRows(plain, file, csv);
  else yield* jsonLines(plain, file);
}

function sniff(head: Buffer): Format {
  const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('[')) return 'json';
  if (text.startsWith('{') || text === '') return 'jsonl';
  return 'csv';
}

async function* jsonLines(input: Readable, file: string): AsyncGenerator<RecordRead> {
  for await (const { line, number, offset } of splitLines(input)) {
    if (line.length === 0 || (line.charCodeAt(0) <= 32 && line.trim() === '')) continue;
    const position = { file, line: number, offset };
    try {
      yield { value: JSON.parse(line), position };
    } catch (err) {
      yield { error: `not valid JSON: ${(err as Error).message}`, position, raw: line };
    }
  }
}

async function* jsonArray(input: Readable, file: string): AsyncGenerator<RecordRead> {
  const items = input.pipe(streamArray.withParserAsStream());
  input.on('error', (err) => items.destroy(err));
  try {
    for await (const item of items as AsyncIterable<{ key: number; value: unknown }>) yield { value: item.value, position: { file, line: item.key + 1 } };
  } catch (err) {
    // A broken array cannot be read past the break: the records before it are kept, the file fails.
    throw new HogportError('E_FILE_UNREADABLE', `${file} is not a valid JSON array: ${(err as Error).message}`);
  }
}

async function* csvRows(input: Readable, file: string, options: { delimiter?: string }): AsyncGenerator<RecordRead> {
  const parser = input.pipe(parseCsv({ columns: true, bom: true, info: true, skip_empty_lines: true, relax_column_count: true, ...(options.delimiter ? { delimiter: options.delimiter } : {}) }));
  input.on('error', (err) => parser.destroy(err));
  try {
    for await (const row of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      yield { value: row.record, position: { file, line: row.info.lines } };
    }
  } catch (err) {
    throw new HogportError('E_FILE_UNREADABLE', `${file} is not valid CSV: ${(err as Error).message}`);
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
      const slice = await parquetReadObjects({ file: buffer, metadata, rowStart: start, rowEnd: Math.min(rows, start + PARQUET_SLICE), compressors });
      for (const [i, row] of slice.entries()) yield { value: toJson(row), position: { file, line: start + i + 1 } };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
