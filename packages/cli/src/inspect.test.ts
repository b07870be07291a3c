import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { readAll } from '@hogport/common';
import { layout } from '@hogport/layout';
import { Manifest, readControl } from '@hogport/manifest';
import { openStore } from '@hogport/store';
import { amplitudeExport, runCli, startAmplitudeExportApi } from '@hogport/testkit';

const ORDERS = [
  { id: 'o1', kind: 'order', customer: 'c1', at: '2024-01-01T00:00:00Z', amount: 3 },
  { id: 'o2', kind: 'order', customer: '', at: '2024-01-01T00:01:00Z', amount: 4 },
  'not json',
  { id: 'o3', kind: 'refund', customer: 'c1', at: '2024-01-01T00:02:00Z', amount: 5 },
  '',
  { id: 'o4', kind: 'order', customer: 'c2', at: '2024-01-01T00:03:00Z', amount: 6 },
  { id: 'o5', kind: 'order', customer: 'c1', at: '2024-01-01T00:04:00Z', amount: 7 },
  { id: 'o6', kind: 'order', customer: '', at: '2024-01-01T00:05:00Z', amount: 8 },
];
const CHUNK = 'orders.jsonl';

/** A files pipeline over one JSON lines file with a declared mapping: rejects of two codes, one drop. */
async function ordersPipeline(mapping = 'event: kind, distinctId: customer, timestamp: { field: at }, uuid: id'): Promise<{ file: string; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-inspect-'));
  await mkdir(path.join(dir, 'data'));
  await writeFile(path.join(dir, 'data', CHUNK), `${ORDERS.map((o) => (typeof o === 'string' ? o : JSON.stringify(o))).join('\n')}\n`);
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, `id: shop\nstore: ./store\nsource: { type: files, location: ./data, mapping: { ${mapping} } }\ndestination: { type: dry-run }\ntransform: { dropEvents: [refund] }\n`);
  return { file, dir };
}

async function cli(args: string[], env?: Record<string, string>) {
  const r = await runCli([...args, '--log-level', 'silent'], env ? { env } : {});
  return r;
}

