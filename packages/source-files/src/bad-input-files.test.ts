import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { silentLogger } from '@hogport/common';
import type { Outcome } from '@hogport/pipeline';
import { openStore } from '@hogport/store';
import { runCli } from '@hogport/testkit';
import { filesSource } from './index.js';

const BAD = fileURLToPath(new URL('../../../fixtures/bad-input/files/', import.meta.url));
const MAPPING = { event: 'kind', distinctId: 'user', timestamp: { field: 'at' } };
const AT = '"at":"2024-01-01T00:00:00Z"';

/** The outcomes of one file through the files source with the declared mapping, or the error it fails with. */
async function transform(name: string, data?: Buffer): Promise<Outcome[]> {
  const bytes = data ?? await readFile(path.join(BAD, name));
  const source = filesSource({ options: { type: 'files', location: BAD, mapping: MAPPING }, baseDir: BAD, openStore, log: silentLogger });
  const out: Outcome[] = [];
  const raw = [{ name, open: async () => Readable.from([bytes], { objectMode: false }) }];
  for await (const o of source.transform(raw, { migration: 'm', chunk: name, transform: {} as never, hogportVersion: '0', log: silentLogger })) out.push(o);
  return out;
}

/** Each outcome in short: an event's distinct_id and what was changed, a reject's code and line, a drop's rule. */
const brief = (out: Outcome[]) => out.map((o) => {
  if (o.kind === 'events') return o.changed ? [o.position.line, o.events[0]!.distinct_id, ...o.changed] : [o.position.line, o.events[0]!.distinct_id];
  if (o.kind === 'reject') return [o.position.line, o.code];
  if (o.kind === 'person') return [o.position.line, `person:${o.person.distinctId}`];
  return [o.position.line, `drop:${o.rule}`];
});

test('a byte order mark costs no record in JSON lines, CSV or a JSON array', async () => {
  assert.deepEqual(brief(await transform('bom.jsonl')), [[1, 'u1'], [2, 'u2']]);
  assert.deepEqual(brief(await transform('bom.csv')), [[2, 'u1']]);
  assert.deepEqual(brief(await transform('bom-array.json')), [[1, 'u1'], [2, 'u2']]);
});

test('invalid UTF-8 keeps its record, with U+FFFD for the bad byte, counted as invalid_utf8', async () => {
  const out = await transform('invalid-utf8.jsonl');
  assert.deepEqual(brief(out), [[1, 'u1', 'invalid_utf8'], [2, 'u2']]);
  assert.ok(out[0]?.kind === 'events' && out[1]?.kind === 'events');
  assert.equal(out[0].events[0]!.properties.city, 'M\uFFFDnchen');
  assert.equal(out[1].events[0]!.properties.city, 'München');
});

test('ids a double cannot hold keep every digit; such values go out as their text, counted as number_as_text', async () => {
  const out = await transform('big-numbers.jsonl');
  assert.deepEqual(brief(out), [[1, '9007199254740993', 'number_as_text'], [2, '9007199254740995'], [3, 'u3']]);
  assert.ok(out[0]?.kind === 'events');
  assert.equal(JSON.stringify(out[0].events[0]!.properties), '{"order_id":"12345678901234567890","huge":"1e400","price":9.99}');
  assert.ok(out[2]?.kind === 'events');
  assert.deepEqual(out[2].events[0]!.properties, { score: 0.1 });
});

test('CRLF, blank lines and a last line without newline: each record at its line, a line that is not JSON rejected', async () => {
  const out = await transform('lines.jsonl');
  assert.deepEqual(brief(out), [[1, 'u1'], [4, 'invalid_json'], [5, 'u3']]);
  assert.ok(out[1]?.kind === 'reject');
  assert.equal(out[1].record, '{"user":"u2","kind":');
  assert.deepEqual(out[1].position, { file: 'lines.jsonl', line: 4, offset: 65 });
});

test('a CSV row with a stray quote is rejected at its line and the rest of the file is read as written', async () => {
  const out = await transform('stray-quote.csv');
  assert.deepEqual(brief(out), [[2, 'u1'], [3, 'invalid_csv_row'], [4, 'u3'], [6, 'invalid_csv_row'], [7, 'u5']]);
  assert.ok(out[2]?.kind === 'events');
  assert.equal(out[2].events[0]!.properties.note, 'two\nlines');
  assert.ok(out[3]?.kind === 'reject');
  assert.equal(out[3].record, 'u4,visit,2024-01-01T00:00:00Z,"never closed');
});

