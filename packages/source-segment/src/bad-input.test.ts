import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import type { SourceFactory } from '@hogport/pipeline';
import { openStore } from '@hogport/store';
import { nestedJson, transformVerdicts, verdictBrief, type Verdict } from '@hogport/testkit';
import { segmentSource } from './index.js';

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
