import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { amplitudeChunkMapper } from '@hogport/source-amplitude';
import { mapSegmentMessage } from '@hogport/source-segment';
import { amplitudeExport, nestedJson, runCli, segmentMessages } from '@hogport/testkit';
import { outboxEvents, readJson, walk } from './e2e.helpers.js';

/** Runs the whole migration, which must complete without a stack trace or an unhandled error. */
async function runClean(pipeline: string): Promise<void> {
  const run = await runCli(['run', pipeline]);
  assert.equal(run.code, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /\n\s+at .*\(|RangeError|TypeError/, 'no stack trace, no unhandled error');
}

/** What the dry run sent, each event once, by uuid. */
async function sentOnce(migrationDir: string): Promise<{ sent: Array<Record<string, any>>; byUuid: Map<string, Record<string, any>> }> {
  const sent = await outboxEvents(migrationDir);
  const byUuid = new Map(sent.map((e) => [e.uuid as string, e]));
  assert.equal(byUuid.size, sent.length, 'every event once');
  return { sent, byUuid };
}

const at = '2024-03-01 09:30:00.000000';
/** Records that used to fail the whole hour (or, for prototype-named properties, the merge step), and one id capture would cut. */
const poison = [
  `{"$insert_id":"p1","event_type":"Deep","user_id":"deep-user","event_time":"${at}","event_properties":${nestedJson(100_000)}}`,
  `{"$insert_id":"p2","event_type":"Far","user_id":"far-user","event_time":1e20}`,
  `{"$insert_id":"p3","event_type":"constructor","user_id":"proto-user","device_id":"proto-device","event_time":"${at}","user_properties":{"constructor":"c","toString":"t","hasOwnProperty":"h","__proto__":{"x":1}}}`,
  `{"$insert_id":"p4","event_type":"Long","user_id":"${'u'.repeat(201)}","device_id":"long-device","event_time":"${at}"}`,
];

test('an Amplitude hour with poisoned records still loads everything else and its identities, each poisoned record a reject with its line', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bad-input-'));
  await mkdir(path.join(dir, 'export'));
  const records = amplitudeExport({ seed: 77, hours: ['2024-03-01T09'], perHour: 200 }).get('2024-03-01T09')!;
  const lines = [...records.slice(0, 100).map((r) => JSON.stringify(r)), ...poison, ...records.slice(100).map((r) => JSON.stringify(r))];
  await writeFile(path.join(dir, 'export', '187520_2024-03-01_9#0.json.gz'), gzipSync(`${lines.join('\n')}\n`));
  const pipeline = path.join(dir, 'pipeline.yaml');
  await writeFile(pipeline, [
    'id: poisoned',
    'store: ./store',
    'source: { type: amplitude, mode: files, location: ./export, requireComplete: false }',
    'destination: { type: dry-run, batchMaxEvents: 100 }',
  ].join('\n'));

  await runClean(pipeline);

  const store = path.join(dir, 'store', 'poisoned');
  const { sent, byUuid } = await sentOnce(store);

  // Everything else arrived, as mapped.
  const expected = new Map<string, string>();
  const pairs = new Set<string>();
  const map = amplitudeChunkMapper({ renameEvents: {}, dropProperties: [] });
  for (const r of records) {
    const m = map(structuredClone(r));
    if (!('events' in m)) continue;
    for (const e of m.events) expected.set(e.uuid, e.event);
    for (const p of m.identify ?? []) pairs.add(`${p.distinctId} ${p.anonId}`);
  }
  for (const [uuid, event] of expected) assert.equal(byUuid.get(uuid)?.event, event, uuid);
  const proto = sent.find((e) => e.event === 'constructor');
  assert.equal(proto?.distinct_id, 'proto-user', 'an event named constructor is an event');

  // The identities: one $identify per pair, the poisoned record's own pair included; none for the refused id.
  const identified = new Set(sent.filter((e) => e.event === '$identify').map((e) => `${e.distinct_id} ${e.properties.$anon_distinct_id}`));
  for (const p of pairs) assert.ok(identified.has(p), p);
  assert.ok(identified.has('proto-user proto-device'));
  assert.ok(![...identified].some((p) => p.endsWith('long-device')), 'no identity for an id capture would cut');

  // The person with prototype-named properties gets them all in the final $set.
  const person = sent.find((e) => e.event === '$set' && e.distinct_id === 'proto-user');
  assert.deepEqual(Object.keys(person?.properties.$set ?? {}).sort(), ['__proto__', 'constructor', 'hasOwnProperty', 'toString']);
  assert.deepEqual(person!.properties.$set.__proto__, { x: 1 });

  // The hour completed with the poisoned records refused, each with its reason and line; counts add up.
  const manifest = await readJson(path.join(store, 'manifests', 'transform', '2024-03-01T09.json'));
  const c = manifest.counts;
  assert.equal(c.in, records.length + poison.length);
  assert.equal(c.in, c.out + c.rejected + c.dropped);
  assert.equal(c.rejected, 3);
  const rejectFile = manifest.outputs.find((o: { role: string }) => o.role === 'rejects').key as string;
  const rejects = gunzipSync(await readFile(path.join(dir, 'store', rejectFile))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rejects.map((r) => [r.code, r.position.line]), [['too_deep', 101], ['bad_timestamp', 102], ['distinct_id_too_long', 104]]);
  for (const r of rejects) assert.ok(r.reason.length > 20 && r.position.file === '187520_2024-03-01_9#0.json.gz');

  const status = await runCli(['status', pipeline, '--json']);
  const report = JSON.parse(status.stdout);
  for (const stage of ['extract', 'transform', 'load']) assert.equal(report.totals[stage].failed ?? 0, 0, stage);
});

