import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import { openStore } from '@hogport/store';
import { nestedJson, transformVerdicts, verdictBrief, type Verdict } from '@hogport/testkit';
import { amplitudeSource } from './index.js';

const source = () => amplitudeSource({ options: { type: 'amplitude', mode: 'files', location: tmpdir(), requireComplete: false }, baseDir: tmpdir(), openStore: (uri) => openStore(uri), log: silentLogger });
const at = '2024-03-01 09:00:00.000000';
const long = 'u'.repeat(201);

/** One record per line, written as text: some cannot be written by JSON.stringify (a `__proto__` key, 100,000 levels). */
const corpus = [
  `{"$insert_id":"i1","event_type":"Signed Up","user_id":"u1","device_id":"d1","event_time":"${at}","user_properties":{"plan":"pro"}}`,
  `{"$insert_id":"i2","event_type":"Viewed","user_id":"u2","event_time":"${at}","event_properties":{"constructor":1,"__proto__":"p"},"user_properties":{"constructor":"c","toString":"t","hasOwnProperty":"h","__proto__":{"x":1},"initial_referrer":"r"}}`,
  `{"$insert_id":"i3","event_type":"constructor","user_id":"u3","event_time":"${at}"}`,
  `{"$insert_id":"i4","event_type":"toString","user_id":"u4","event_time":"${at}","groups":{"constructor":"acme"},"group_properties":{"constructor":{"name":"Acme"},"toString":{"a":1}}}`,
  `{"event_type":"Deep","user_id":"u5","event_time":"${at}","event_properties":${nestedJson(100_000)}}`,
  `{"$insert_id":"i6","event_type":"Far","user_id":"u6","event_time":1e20}`,
  `{"$insert_id":"i7","event_type":"Long","user_id":"${long}","device_id":"d7","event_time":"${at}"}`,
  `{"$insert_id":"i8","event_type":"Signed Up","user_id":"u8","event_time":"${at}"}`,
  `{"$insert_id":"i9","event_type":"Linked","user_id":"u9","device_id":"${'d'.repeat(300)}","event_time":"${at}"}`,
  `{"$insert_id":"i10","event_type":"Bad Props","user_id":"u10","event_time":"${at}","event_properties":"plan=pro"}`,
  `{"$insert_id":"i11","event_type":"Bad Bags","user_id":"u11","event_time":"${at}","user_properties":["pro"],"groups":"acme","group_properties":[1]}`,
].join('\n');
const file = { name: '187520_2024-03-01_9#0.json', data: corpus };

test('Amplitude bad input: each record is an event or a reject with its code and line, the counts add up, and the chunk completes', async () => {
  const { verdicts, counts } = await transformVerdicts(source(), [file]);
  assert.deepEqual(verdicts.map(verdictBrief), [
    [1, 'events', 'Signed Up'],
    [2, 'events', 'Viewed'],
    [3, 'events', 'constructor'],
    [4, 'events', 'toString,$groupidentify'],
    [5, 'reject', 'too_deep'],
    [6, 'reject', 'bad_timestamp'],
    [7, 'reject', 'distinct_id_too_long'],
    [8, 'events', 'Signed Up'],
    [9, 'events', 'Linked'],
    [10, 'reject', 'bad_properties'],
    [11, 'events', 'Bad Bags'],
  ]);
  assert.deepEqual(counts, { in: 11, out: 7, rejected: 4, dropped: 0 });
  const [first] = verdicts as Array<Extract<Verdict, { kind: 'events' }>>;
  assert.deepEqual(first!.links, [{ user: 'u1', anon: 'd1', at: '2024-03-01T09:00:00.000000Z', props: { $amplitude_user_id: 'u1', $amplitude_device_id: 'd1' } }]);
  const linked = verdicts[8] as Extract<Verdict, { kind: 'events' }>;
  assert.deepEqual([linked.links, linked.changed], [[], ['identity_link_refused']], 'the event is sent; its link to a device id capture would cut is left out, counted');
  const [, protoKeys, , groups] = verdicts as Array<Extract<Verdict, { kind: 'events' }>>;
  const e2 = protoKeys!.events[0]!;
  assert.deepEqual(Object.keys(e2.$set).sort(), ['__proto__', 'constructor', 'hasOwnProperty', 'toString'], 'user property names from Object.prototype are ordinary properties');
  assert.deepEqual(e2.$set.__proto__, { x: 1 });
  assert.deepEqual(e2.$set_once, { $initial_referrer: 'r' });
  assert.equal(e2.properties.__proto__, 'p');
  assert.equal(e2.properties.constructor, 1);
  const [toString, group] = groups!.events;
  assert.deepEqual(toString!.properties.$groups, { constructor: 'acme' });
  assert.deepEqual([group!.properties.$group_type, group!.properties.$group_key, group!.properties.$group_set], ['constructor', 'acme', { name: 'Acme' }]);
  assert.equal(groups!.events.length, 2, 'a group type named toString the record does not have makes no group event');
  const reasons = verdicts.filter((v): v is Extract<Verdict, { kind: 'reject' }> => v.kind === 'reject').map((v) => v.reason);
  assert.match(reasons[2]!, /201 characters.*first 200/);
  assert.match(reasons[3]!, /event_properties is a string/);
  const bags = verdicts[10] as Extract<Verdict, { kind: 'events' }>;
  assert.deepEqual(bags.changed, ['amplitude_user_properties_not_object', 'amplitude_groups_not_object', 'amplitude_group_properties_not_object'], 'the event is sent without the bags it could not read, each counted');
  assert.deepEqual([bags.events.length, bags.events[0]!.$set, bags.events[0]!.properties.$groups], [1, undefined, undefined]);
});

