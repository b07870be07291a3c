import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { silentLogger } from '@hogport/common';
import type { Outcome, RawFileInput } from '@hogport/pipeline';
import { openStore } from '@hogport/store';
import { amplitudeEntries, amplitudeExport, zipOf } from '@hogport/testkit';
import { amplitudeSource, readAmplitude } from './index.js';

const mapping = { renameEvents: {}, dropProperties: [] as string[] };
const raw = (name: string, data: Buffer): RawFileInput => ({ name, open: async () => Readable.from([data]) });
const collect = async (files: RawFileInput[], maxUncompressedBytes = 2 ** 40) => {
  const out: Outcome[] = [];
  for await (const o of readAmplitude(files, { mapping, maxUncompressedBytes })) out.push(o);
  return out;
};
const source = (options: Record<string, unknown>, baseDir = tmpdir()) => amplitudeSource({ options: { type: 'amplitude', ...options }, baseDir, openStore: (uri) => openStore(uri), log: silentLogger });

test('reads zip entries in natural order, whatever their names say about gzip', async () => {
  const data = amplitudeExport({ seed: 1, hours: ['2024-03-01T09', '2024-03-01T10'], perHour: 30 });
  const zip = await zipOf(amplitudeEntries(data, { partsPerHour: 12, plainHours: ['2024-03-01T10'] }).reverse());
  const outcomes = await collect([raw('export.zip', zip)]);
  assert.equal(outcomes.length, 60);
  const entries = [...new Set(outcomes.map((o) => o.position.entry))];
  assert.deepEqual(entries.slice(0, 3), ['187520/187520_2024-03-01_9#0.json.gz', '187520/187520_2024-03-01_9#1.json.gz', '187520/187520_2024-03-01_9#2.json.gz']);
  assert.equal(entries[11], '187520/187520_2024-03-01_9#11.json.gz', '#11 after #2, not after #1');
  assert.equal(entries[12], '187520/187520_2024-03-01_10#0.json.gz', 'hour 10 after hour 9');
  assert.ok(outcomes.every((o) => o.kind !== 'reject'));
});

test('fails a chunk that expands past the uncompressed cap, like a zip bomb', async () => {
  const bomb = { name: '187520/187520_2024-03-01_9#9.json.gz', data: gzipSync(Buffer.alloc(20 * 2 ** 20, 0x20)) };
  const zip = await zipOf([bomb]);
  assert.ok(zip.length < 100_000);
  await assert.rejects(collect([raw('export.zip', zip)], 2 ** 20), (err: Error & { code?: string }) => err.code === 'E_TOO_MUCH_DATA' && /zip bomb/.test(err.message));
});

test('fails a truncated zip as E_ZIP_CORRUPT, saying the download was cut short (transform then marks it for fetching again)', async () => {
  const zip = await zipOf(amplitudeEntries(amplitudeExport({ seed: 2, hours: ['2024-03-01T09'], perHour: 50 })));
  await assert.rejects(collect([raw('export.zip', zip.subarray(0, Math.floor(zip.length * 0.6)))]), (err: Error & { code?: string }) => err.code === 'E_ZIP_CORRUPT' && /cut short/.test(err.message));
});

test('a damaged zip entry fails the chunk with E_RAW_UNREADABLE naming the entry, never an unhandled error', async () => {
  const zip = Buffer.from(await zipOf(amplitudeEntries(amplitudeExport({ seed: 4, hours: ['2024-03-01T09'], perHour: 400 }), { partsPerHour: 2 })));
  // Stored entries: the gzip of the first part is in the zip as it is; spoil its deflate stream.
  const at = zip.indexOf(Buffer.from([0x1f, 0x8b, 0x08]));
  assert.ok(at > 0);
  for (let i = at + 200; i < at + 400; i++) zip[i] = zip[i]! ^ 0x5a;
  await assert.rejects(collect([raw('export.zip', zip)]), (err: Error & { code?: string }) => err.code === 'E_RAW_UNREADABLE' && /^entry 187520\/187520_2024-03-01_9#0\.json\.gz of export\.zip cannot be read/.test(err.message) && /damaged or was cut short/.test(err.message));
});

test('a stop request interrupts an entry without newlines within a piece, whatever its size', async () => {
  const controller = new AbortController();
  let pieces = 0;
  async function* endless(): AsyncGenerator<Buffer> {
    const piece = Buffer.alloc(65_536, 0x61);
    for (;;) { if (++pieces === 50) controller.abort(); yield piece; }
  }
  const files = [{ name: 'part.json', open: async () => Readable.from(endless(), { objectMode: false }) }];
  const out: Outcome[] = [];
  await assert.rejects(async () => { for await (const o of readAmplitude(files, { mapping, maxUncompressedBytes: 2 ** 40, signal: controller.signal })) out.push(o); }, { name: 'AbortError' });
  assert.ok(pieces <= 52, `read ${pieces} pieces`);
  assert.equal(out.length, 0);
});

test('a numeric user_id a double cannot hold keeps every digit in the distinct_id', async () => {
  const record = { event_type: 'e', user_id: '__ID__', device_id: 'd1', event_time: '2024-03-01 09:00:00.000', uuid: '817a8abf-7c25-4992-8d41-dcdbd556c1a9', event_properties: { n: '__N__' } };
  const line = JSON.stringify(record).replace('"__ID__"', '9007199254740993').replace('"__N__"', '1e400');
  const [o] = await collect([raw('part.json', Buffer.from(`${line}\n`))]);
  assert.ok(o?.kind === 'events');
  assert.equal(o.events[0]!.distinct_id, '9007199254740993');
  assert.deepEqual(o.changed, ['number_as_text']);
});

test('plans one chunk per upload hour and leaves out hours less than 2 hours old', async () => {
  const planned = await source({ start: '2024-03-01', end: '2024-03-01T05' }).plan();
  assert.deepEqual(planned.map((c) => c.id), ['2024-03-01T00', '2024-03-01T01', '2024-03-01T02', '2024-03-01T03', '2024-03-01T04']);
  assert.ok(!JSON.stringify(planned).includes('KEY'), 'no credentials in the plan');
  const now = Date.now();
  const recent = await source({ start: new Date(now - 6 * 3600_000).toISOString(), end: new Date(now + 3600_000).toISOString() }).plan();
  const last = Date.parse(`${recent.at(-1)!.id}:00:00Z`);
  assert.ok(last + 3600_000 <= now - 2 * 3600_000, `the last planned hour ${recent.at(-1)!.id} ends at least 2 hours ago`);
});

test('plans an S3 export by hour, only hours with a _complete marker', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-amp-files-'));
  const data = amplitudeExport({ seed: 3, hours: ['2024-03-01T09', '2024-03-01T10', '2024-03-01T11'], perHour: 10 });
  for (const e of amplitudeEntries(data)) await writeFile(path.join(dir, path.basename(e.name)), e.data);
  await writeFile(path.join(dir, '187520_2024-03-01_9_complete'), '');
  await writeFile(path.join(dir, '187520_2024-03-01_10_complete'), '');
  const planned = await source({ mode: 'files', location: dir }).plan();
  assert.deepEqual(planned.map((c) => [c.id, c.inputs.length]), [['2024-03-01T09', 2], ['2024-03-01T10', 2]]);
  const all = await source({ mode: 'files', location: dir, requireComplete: false }).plan();
  assert.equal(all.length, 3);
});