test('Segment logs with poisoned messages, a shared messageId and a redelivery load every other message and the identities', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bad-segment-'));
  const day = path.join(dir, 'segment-logs', 'src1', '1709251200000');
  await mkdir(day, { recursive: true });
  const messages = segmentMessages({ seed: 91, count: 150, start: new Date(Date.UTC(2024, 2, 1)) });
  const ts = '2024-03-01T12:00:00.000Z';
  const order = (n: number, receivedAt: string) => `{"type":"track","messageId":"shared","event":"Order","userId":"buyer","anonymousId":"buyer-anon","properties":{"n":${n}},"originalTimestamp":"${ts}","timestamp":"${receivedAt}","receivedAt":"${receivedAt}"}`;
  const poisoned = [
    `{"type":"track","messageId":"deep","event":"Deep","userId":"deep-user","properties":${nestedJson(100_000)},"timestamp":"${ts}"}`,
    `{"type":"identify","messageId":"proto","userId":"proto-user","anonymousId":"proto-anon","traits":{"constructor":"c","toString":"t","hasOwnProperty":"h","__proto__":{"x":1}},"timestamp":"${ts}"}`,
    `{"type":"track","messageId":"long","event":"Long","userId":"${'u'.repeat(201)}","timestamp":"${ts}"}`,
    order(1, ts),
    order(2, ts),
    order(1, '2024-03-01T12:00:09.000Z'),
  ];
  const lines = [...messages.slice(0, 75).map((m) => JSON.stringify(m)), ...poisoned, ...messages.slice(75).map((m) => JSON.stringify(m))];
  await writeFile(path.join(day, 'part-a.gz'), gzipSync(`${lines.join('\n')}\n`));
  const pipeline = path.join(dir, 'pipeline.yaml');
  await writeFile(pipeline, ['id: segment-poisoned', 'store: ./store', 'source: { type: segment, location: ./segment-logs }', 'destination: { type: dry-run, batchMaxEvents: 50 }'].join('\n'));

  await runClean(pipeline);
  const store = path.join(dir, 'store', 'segment-poisoned');
  const { sent, byUuid } = await sentOnce(store);

  const pairs = new Set<string>();
  for (const m of messages) {
    const r = mapSegmentMessage(structuredClone(m));
    assert.ok('events' in r);
    // An alias call is its link alone, sent by the merge step.
    if (r.events[0]) assert.equal(byUuid.get(r.events[0].uuid)?.event, r.events[0].event);
    for (const p of r.identify ?? []) pairs.add(`${p.distinctId} ${p.anonId}`);
  }
  const orders = sent.filter((e) => e.event === 'Order').map((e) => e.properties.n).sort();
  assert.deepEqual(orders, [1, 2], 'a messageId shared by two messages is two events; the redelivery is one');
  const identified = new Set(sent.filter((e) => e.properties.$hogport_chunk?.startsWith('~identities')).map((e) => `${e.distinct_id} ${e.properties.$anon_distinct_id ?? e.properties.alias}`));
  for (const p of [...pairs, 'buyer buyer-anon']) assert.ok(identified.has(p), p);
  const person = sent.find((e) => e.event === '$set' && e.distinct_id === 'proto-user');
  assert.deepEqual(Object.keys(person?.properties.$set ?? {}).sort(), ['__proto__', 'constructor', 'hasOwnProperty', 'toString']);

  const chunk = (await walk(path.join(store, 'manifests', 'transform'))).find((f) => !f.startsWith('~'))!;
  const c = (await readJson(path.join(store, 'manifests', 'transform', chunk))).counts;
  assert.deepEqual([c.in, c.out, c.rejected, c.dropped, c.droppedBy.duplicate_message], [messages.length + poisoned.length, messages.length + 3, 2, 1, 1]);
  assert.equal(c.in, c.out + c.rejected + c.dropped);
});