test('Amplitude: with longDistinctIds: truncate a 201-character user_id is sent as its first 200, counted as changed', async () => {
  const { verdicts, counts } = await transformVerdicts(source(), [file], { transform: { longDistinctIds: 'truncate' } });
  const seventh = verdicts[6]!;
  assert.ok(seventh.kind === 'events');
  assert.equal(seventh.events[0]!.distinct_id, 'u'.repeat(200));
  assert.deepEqual(seventh.changed, ['distinct_id_truncated']);
  assert.deepEqual(counts, { in: 11, out: 8, rejected: 3, dropped: 0 });
  const linked = verdicts[8] as Extract<Verdict, { kind: 'events' }>;
  assert.deepEqual([linked.links, linked.changed], [[{ user: 'u9', anon: 'd'.repeat(200), at: '2024-03-01T09:00:00.000000Z', props: { $amplitude_user_id: 'u9', $amplitude_device_id: 'd'.repeat(300) } }], ['distinct_id_truncated']]);
});

test('a group without properties is created by one $groupidentify per chunk, with the first record naming it; a group with properties by every record carrying them', async () => {
  const lines = [
    `{"$insert_id":"g1","event_type":"A","user_id":"u1","event_time":"${at}","groups":{"company":"acme"}}`,
    `{"$insert_id":"g2","event_type":"B","user_id":"u2","event_time":"${at}","groups":{"company":["acme","globex"]}}`,
    `{"$insert_id":"g3","event_type":"C","user_id":"u3","event_time":"${at}","groups":{"company":"acme"},"group_properties":{"company":{"acme":{"plan":"pro"}}}}`,
    `{"$insert_id":"g4","event_type":"D","user_id":"u4","event_time":"${at}","groups":{"company":"acme"},"group_properties":{"company":{"acme":{"plan":"pro"}}}}`,
  ];
  const run = async () => (await transformVerdicts(source(), [{ name: '187520_2024-03-01_9#0.json', data: lines.join('\n') }])).verdicts;
  const verdicts = await run();
  const groupsOf = (v: Verdict | undefined) => { assert.ok(v?.kind === 'events'); return v.events.filter((e) => e.event === '$groupidentify').map((e) => `${e.properties.$group_key}:${JSON.stringify(e.properties.$group_set)}`); };
  assert.deepEqual(verdicts.map(groupsOf), [['acme:{}'], ['globex:{}'], ['acme:{"plan":"pro"}'], ['acme:{"plan":"pro"}']]);
  assert.deepEqual((await run()).map((v) => (v.kind === 'events' ? v.events.map((e) => e.uuid) : [])), verdicts.map((v) => (v.kind === 'events' ? v.events.map((e) => e.uuid) : [])), 'the same events on every run');
});
