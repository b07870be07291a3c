import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import { openStore } from '@hogport/store';
import { nestedJson, transformVerdicts, verdictBrief, type Verdict } from '@hogport/testkit';
import { mixpanelSource } from './index.js';

const source = (more: Record<string, unknown> = {}) => mixpanelSource({ options: { type: 'mixpanel', start: '2024-03-01', end: '2024-03-02', ...more }, baseDir: tmpdir(), openStore: (uri) => openStore(uri), log: silentLogger });
const t = 1_709_283_600;

const corpus = [
  `{"event":"Signed Up","properties":{"time":${t},"distinct_id":"u1","$insert_id":"i1"}}`,
  `{"event":"Viewed","properties":{"time":${t},"distinct_id":"u2","$insert_id":"i2","constructor":"c","toString":"t","hasOwnProperty":"h","__proto__":{"x":1}}}`,
  `{"event":"constructor","properties":{"time":${t},"distinct_id":"u3","$insert_id":"i3"}}`,
  `{"event":"Far","properties":{"time":1e20,"distinct_id":"u4","$insert_id":"i4"}}`,
  `{"event":"Far in ms","properties":{"time":"99999999999999999999","distinct_id":"u5","$insert_id":"i5"}}`,
  `{"event":"Deep","properties":{"time":${t},"distinct_id":"u6","nest":${nestedJson(100_000)}}}`,
  `{"event":"Long","properties":{"time":${t},"distinct_id":"${'x'.repeat(201)}","$insert_id":"i7"}}`,
  `{"event":"Signed Up","properties":{"time":${t},"distinct_id":"u8","$insert_id":"i8"}}`,
].join('\n');

test('Mixpanel bad input: each record is an event or a reject with its code and line, the counts add up, and the day completes', async () => {
  for (const timezone of [undefined, 'America/Los_Angeles']) {
    const { verdicts, counts } = await transformVerdicts(source(timezone ? { timezone } : {}), [{ name: 'export-2024-03-01.jsonl', data: corpus }], { chunk: '2024-03-01' });
    assert.deepEqual(verdicts.map(verdictBrief), [
      [1, 'events', 'Signed Up'],
      [2, 'events', 'Viewed'],
      [3, 'events', 'constructor'],
      [4, 'reject', 'bad_time'],
      [5, 'reject', 'bad_time'],
      [6, 'reject', 'too_deep'],
      [7, 'reject', 'distinct_id_too_long'],
      [8, 'events', 'Signed Up'],
    ], `zone ${timezone}`);
    assert.deepEqual(counts, { in: 8, out: 4, rejected: 4, dropped: 0 });
    const props = (verdicts[1] as Extract<Verdict, { kind: 'events' }>).events[0]!.properties;
    assert.deepEqual([props.constructor, props.toString, props.hasOwnProperty, props.__proto__], ['c', 't', 'h', { x: 1 }]);
    assert.ok(Object.hasOwn(props, '__proto__'));
  }
});

test('Mixpanel profiles with prototype-named properties keep every one of them in the person record', async () => {
  const page = `{"results":[{"$distinct_id":"p1","$properties":{"$last_seen":"2024-03-01T10:00:00","constructor":"c","__proto__":"proto","$email":"a@b.c"}},{"$distinct_id":"${'p'.repeat(300)}","$properties":{}},{"$distinct_id":"p3","$properties":{"deep":${nestedJson(100_000)}}}]}`;
  const { verdicts, counts } = await transformVerdicts(source({ profiles: true }), [{ name: 'engage-000001.json', data: page }], { chunk: 'profiles' });
  assert.deepEqual(verdicts.map(verdictBrief), [[1, 'person', 'p1'], [2, 'reject', 'distinct_id_too_long'], [3, 'reject', 'too_deep']]);
  assert.deepEqual(counts, { in: 3, out: 1, rejected: 2, dropped: 0 });
  const set = (verdicts[0] as Extract<Verdict, { kind: 'person' }>).person.set!;
  assert.deepEqual(Object.keys(set).sort(), ['__proto__', 'constructor', 'email']);
});

