import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HogportError, peekBytes } from '@hogport/common';
import { recordOutcomes, type Outcome, type RawFileInput } from '@hogport/pipeline';
import yauzl from 'yauzl';
import { mapAmplitudeRecord, type AmplitudeMapping, type Mapped } from './map.js';

/** Orders names as people do: `_2#9` before `_2#10`, hour `_9` before `_10`. */
export const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

/**
 * Reads a chunk's raw files (Export API zips, or S3 export files) into outcomes: zip entries in
 * natural order, each entry or file gunzipped when its bytes say gzip (names lie), split into
 * lines and mapped. The uncompressed bytes of the whole chunk are capped, so a zip bomb fails the
 * chunk with a clear error instead of filling the disk or memory.
 *
 * A zip needs random access to its central directory, so it is spooled to a temporary file first
 * (verified against its sha256 on the way); the temporary file is removed when the chunk is read.
 */
export async function* readAmplitude(files: RawFileInput[], options: { mapping: AmplitudeMapping; maxUncompressedBytes: number; signal?: AbortSignal }): AsyncGenerator<Outcome> {
  const budget = new ByteBudget(options.maxUncompressedBytes);
  const map = amplitudeChunkMapper(options.mapping);
  for (const file of [...files].sort((a, b) => naturalOrder(a.name, b.name))) {
    const stream = await file.open();
    const head = await peekBytes(stream, 4);
    if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 0x03 || head[2] === 0x05)) {
      const dir = await mkdtemp(path.join(tmpdir(), 'hogport-zip-'));
      try {
        const spooled = path.join(dir, 'chunk.zip');
        await pipeline(stream, createWriteStream(spooled));
        for await (const entry of zipEntries(spooled, file.name)) {
          yield* records(entry.stream, { file: file.name, entry: entry.name }, budget, map, options.signal);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } else {
      yield* records(stream, { file: file.name }, budget, map, options.signal);
    }
  }
}

function records(input: Readable, where: { file: string; entry?: string }, budget: ByteBudget, map: (value: unknown) => Mapped, signal: AbortSignal | undefined): AsyncGenerator<Outcome> {
  return recordOutcomes(input, { ...where, format: 'jsonl', meter: (bytes) => budget.take(bytes, where), ...(signal ? { signal } : {}) }, map);
}

/**
 * The mapping of one chunk's records, in order (`mapAmplitudeRecord` with what spans the chunk). A group without properties needs one `$groupidentify` to exist in
 * PostHog, not one per record that names it (PostHog's importer sends one when a group's properties
 * change): within a chunk, it is sent with the first record that names the group. Which record that
 * is depends on the chunk's bytes alone, so a re-run sends the same events.
 */
export function amplitudeChunkMapper(mapping: AmplitudeMapping): (value: unknown) => Mapped {
  const created = new Set<string>();
  return (value) => {
    const m = mapAmplitudeRecord(value, mapping);
    if (!('events' in m) || m.events.length === 1) return m;
    const events = m.events.filter((e, i) => {
      if (i === 0 || e.event !== '$groupidentify' || !isEmptyObject(e.properties.$group_set)) return true;
      const key = `${String(e.properties.$group_type)}\u0000${String(e.properties.$group_key)}`;
      if (created.has(key)) return false;
      created.add(key);
      return true;
    });
    return events.length === m.events.length ? m : { ...m, events };
  };
}

function isEmptyObject(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  for (const _ in v) return false;
  return true;
}

/** The entries of a zip file in natural name order, directories and `_complete` markers left out. */
async function* zipEntries(file: string, name: string): AsyncGenerator<{ name: string; stream: Readable }> {
  let zip: yauzl.ZipFile;
  try {
    zip = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.open(file, { lazyEntries: true, autoClose: false, validateEntrySizes: true }, (err, z) => (err ? reject(err) : resolve(z))));
  } catch (err) {
    throw new HogportError('E_ZIP_CORRUPT', `raw file ${name} is not a readable zip (${(err as Error).message}): the download was probably cut short`);
  }
  try {
    const entries: yauzl.Entry[] = await new Promise((resolve, reject) => {
      const all: yauzl.Entry[] = [];
      zip.on('entry', (e: yauzl.Entry) => { all.push(e); zip.readEntry(); });
      zip.on('end', () => resolve(all));
      zip.on('error', reject);
      zip.readEntry();
    });
    for (const entry of entries.filter((e) => !e.fileName.endsWith('/') && !/_complete$/.test(e.fileName)).sort((a, b) => naturalOrder(a.fileName, b.fileName))) {
      const stream = await new Promise<Readable>((resolve, reject) => zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))));
      yield { name: entry.fileName, stream };
    }
  } catch (err) {
    if (err instanceof HogportError) throw err;
    throw new HogportError('E_ZIP_CORRUPT', `raw file ${name} is a damaged zip (${(err as Error).message})`);
  } finally {
    zip.close();
  }
}

/** Counts decompressed bytes across a chunk and fails past the cap. */
class ByteBudget {
  used = 0;
  constructor(private readonly max: number) {}

  take(bytes: number, where: { file: string; entry?: string }): void {
    this.used += bytes;
    if (this.used > this.max) throw new HogportError('E_TOO_MUCH_DATA', `chunk expands to more than ${this.max} bytes uncompressed (at ${where.entry ?? where.file}): this looks like a zip bomb, or the hour is larger than source.maxUncompressedBytes allows; raise it if the data is genuine`);
  }
}
