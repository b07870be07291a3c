import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import type { SourceFactory } from '@hogport/pipeline';
import { openStore } from '@hogport/store';
import { nestedJson, transformVerdicts, verdictBrief, type Verdict } from '@hogport/testkit';
import { ga4Source, heapSource, segmentSource } from './index.js';

const make = (factory: SourceFactory, type: string, location = tmpdir()) => factory({ options: { type, location }, baseDir: tmpdir(), openStore: (uri) => openStore(uri), log: silentLogger });
const eventsOf = (v: Verdict | undefined) => { assert.ok(v?.kind === 'events', JSON.stringify(v)); return v.events; };

const ts = '2024-03-01T09:00:00.000Z';
const order = (n: number, delivery: { receivedAt: string; sentAt: string; timestamp: string }) =>
  `{"type":"track","messageId":"m1","event":"Order","userId":"u3","properties":{"n":${n}},"originalTimestamp":"${ts}","receivedAt":"${delivery.receivedAt}","sentAt":"${delivery.sentAt}","timestamp":"${delivery.timestamp}"}`;
const first = { receivedAt: '2024-03-01T09:00:01.000Z', sentAt: '2024-03-01T09:00:00.500Z', timestamp: '2024-03-01T09:00:00.500Z' };
const retried = { receivedAt: '2024-03-01T09:05:00.000Z', sentAt: '2024-03-01T09:04:59.000Z', timestamp: '2024-03-01T09:00:01.000Z' };
const segmentCorpus = [
  `{"type":"identify","messageId":"m0","userId":"u1","anonymousId":"a1","traits":{"constructor":"c","toString":"t","hasOwnProperty":"h","__proto__":{"x":1}},"timestamp":"${ts}"}`,
  `{"type":"track","messageId":"m2","event":"constructor","userId":"u2","timestamp":"${ts}"}`,
  order(1, first),
  order(2, first),
  order(1, retried),
  `{"type":"track","messageId":"m4","event":"Deep","userId":"u4","properties":${nestedJson(100_000)},"timestamp":"${ts}"}`,
  `{"type":"track","messageId":"m5","event":"Long","userId":"${'u'.repeat(201)}","timestamp":"${ts}"}`,
  `{"type":"track","messageId":"m6","event":"Far","userId":"u6","timestamp":1e20}`,
].join('\n');

test('Segment bad input: each message is an event, a drop or a reject with its code and line; messageId collisions stay apart, redeliveries collapse', async () => {
  const segment = make(segmentSource, 'segment');
  const { verdicts, counts } = await transformVerdicts(segment, [{ name: 'a.gz', data: segmentCorpus }], { chunk: 'a' });
  assert.deepEqual(verdicts.map(verdictBrief), [
    [1, 'events', '$identify'],
    [2, 'events', 'constructor'],
    [3, 'events', 'Order'],
    [4, 'events', 'Order'],
    [5, 'drop', 'duplicate_message'],
    [6, 'reject', 'too_deep'],
    [7, 'reject', 'distinct_id_too_long'],
    [8, 'reject', 'bad_timestamp'],
  ]);
  assert.deepEqual(counts, { in: 8, out: 4, rejected: 3, dropped: 1 });
  const set = eventsOf(verdicts[0])[0]!.$set;
  assert.deepEqual(Object.keys(set).sort(), ['__proto__', 'constructor', 'hasOwnProperty', 'toString']);
  const [one, two] = [eventsOf(verdicts[2])[0]!, eventsOf(verdicts[3])[0]!];
  assert.notEqual(one.uuid, two.uuid, 'two different messages sharing a messageId are two events');
  assert.deepEqual([one.properties.n, two.properties.n], [1, 2]);
  // The redelivery alone, in another chunk: the same uuid, so PostHog collapses it with the first.
  const other = await transformVerdicts(segment, [{ name: 'b.gz', data: order(1, retried) }], { chunk: 'b' });
  assert.equal(eventsOf(other.verdicts[0])[0]!.uuid, one.uuid);
});