test('Mixpanel repeats: an $insert_id seen again is a duplicate_insert_id, a record identical to another without one a duplicate_record', async () => {
  const plain = `{"event":"Viewed","properties":{"time":${t},"distinct_id":"u1","page":"a"}}`;
  const lines = [
    `{"event":"Signed Up","properties":{"time":${t},"distinct_id":"u1","$insert_id":"i1"}}`,
    `{"event":"Signed Up","properties":{"time":${t},"distinct_id":"u1","$insert_id":"i1","mp_processing_time_ms":5}}`,
    plain,
    plain,
    `{"event":"Viewed","properties":{"time":${t},"distinct_id":"u1","page":"b"}}`,
    `{"event":"$identify","properties":{"time":${t},"distinct_id":"u1","$identified_id":"u1","$anon_distinct_id":"A-1"}}`,
    `{"event":"$identify","properties":{"time":${t},"distinct_id":"u1","$identified_id":"u1","$anon_distinct_id":"A-1"}}`,
    `{"event":"$identify","properties":{"time":${t},"distinct_id":"u1","$identified_id":"u1","$anon_distinct_id":"anonymous"}}`,
  ].join('\n');
  const { verdicts, counts } = await transformVerdicts(source(), [{ name: 'export-2024-03-01.jsonl', data: lines }], { chunk: '2024-03-01' });
  assert.deepEqual(verdicts.map(verdictBrief), [
    [1, 'events', 'Signed Up'], [2, 'drop', 'duplicate_insert_id'], [3, 'events', 'Viewed'], [4, 'drop', 'duplicate_record'], [5, 'events', 'Viewed'],
    // Mixpanel's repeated identify calls are links, each folded by the merge into one; one from an id PostHog refuses is dropped.
    [6, 'events', ''], [7, 'events', ''], [8, 'drop', 'non_mergeable_id_link'],
  ]);
  assert.deepEqual(counts, { in: 8, out: 5, rejected: 0, dropped: 3 });
  assert.deepEqual((verdicts[5] as Extract<Verdict, { kind: 'events' }>).links.map((l) => [l.user, l.anon, l.recorded]), [['u1', 'A-1', true]]);
});

test('Mixpanel events on an id PostHog refuses to merge are kept and counted, or rejected with the reason under nonMergeableIds: reject', async () => {
  const lines = [
    `{"event":"Viewed","properties":{"time":${t},"distinct_id":"anonymous","$insert_id":"n1"}}`,
    `{"event":"Viewed","properties":{"time":${t},"distinct_id":"u1","$insert_id":"n2"}}`,
  ].join('\n');
  const kept = await transformVerdicts(source(), [{ name: 'export-2024-03-01.jsonl', data: lines }], { chunk: '2024-03-01' });
  assert.deepEqual(kept.verdicts.map((v) => [verdictBrief(v), v.kind === 'events' ? v.changed : undefined]), [[[1, 'events', 'Viewed'], ['non_mergeable_distinct_id']], [[2, 'events', 'Viewed'], []]]);
  const rejected = await transformVerdicts(source(), [{ name: 'export-2024-03-01.jsonl', data: lines }], { chunk: '2024-03-01', transform: { nonMergeableIds: 'reject' } });
  assert.deepEqual(rejected.verdicts.map(verdictBrief), [[1, 'reject', 'non_mergeable_distinct_id'], [2, 'events', 'Viewed']]);
  assert.deepEqual(rejected.counts, { in: 2, out: 1, rejected: 1, dropped: 0 });
});

test('a Mixpanel profile with a number a double cannot hold keeps every digit in its person record, counted as number_as_text', async () => {
  const page = '{"results":[{"$distinct_id":"p1","$properties":{"account":12345678901234567890}},{"$distinct_id":"p2","$properties":{"n":1}}]}';
  const { verdicts } = await transformVerdicts(source({ profiles: true }), [{ name: 'engage-000001.json', data: page }], { chunk: 'profiles' });
  const [big, small] = verdicts as Array<Extract<Verdict, { kind: 'person' }>>;
  assert.equal(String(big!.person.set!.account), '12345678901234567890');
  assert.deepEqual([big!.changed, small!.changed], [['number_as_text'], []]);
});
