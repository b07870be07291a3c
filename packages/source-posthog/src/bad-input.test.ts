import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import { openStore } from '@hogport/store';
import { nestedJson, transformVerdicts, verdictBrief, type Verdict } from '@hogport/testkit';
import { posthogFilesSource } from './index.js';

const source = () => posthogFilesSource({ options: { type: 'posthog-files', location: tmpdir() }, baseDir: tmpdir(), openStore: (uri) => openStore(uri), log: silentLogger });
const ts = '2024-03-01T09:00:00.000Z';

const corpus = [
  `{"event":"signed up","distinct_id":"u1","timestamp":"${ts}"}`,
  `{"event":"viewed","distinct_id":"u2","timestamp":"${ts}","properties":{"__proto__":{"admin":true},"constructor":"c"},"$set":{"toString":"t","hasOwnProperty":"h","__proto__":"p"}}`,
  `{"event":"viewed","distinct_id":"u2","timestamp":"${ts}","properties":{"constructor":"c"},"$set":{"toString":"t","hasOwnProperty":"h"}}`,
  `{"event":"constructor","distinct_id":"u3","timestamp":"${ts}"}`,
  `{"event":"far","distinct_id":"u4","timestamp":1e20}`,
  `{"event":"far","distinct_id":"u4","timestamp":"+275760-09-13T00:00:00.001Z"}`,
  `{"event":"deep","distinct_id":"u5","timestamp":"${ts}","properties":${nestedJson(100_000)}}`,
  `{"event":"long","distinct_id":"${'é'.repeat(201)}","timestamp":"${ts}"}`,
  `{"event":"signed up","distinct_id":"u6","timestamp":"${ts}"}`,
].join('\n');

test('PostHog-format bad input: each record is an event or a reject with its code and line, the counts add up, and the file completes', async () => {
  const { verdicts, counts } = await transformVerdicts(source(), [{ name: 'export.jsonl', data: corpus }]);
  assert.deepEqual(verdicts.map(verdictBrief), [
    [1, 'events', 'signed up'],
    [2, 'events', 'viewed'],
    [3, 'events', 'viewed'],
    [4, 'events', 'constructor'],
    [5, 'reject', 'invalid_event'],
    [6, 'reject', 'bad_timestamp'],
    [7, 'reject', 'too_deep'],
    [8, 'reject', 'distinct_id_too_long'],
    [9, 'events', 'signed up'],
  ]);
  assert.deepEqual(counts, { in: 9, out: 5, rejected: 4, dropped: 0 });
  const [withProto, without] = [verdicts[1], verdicts[2]].map((v) => (v as Extract<Verdict, { kind: 'events' }>).events[0]!);
  assert.deepEqual(withProto!.properties.__proto__, { admin: true }, '__proto__ is sent as an ordinary property');
  assert.equal(withProto!.$set.__proto__, 'p');
  assert.deepEqual(Object.keys(withProto!.$set).sort(), ['__proto__', 'hasOwnProperty', 'toString']);
  assert.notEqual(withProto!.uuid, without!.uuid, 'records differing only in a __proto__ key get different content uuids');
});