async function ok(args: string[], env?: Record<string, string>): Promise<string> {
  const r = await cli(args, env);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** The committed transform manifest and its events lines, read from the store as load would. */
async function committed(dir: string, migration: string, chunk: string) {
  const store = openStore(path.join(dir, 'store'));
  try {
    const m = (await readControl(store, layout(migration).manifest('transform', chunk), Manifest))!.value;
    const text = async (role: string) => gunzipSync(await readAll(await store.read(m.outputs.find((o) => o.role === role)!.key))).toString('utf8').split('\n').filter((l) => l !== '');
    return { manifest: m, events: await text('events'), rejects: (await text('rejects')).map((l) => JSON.parse(l) as { code: string; reason: string; position: unknown; record: string }) };
  } finally {
    await store.close();
  }
}

interface RecordJson {
  record: number; position: { file: string; line: number }; source: unknown; outcome: string;
  events?: Array<{ event: { uuid: string }; committed?: boolean }>; code?: string; reason?: string; rule?: string; committed?: boolean;
}

test('--record N shows the source record and exactly the events lines transform wrote for it, record by record', async () => {
  const { file, dir } = await ordersPipeline();
  await ok(['run', file]);
  const { events } = await committed(dir, 'shop', CHUNK);
  const shown: string[] = [];
  // Seven records: the blank line is none.
  for (let n = 1; n <= 7; n++) {
    const r = JSON.parse(await ok(['inspect', file, CHUNK, '--record', String(n), '--json'])) as RecordJson;
    assert.equal(r.record, n);
    assert.equal(r.position.file, CHUNK);
    for (const e of r.events ?? []) {
      assert.equal(e.committed, true);
      shown.push(JSON.stringify(e.event));
    }
  }
  // Byte for byte, in order: the records' events together are the committed events object.
  assert.deepEqual(shown, events);
  const first = JSON.parse(await ok(['inspect', file, CHUNK, '--record', '1', '--json'])) as RecordJson;
  assert.deepEqual(first.source, ORDERS[0]);
  assert.deepEqual(first.position, { file: CHUNK, line: 1, offset: 0 });
  const text = await ok(['inspect', file, CHUNK, '--record', '1']);
  assert.match(text, /^record 1: orders\.jsonl line 1\nsource record:\n {2}\{\n {4}"id": "o1",/);
  assert.match(text, /became 1 event:\nevent [0-9a-f-]{36}: in the committed events output/);
  assert.match(text, /"\$hogport_chunk": "orders.jsonl"/);
  assert.match(text, /checked against the committed transform output \(attempt /);
});

test('a rejected record shows its code and reason, a dropped one its rule, and a record past the end says how many there are', async () => {
  const { file } = await ordersPipeline();
  await ok(['run', file]);
  const rejected = JSON.parse(await ok(['inspect', file, CHUNK, '--record', '2', '--json'])) as RecordJson;
  assert.equal(rejected.outcome, 'reject');
  assert.equal(rejected.code, 'missing_distinct_id');
  assert.match(rejected.reason!, /customer/);
  assert.equal(rejected.committed, true);
  const unreadable = await ok(['inspect', file, CHUNK, '--record', '3']);
  assert.match(unreadable, /record 3: orders\.jsonl line 3\nsource record:\n {2}not json\nrejected: invalid_json \(in the committed rejects\)\n {2}not valid JSON/);
  const dropped = JSON.parse(await ok(['inspect', file, CHUNK, '--record', '4', '--json'])) as RecordJson;
  assert.equal(dropped.outcome, 'drop');
  assert.equal(dropped.rule, 'dropEvents');
  assert.equal(dropped.position.line, 4);
  const past = await cli(['inspect', file, CHUNK, '--record', '8']);
  assert.equal(past.code, 2);
  assert.match(past.stderr, /chunk orders\.jsonl has 7 records: --record takes 1 to 7/);
});

test('--reject CODE lists the committed rejects of that code with position, reason and record', async () => {
  const { file, dir } = await ordersPipeline();
  await ok(['run', file]);
  const { rejects } = await committed(dir, 'shop', CHUNK);
  const got = JSON.parse(await ok(['inspect', file, CHUNK, '--reject', 'missing_distinct_id', '--json'])) as { count: number; rejects: typeof rejects };
  assert.equal(got.count, 2);
  assert.deepEqual(got.rejects, rejects.filter((r) => r.code === 'missing_distinct_id'));
  const text = await ok(['inspect', file, CHUNK, '--reject', 'missing_distinct_id', '--limit', '1']);
  assert.match(text, /^orders\.jsonl line 2: none of customer holds a distinct id\n {2}\{\n {4}"id": "o2"/);
  assert.ok(!text.includes('"o6"'), 'the limit holds');
  assert.match(text, /2 rejects of code missing_distinct_id in the committed rejects of chunk orders\.jsonl .*; the first 1 shown/);
  const none = await ok(['inspect', file, CHUNK, '--reject', 'bad_uuid']);
  assert.match(none, /no reject of code bad_uuid .*; its codes are invalid_json, missing_distinct_id/);
});

test('the summary counts rejects by code and drops by rule as the manifest does, with an example of each', async () => {
  const { file, dir } = await ordersPipeline();
  await ok(['run', file]);
  const { manifest, rejects } = await committed(dir, 'shop', CHUNK);
  for (const args of [[], ['--reject']]) {
    const s = JSON.parse(await ok(['inspect', file, CHUNK, ...args, '--json'])) as { counts: Record<string, number>; rejects: Array<{ code: string; count: number; example: { position: unknown } }>; droppedBy: Record<string, number> };
    assert.deepEqual(s.counts, { in: manifest.counts.in, out: manifest.counts.out, rejected: manifest.counts.rejected, dropped: manifest.counts.dropped, events: manifest.counts.events });
    assert.deepEqual(s.droppedBy, manifest.counts.droppedBy);
    assert.equal(s.rejects.reduce((a, r) => a + r.count, 0), manifest.counts.rejected);
    assert.deepEqual(Object.fromEntries(s.rejects.map((r) => [r.code, r.count])), { missing_distinct_id: 2, invalid_json: 1 });
    assert.deepEqual(s.rejects[0]!.example.position, rejects.find((r) => r.code === 'missing_distinct_id')!.position);
  }
  const text = await ok(['inspect', file, CHUNK]);
  assert.match(text, /records: 7 in, 3 kept as 3 events, 3 rejected, 1 dropped/);
  assert.match(text, /missing_distinct_id +2 +orders\.jsonl line 2: none of customer holds a distinct id; record \{"id":"o2"/);
  assert.match(text, /drops by rule:\n {2}dropEvents +1/);
});

test('--distinct-id shows every record whose events carry it, a dropped one too, up to --limit', async () => {
  const { file } = await ordersPipeline();
  await ok(['run', file]);
  const all = JSON.parse(await ok(['inspect', file, CHUNK, '--distinct-id', 'c1', '--json'])) as { records: RecordJson[]; more: boolean };
  assert.deepEqual(all.records.map((r) => [r.record, r.outcome]), [[1, 'events'], [4, 'drop'], [6, 'events']]);
  assert.equal(all.more, false);
  assert.ok(all.records.filter((r) => r.outcome === 'events').every((r) => r.events!.every((e) => e.committed === true)));
  const limited = JSON.parse(await ok(['inspect', file, CHUNK, '--distinct-id', 'c1', '--limit', '2', '--json'])) as { records: RecordJson[]; more: boolean };
  assert.deepEqual(limited.records.map((r) => r.record), [1, 4]);
  assert.equal(limited.more, true);
  assert.match(await ok(['inspect', file, CHUNK, '--distinct-id', 'nobody']), /no record of chunk orders\.jsonl has an event with distinct_id "nobody"/);
});

test('after extract only, inspect shows what transform would make of the chunk and writes nothing', async () => {
  const { file, dir } = await ordersPipeline();
  await ok(['extract', file]);
  const record = await ok(['inspect', file, CHUNK, '--record', '1']);
  assert.match(record, /became 1 event:\nevent [0-9a-f-]{36}\n/);
  assert.match(record, /chunk orders\.jsonl is not transformed yet: shown is what hogport transform .* --chunks orders\.jsonl would write/);
  const s = JSON.parse(await ok(['inspect', file, CHUNK, '--json'])) as { transformed: boolean; counts: Record<string, number>; rejects: Array<{ code: string; count: number }> };
  assert.equal(s.transformed, false);
  assert.deepEqual(s.counts, { in: 7, out: 3, rejected: 3, dropped: 1, events: 3 });
  const rejects = JSON.parse(await ok(['inspect', file, CHUNK, '--reject', 'invalid_json', '--json'])) as { count: number; rejects: Array<{ record: string }> };
  assert.deepEqual(rejects.rejects.map((r) => r.record), ['not json']);
  const store = openStore(path.join(dir, 'store'));
  assert.equal(await readControl(store, layout('shop').manifest('transform', CHUNK), Manifest), undefined);
  for await (const o of store.list('shop/events/')) assert.fail(`inspect wrote ${o.key}`);
  await store.close();
  // Transform then writes exactly what inspect showed.
  const shown = JSON.parse(await ok(['inspect', file, CHUNK, '--record', '6', '--json'])) as RecordJson;
  await ok(['transform', file]);
  const { events } = await committed(dir, 'shop', CHUNK);
  assert.equal(events.at(-1), JSON.stringify(shown.events![0]!.event));
});

test('events that are not in the committed output are called stale, with the command that writes it again', async () => {
  const { file } = await ordersPipeline();
  await ok(['run', file]);
  // No uuid field: the same records now make events of other uuids than the committed ones.
  await writeFile(file, `id: shop\nstore: ./store\nsource: { type: files, location: ./data, mapping: { event: kind, distinctId: customer, timestamp: { field: at } } }\ndestination: { type: dry-run }\ntransform: { dropEvents: [refund] }\n`);
  const text = await ok(['inspect', file, CHUNK, '--record', '1']);
  assert.match(text, /NOT in the committed events output \(stale output\)/);
  assert.match(text, /the committed transform output \(attempt .*\) is stale \(.*\): hogport transform .* --chunks orders\.jsonl writes it again/);
});

test('an unknown chunk names chunks that exist, a chunk not extracted names the extract to run, and one option at a time', async () => {
  const { file } = await ordersPipeline();
  const unknown = await cli(['inspect', file, 'orders.csv']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /chunk "orders\.csv" is not a chunk of this pipeline; it plans 1 \(like orders\.jsonl\): hogport plan .* lists them/);
  const early = await cli(['inspect', file, CHUNK, '--record', '1']);
  assert.equal(early.code, 2);
  assert.match(early.stderr, /chunk orders\.jsonl is not extracted yet: run hogport extract .*pipeline\.yaml --chunks orders\.jsonl first/);
  const both = await cli(['inspect', file, CHUNK, '--record', '1', '--reject']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /one of --record, --distinct-id, --reject and --changed at a time/);
  const zero = await cli(['inspect', file, CHUNK, '--record', '0']);
  assert.equal(zero.code, 2);
});

test('an Amplitude chunk: each record of the export zip, named by its entry and line, shows the events transform wrote for it', async (t) => {
  const env = { AMPLITUDE_API_KEY: 'amp_key_inspect', AMPLITUDE_SECRET_KEY: 'amp_secret_inspect' };
  const data = amplitudeExport({ seed: 31, hours: ['2024-03-01T00'], perHour: 12 });
  const api = await startAmplitudeExportApi({ apiKey: env.AMPLITUDE_API_KEY, secretKey: env.AMPLITUDE_SECRET_KEY, data, zip: { partsPerHour: 2 } });
  t.after(() => api.close());
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-inspect-amp-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, `id: amp\nstore: ./store\nsource: { type: amplitude, endpoint: "${api.url}", start: "2024-03-01T00", end: "2024-03-01T01" }\ndestination: { type: dry-run }\n`);
  const chunk = '2024-03-01T00';
  await ok(['extract', file], env);
  await ok(['transform', file], env);
  const { manifest, events } = await committed(dir, 'amp', chunk);
  const shown: string[] = [];
  const records = manifest.counts.in;
  assert.ok(records >= 12);
  const entries = new Set<string>();
  for (let n = 1; n <= records; n++) {
    const r = JSON.parse(await ok(['inspect', file, chunk, '--record', String(n), '--json'], env)) as RecordJson & { position: { entry?: string } };
    if (r.position.entry) entries.add(r.position.entry);
    if (n === 1) assert.equal((r.source as { event_type?: unknown }).event_type !== undefined, true, 'the source record is the Amplitude record');
    for (const e of r.events ?? []) { assert.equal(e.committed, true); shown.push(JSON.stringify(e.event)); }
  }
  assert.equal(entries.size, 2, 'records are named by their zip entry');
  assert.deepEqual(shown, events);
  const s = JSON.parse(await ok(['inspect', file, chunk, '--json'], env)) as { counts: Record<string, number>; droppedBy: Record<string, number> };
  assert.equal(s.counts.in, manifest.counts.in);
  assert.deepEqual(s.droppedBy, manifest.counts.droppedBy);
});