test('a line over the limit is rejected by its first bytes, the records around it kept', async () => {
  const long = `{"user":"u2","kind":"visit",${AT},"blob":"${'z'.repeat(2_000_000)}"}`;
  const out = await transform('long.jsonl', Buffer.from(`{"user":"u1","kind":"visit",${AT}}\n${long}\n{"user":"u3","kind":"visit",${AT}}\n`));
  assert.deepEqual(brief(out), [[1, 'u1'], [2, 'line_too_long'], [3, 'u3']]);
  assert.ok(out[1]?.kind === 'reject');
  assert.equal(out[1].record, long.slice(0, 1024));
});

test('a JSON array broken mid-file and a gzip cut short fail their file with a code, never the process', async () => {
  await assert.rejects(transform('broken-array.json'), { code: 'E_FILE_UNREADABLE' });
  const gz = gzipSync(Array.from({ length: 3000 }, (_, i) => `{"user":"u${i}","kind":"visit",${AT}}`).join('\n'));
  await assert.rejects(transform('cut.jsonl.gz', gz.subarray(0, gz.length - 100)), (err: Error & { code?: string }) => err.code === 'E_RAW_UNREADABLE' && /cut\.jsonl\.gz/.test(err.message));
});

test('hogport transform over the bad inputs: counts add up per chunk, changes counted, only the broken files fail, nothing crashes', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bad-input-'));
  const input = path.join(dir, 'input');
  await cp(BAD, input, { recursive: true, filter: (src) => !src.endsWith('.md') });
  const gz = gzipSync(Array.from({ length: 3000 }, (_, i) => `{"user":"u${i}","kind":"visit",${AT}}`).join('\n'));
  await writeFile(path.join(input, 'cut.jsonl.gz'), gz.subarray(0, gz.length - 100));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, `id: bad\nstore: ./store\nsource: { type: files, location: ./input, mapping: ${JSON.stringify(MAPPING)} }\ndestination: { type: dry-run }\n`);
  await runCli(['extract', file, '--log-level', 'warn'], { cwd: dir });
  const run = await runCli(['transform', file, '--log-level', 'warn', '--threads', '1'], { cwd: dir });
  assert.equal(run.code, 1, run.stderr);
  assert.doesNotMatch(run.stderr, /Unhandled|\n\s+at .+:\d+:\d+\)?\n/);
  const manifests = path.join(dir, 'store/bad/manifests/transform');
  const counts: Record<string, { in: number; out: number; rejected: number; dropped: number; changedBy?: Record<string, number> }> = {};
  for (const f of await readdir(manifests)) counts[f.replace(/\.json$/, '')] = JSON.parse(await readFile(path.join(manifests, f), 'utf8')).counts;
  assert.deepEqual(Object.keys(counts).sort(), ['big-numbers.jsonl', 'bom-array.json', 'bom.csv', 'bom.jsonl', 'invalid-utf8.jsonl', 'lines.jsonl', 'stray-quote.csv']);
  for (const [chunk, c] of Object.entries(counts)) assert.equal(c.in, c.out + c.rejected + c.dropped, chunk);
  assert.deepEqual([counts['stray-quote.csv']!.in, counts['stray-quote.csv']!.out, counts['stray-quote.csv']!.rejected], [5, 3, 2]);
  assert.deepEqual([counts['lines.jsonl']!.in, counts['lines.jsonl']!.out, counts['lines.jsonl']!.rejected], [3, 2, 1]);
  assert.deepEqual(counts['invalid-utf8.jsonl']!.changedBy, { invalid_utf8: 1 });
  assert.deepEqual(counts['big-numbers.jsonl']!.changedBy, { number_as_text: 1 });
  const failures = path.join(dir, 'store/bad/failures/transform');
  const failed: Record<string, string> = {};
  for (const f of await readdir(failures)) failed[f.replace(/\.json$/, '')] = JSON.parse(await readFile(path.join(failures, f), 'utf8')).error.code;
  assert.deepEqual(failed, { 'broken-array.json': 'E_FILE_UNREADABLE', 'cut.jsonl.gz': 'E_RAW_UNREADABLE' });
  // The events as written keep every digit of the ids.
  const events = path.join(dir, 'store/bad/events/big-numbers.jsonl');
  const [attempt] = await readdir(events);
  const lines = gunzipSync(await readFile(path.join(events, attempt!))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { distinct_id: string; properties: Record<string, unknown> });
  assert.deepEqual(lines.map((l) => l.distinct_id), ['9007199254740993', '9007199254740995', 'u3']);
  assert.equal(lines[0]!.properties.order_id, '12345678901234567890');
});