test('GA4 bad input: prototype-named params are properties, a 20-digit event_timestamp is a reject, and the file completes', async () => {
  const row = (more: string) => `{"event_name":"purchase","event_timestamp":"1709283600000000","user_pseudo_id":"p1",${more}"stream_id":"7"}`;
  const corpus = [
    row(''),
    row('"event_params":[{"key":"constructor","value":{"string_value":"c"}},{"key":"__proto__","value":{"int_value":"7"}},{"key":"toString","value":{"double_value":1.5}}],'),
    `{"event_name":"constructor","event_timestamp":"1709283600000001","user_pseudo_id":"p2"}`,
    `{"event_name":"purchase","event_timestamp":"12345678901234567890","user_pseudo_id":"p3"}`,
    `{"event_name":"purchase","event_timestamp":1e20,"user_pseudo_id":"p3"}`,
    row(`"items":${nestedJson(100_000)},`),
    `{"event_name":"purchase","event_timestamp":"1709283600000002","user_pseudo_id":"${'p'.repeat(201)}"}`,
    row('"device":{"category":"constructor"},'),
  ].join('\n');
  const { verdicts, counts } = await transformVerdicts(make(ga4Source, 'ga4'), [{ name: 'events_20240301.json', data: corpus }]);
  assert.deepEqual(verdicts.map(verdictBrief), [
    [1, 'events', 'purchase'],
    [2, 'events', 'purchase'],
    [3, 'events', 'constructor'],
    [4, 'reject', 'bad_timestamp'],
    [5, 'reject', 'bad_timestamp'],
    [6, 'reject', 'too_deep'],
    [7, 'reject', 'distinct_id_too_long'],
    [8, 'events', 'purchase'],
  ]);
  assert.deepEqual(counts, { in: 8, out: 4, rejected: 4, dropped: 0 });
  const props = eventsOf(verdicts[1])[0]!.properties;
  assert.deepEqual([props.constructor, props.__proto__, props.toString], ['c', 7, 1.5]);
  assert.ok(!Object.keys(props).some((k) => k.includes('function')), 'no property named after a function\'s source text');
  assert.equal(eventsOf(verdicts[7])[0]!.properties.$device_type, undefined);
});

test('Heap: the table is told once, from the chunk, so a location named heap-users-export plans and maps its events as events', async () => {
  const root = path.join(await mkdtemp(path.join(tmpdir(), 'hogport-heap-')), 'heap-users-export');
  await mkdir(path.join(root, 'events'), { recursive: true });
  await mkdir(path.join(root, 'users'), { recursive: true });
  const events = [
    `{"event_id":"e1","user_id":"1","time":"2024-03-01T09:00:00Z","event_table_name":"pageviews","path":"/"}`,
    `{"event_id":"e2","user_id":"2","time":"2024-03-01T09:00:00Z","event_table_name":"constructor","__proto__":"p","toString":"t"}`,
    `{"event_id":"e3","user_id":"3","time":1e20,"event_table_name":"pageviews"}`,
    `{"event_id":"e4","user_id":"4","time":"2024-03-01T09:00:00Z","event_table_name":"deep","nest":${nestedJson(100_000)}}`,
    `{"event_id":"e5","user_id":"${'9'.repeat(201)}","time":"2024-03-01T09:00:00Z","event_table_name":"pageviews"}`,
  ].join('\n');
  const users = `{"user_id":"1","identity":"ada@example.com","last_modified":"2024-03-02T00:00:00Z","constructor":"c","__proto__":"p"}`;
  await writeFile(path.join(root, 'events', 'pageviews.json'), events);
  await writeFile(path.join(root, 'users', 'users.json'), users);
  const heap = make(heapSource, 'heap', root);
  const planned = await heap.plan();
  assert.deepEqual(planned.map((c) => [c.id, c.loadLast ?? false]), [['events~pageviews.json', false], ['users~users.json', true]]);

  const ev = await transformVerdicts(heap, [{ name: 'pageviews.json', data: events }], { chunk: 'events~pageviews.json' });
  assert.deepEqual(ev.verdicts.map(verdictBrief), [
    [1, 'events', '$pageview'],
    [2, 'events', 'constructor'],
    [3, 'reject', 'bad_timestamp'],
    [4, 'reject', 'too_deep'],
    [5, 'reject', 'distinct_id_too_long'],
  ]);
  assert.deepEqual(ev.counts, { in: 5, out: 2, rejected: 3, dropped: 0 });
  const props = eventsOf(ev.verdicts[1])[0]!.properties;
  assert.deepEqual([props.__proto__, props.toString], ['p', 't']);

  const us = await transformVerdicts(heap, [{ name: 'users.json', data: users }], { chunk: 'users~users.json' });
  const person = eventsOf(us.verdicts[0])[0]!;
  assert.equal(person.event, '$set');
  assert.deepEqual(Object.keys(person.properties.$set).sort(), ['__proto__', 'constructor']);
});
