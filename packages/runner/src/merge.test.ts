import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { HOGPORT_VERSION, readAll, sha256, silentLogger, timeKey } from '@hogport/common';
import { layout as makeLayout } from '@hogport/layout';
import { encodeControl, Manifest, MergePart, readControl } from '@hogport/manifest';
import { TransformSpec, type PostHogEvent } from '@hogport/pipeline';
import { openStore, type Store } from '@hogport/store';
import { seeded } from '@hogport/testkit';
import { finishRecord, type Link } from '@hogport/event';
import { mergeIdentities, PERSONS_CHUNK } from './index.js';
import { IdentityFacts } from './stages/summary.js';

const layout = makeLayout('merge-test');
const spec = TransformSpec.parse({});

/** Events of a few users moving between devices, with person properties changing over time. */
function history(seed: number, n: number): Array<{ e: PostHogEvent; pair?: [string, string] }> {
  const rand = seeded(seed);
  return Array.from({ length: n }, (_, i) => {
    const user = `u${Math.floor(rand() * 5)}`;
    const device = `d${Math.floor(rand() * 8)}`;
    const t = new Date(Date.UTC(2024, 0, 1) + Math.floor(rand() * 86_400_000)).toISOString();
    const e: PostHogEvent = { uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, event: 'e', distinct_id: user, timestamp: t, properties: {}, $set: { plan: `p${i % 3}`, n: i }, $set_once: { first: `f${i}` } };
    return { e, pair: [user, device] };
  });
}

function fold(items: ReturnType<typeof history>): IdentityFacts {
  const f = new IdentityFacts();
  for (const { e, pair } of items) { f.addEvent(e); if (pair) f.addPair(pair[0], pair[1], e.timestamp); }
  return f;
}

test('folds to the same identities and person values whatever the chunking and order', () => {
  const all = history(1, 400);
  const whole = [...fold(all).lines()];
  const rand = seeded(2);
  const shuffled = [...all].sort(() => rand() - 0.5);
  const merged = new IdentityFacts();
  for (let i = 0; i < shuffled.length; i += 37) for (const line of fold(shuffled.slice(i, i + 37)).lines()) merged.addLine(line);
  assert.deepEqual([...merged.lines()], whole);
  const facts = fold(all);
  const latest = all.filter((x) => x.e.distinct_id === 'u1').sort((a, b) => (a.e.timestamp < b.e.timestamp ? -1 : 1)).at(-1)!.e;
  assert.deepEqual(facts.persons.get('u1')!.set.get('plan'), [timeKey(latest.timestamp), latest.$set!.plan]);
});

test('person values held with millisecond times fold in time order with microsecond ones, whichever comes first', () => {
  // 12:00:00.500Z is after 12:00:00.400900Z, though as text it sorts before it.
  const line = (at: string, plan: string) => JSON.stringify({ person: 'u', facts: { last: at, set: { plan: [at, plan] }, once: { first: [at, plan] } } });
  for (const order of [[0, 1], [1, 0]]) {
    const f = new IdentityFacts();
    const lines = [line('2024-01-01T12:00:00.500Z', 'later'), line('2024-01-01T12:00:00.400900Z', 'earlier')];
    for (const i of order) f.addLine(lines[i]!);
    const p = f.persons.get('u')!;
    assert.deepEqual([p.set.get('plan')![1], p.once.get('first')![1], p.last], ['later', 'earlier', '2024-01-01T12:00:00.500Z']);
  }
});

async function stageSummary(store: Store, chunk: string, items: ReturnType<typeof history>): Promise<void> {
  await stageFacts(store, chunk, fold(items));
}

/** Writes a chunk's summary and transform manifest as the transform stage commits them. */
async function stageFacts(store: Store, chunk: string, facts: IdentityFacts): Promise<void> {
  const content = Buffer.from([...facts.lines()].join('\n') + '\n');
  const body = gzipSync(content);
  const key = layout.summary(chunk, 'a0');
  await store.write(key, body);
  const now = new Date().toISOString();
  await store.write(layout.manifest('transform', chunk), encodeControl(Manifest, {
    kind: 'hogport.manifest', version: 1, stage: 'transform', migration: layout.migration, chunk, attempt: 'a0', attemptNumber: 1, worker: 'w',
    hogportVersion: HOGPORT_VERSION, configHash: 'c', inputDigest: 'd', inputs: [], outputs: [{ key, role: 'summary', bytes: body.length, sha256: sha256(body), contentSha256: sha256(content) }],
    counts: { unit: 'records', in: 0, out: 0, rejected: 0, dropped: 0, droppedBy: {} }, bytes: { in: 0, out: 0 }, startedAt: now, finishedAt: now, durationMs: 0, stats: {},
  }));
}

async function eventsOf(store: Store, chunk: string): Promise<Array<Record<string, any>>> {
  const m = (await readControl(store, layout.manifest('transform', chunk), Manifest))!.value;
  const text = gunzipSync(await readAll(await store.read(m.outputs[0]!.key))).toString('utf8');
  return text.trim().split('\n').map((l) => JSON.parse(l));
}

const merge = (store: Store, chunks: string[]) => mergeIdentities({ store, layout, chunks, transform: spec, worker: 'w', log: silentLogger });

test('merges every chunk\'s summary into one $identify per pair and one $set per person, adding only new pairs later', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-merge-')));
  const all = history(3, 300);
  await stageSummary(store, 'c1', all.slice(0, 100));
  await stageSummary(store, 'c2', all.slice(100, 200));
  assert.deepEqual((await merge(store, ['c1', 'c2', 'c3'])).waiting, ['c3'], 'nothing merges while a chunk is not transformed');
  await stageSummary(store, 'c3', all.slice(200, 250));

  const [a, b] = await Promise.all([merge(store, ['c1', 'c2', 'c3']), merge(store, ['c1', 'c2', 'c3'])]);
  assert.deepEqual(a.identities, ['~identities-0001']);
  assert.deepEqual(b.identities, ['~identities-0001'], 'two merges at once commit one identities chunk');
  const first = await eventsOf(store, '~identities-0001');
  const pairs = first.map((e) => `${e.distinct_id}/${e.properties.$anon_distinct_id}`);
  assert.equal(new Set(pairs).size, pairs.length);
  assert.equal(pairs.length, fold(all.slice(0, 250)).pairs.size);
  assert.ok(first.every((e) => e.event === '$identify' && e.properties.$hogport_chunk === '~identities-0001'));
  const persons = await eventsOf(store, PERSONS_CHUNK);
  assert.equal(persons.length, 5);
  // Derived chunks count their events per day and name like any transformed chunk, for the report.
  const idm = (await readControl(store, layout.manifest('transform', '~identities-0001'), Manifest))!.value;
  const days: Record<string, number> = {};
  for (const e of first) days[e.timestamp.slice(0, 10)] = (days[e.timestamp.slice(0, 10)] ?? 0) + 1;
  assert.deepEqual([idm.eventDays, idm.eventNames], [days, { $identify: first.length }]);
  assert.deepEqual((await readControl(store, layout.manifest('transform', PERSONS_CHUNK), Manifest))!.value.eventNames, { $set: 5 });

  assert.deepEqual((await merge(store, ['c1', 'c2', 'c3'])).identities, ['~identities-0001'], 'a re-run with nothing new adds nothing');
  await stageSummary(store, 'c4', [...all.slice(250), { e: { ...all[0]!.e, uuid: '00000000-0000-4000-8000-999999999999', timestamp: '2025-01-01T00:00:00.000Z' }, pair: ['u9', 'd99'] }]);
  const later = await merge(store, ['c1', 'c2', 'c3', 'c4']);
  const added = await eventsOf(store, later.identities.at(-1)!);
  assert.ok(later.identities.length === 2 && added.some((e) => e.distinct_id === 'u9'));
  assert.ok(added.every((e) => !pairs.includes(`${e.distinct_id}/${e.properties.$anon_distinct_id}`)), 'known pairs are not sent again');
  const u0 = (await eventsOf(store, PERSONS_CHUNK)).find((e) => e.distinct_id === all[0]!.e.distinct_id)!;
  assert.equal(u0.timestamp, '2025-01-01T00:00:00.000Z', 'persons move to the latest values');
});

test('person properties named after Object.prototype members fold across chunks and reach the final $set like any other', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-merge-proto-')));
  const ev = (i: number, set: string, t: string): { e: PostHogEvent } => ({
    e: { uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, event: 'e', distinct_id: 'ada', timestamp: t, properties: {}, $set: JSON.parse(set) as Record<string, unknown> },
  });
  await stageSummary(store, 'c1', [ev(1, '{"constructor":"old","toString":"t","__proto__":{"x":1}}', '2024-01-01T00:00:00.000Z')]);
  await stageSummary(store, 'c2', [ev(2, '{"constructor":"new","hasOwnProperty":"h"}', '2024-01-02T00:00:00.000Z')]);
  await merge(store, ['c1', 'c2']);
  const [person] = await eventsOf(store, PERSONS_CHUNK);
  assert.deepEqual(person!.properties.$set, JSON.parse('{"__proto__":{"x":1},"constructor":"new","hasOwnProperty":"h","toString":"t"}'));
  assert.ok(Object.hasOwn(person!.properties.$set, '__proto__'));
});

test('with longDistinctIds: truncate the merge sends ids as capture keeps them; by default it leaves out, and counts, what capture would refuse', async () => {
  const long = 'l'.repeat(250);
  for (const mode of ['reject', 'truncate'] as const) {
    const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-merge-long-')));
    const e: PostHogEvent = { uuid: '00000000-0000-4000-8000-000000000001', event: 'e', distinct_id: long, timestamp: '2024-01-01T00:00:00.000Z', properties: {}, $set: { plan: 'pro' } };
    await stageSummary(store, 'c1', [{ e, pair: [long, 'device-1'] }]);
    await mergeIdentities({ store, layout, chunks: ['c1'], transform: TransformSpec.parse({ longDistinctIds: mode }), worker: 'w', log: silentLogger });
    const m = (await readControl(store, layout.manifest('transform', PERSONS_CHUNK), Manifest))!.value;
    if (mode === 'truncate') {
      const [person] = await eventsOf(store, PERSONS_CHUNK);
      assert.equal(person!.distinct_id, long.slice(0, 200));
      const [identify] = await eventsOf(store, '~identities-0001');
      assert.equal(identify!.distinct_id, long.slice(0, 200));
      assert.equal(m.counts.dropped, 0);
    } else {
      assert.deepEqual([m.counts.in, m.counts.out, m.counts.dropped, m.counts.droppedBy], [1, 0, 1, { distinct_id_too_long: 1 }]);
      const again = await mergeIdentities({ store, layout, chunks: ['c1'], transform: TransformSpec.parse({ longDistinctIds: mode }), worker: 'w', log: silentLogger });
      assert.deepEqual(again.identities, [], 'a pair capture would refuse makes no identities chunk, however often the merge runs');
    }
  }
});

const T0 = '2024-01-01T00:00:00.000Z';
const T1 = '2024-01-02T00:00:00.000Z';
const finishCtx = { migration: 'merge-test', chunk: 'c', transform: spec, hogportVersion: HOGPORT_VERSION };
/** A chunk's facts as the transform stage folds them: each record's events and links through the finish step. */
function facts(records: Array<{ events?: PostHogEvent[]; links?: Link[] }>): IdentityFacts {
  const f = new IdentityFacts();
  for (const r of records) {
    const done = finishRecord(r.events ?? [], r.links, finishCtx);
    assert.ok(!('code' in done));
    for (const e of r.events ?? []) f.addEvent(e);
    for (const l of done.links) f.addLink(l);
  }
  return f;
}
const event = (distinct_id: string, timestamp = T0): PostHogEvent => ({ uuid: '00000000-0000-4000-8000-000000000001', event: 'e', distinct_id, timestamp, properties: {} });
const identityLinks = async (store: Store, chunks: string[]) => (await Promise.all(chunks.map((c) => eventsOf(store, c)))).flat()
  .map((e) => [e.event, e.distinct_id, e.event === '$create_alias' ? e.properties.alias : e.properties.$anon_distinct_id, e.timestamp] as const);

test('a pair both aliased and identified is linked once, as PostHog\'s $create_alias with alias, at its first sighting, carrying the source\'s ids', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-merge-alias-')));
  await stageFacts(store, 'c1', facts([{ links: [{ distinctId: 'u1', anonId: 'a1', at: T1, kind: 'alias', recorded: true, properties: { $mixpanel_alias: 'u1' } }] }]));
  await stageFacts(store, 'c2', facts([{ events: [event('u1')], links: [{ distinctId: 'u1', anonId: 'a1', properties: { $mixpanel_user_id: 'u1', $anon_distinct_id: 'not this' } }, { distinctId: 'u2', anonId: 'a2' }] }]));
  const r = await merge(store, ['c1', 'c2']);
  assert.deepEqual(await identityLinks(store, r.identities), [['$create_alias', 'u1', 'a1', T0], ['$identify', 'u2', 'a2', T0]]);
  const [alias] = await eventsOf(store, r.identities[0]!);
  assert.equal(alias!.properties.$mixpanel_user_id, 'u1', 'the earliest link\'s ids');
  assert.equal(alias!.properties.$anon_distinct_id, undefined, 'a source property never names a link id');
  await stageFacts(store, 'c3', facts([{ links: [{ distinctId: 'u1', anonId: 'a1', at: '2023-01-01T00:00:00.000Z' }] }]));
  assert.deepEqual((await merge(store, ['c1', 'c2', 'c3'])).identities, r.identities, 'a linked alias is known: nothing is sent again');
});

test('an anonymous id with other forms is linked in each form events carried, in its own form when none did', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-merge-forms-')));
  const device = (user: string, id: string): Link => ({ distinctId: user, anonId: id, anonForms: [`$device:${id}`] });
  await stageFacts(store, 'c1', facts([
    { events: [event('$device:d1')] }, { events: [event('d2')] }, { events: [event('$device:d3')] },
    { events: [event('u1', T1)], links: [device('u1', 'd1'), device('u1', 'd2'), device('u1', 'd3'), device('u1', 'd4')] },
  ]));
  await stageFacts(store, 'c2', facts([{ events: [event('d3', T1)] }]));
  const r = await merge(store, ['c1', 'c2']);
  assert.deepEqual((await identityLinks(store, r.identities)).map(([, u, a]) => `${u} ${a}`).sort(), ['u1 $device:d1', 'u1 $device:d3', 'u1 d2', 'u1 d3', 'u1 d4']);
});

test('with identifyEvents: false the merge sends only the links a source recorded; ids PostHog refuses to merge are in no link', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-merge-recorded-')));
  await stageFacts(store, 'c1', facts([
    { events: [event('u1')], links: [{ distinctId: 'u1', anonId: 'd1' }, { distinctId: 'u1', anonId: 'anonymous' }, { distinctId: 'null', anonId: 'd9' }] },
    { links: [{ distinctId: 'u2', anonId: 'a2', at: T0, recorded: true }, { distinctId: 'u3', anonId: '0', at: T0, recorded: true }] },
  ]));
  const off = await mergeIdentities({ store, layout, chunks: ['c1'], transform: TransformSpec.parse({ identifyEvents: false }), worker: 'w', log: silentLogger });
  assert.deepEqual((await identityLinks(store, off.identities)).map(([, u, a]) => `${u} ${a}`), ['u2 a2']);
  const on = await merge(store, ['c1']);
  assert.deepEqual((await identityLinks(store, on.identities)).map(([, u, a]) => `${u} ${a}`).sort(), ['u1 d1', 'u2 a2'], 'turned on again, the inferred pairs follow in a chunk of their own');
});

/** What a merge sent, independent of how it was cut into chunks: every identity and person event, by uuid. */
async function sent(store: Store, r: { identities: string[]; persons: string[] }): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const c of [...r.identities, ...r.persons]) {
    for (const e of await eventsOf(store, c)) {
      const { $hogport_chunk: _, ...properties } = e.properties;
      assert.ok(!out.has(e.uuid), `${e.uuid} is sent once`);
      out.set(e.uuid, JSON.stringify({ ...e, properties }));
    }
  }
  return out;
}

test('a merge cut into shards, spilling its sorts to disk, sends exactly what one in memory sends, and a re-run sends nothing new', async () => {
  const all = history(5, 600);
  const formLinks = facts([
    { events: [event('$device:e1')] }, { events: [event('e2')] },
    { events: [{ ...event('q"\\é\u2028'), $set: { plan: 'x' } }], links: [{ distinctId: 'q"\\é\u2028', anonId: 'anon\\"1' }] },
    { events: [event('x1', T1)], links: [{ distinctId: 'x1', anonId: 'e1', anonForms: ['$device:e1'] }, { distinctId: 'x1', anonId: 'e2', anonForms: ['$device:e2'] }, { distinctId: 'x1', anonId: 'e4', anonForms: ['$device:e4'] }] },
  ]);
  const results: Array<Map<string, string>> = [];
  for (const shards of [1, 4]) {
    const store = openStore(await mkdtemp(path.join(tmpdir(), `hogport-merge-shards-${shards}-`)));
    for (let c = 0; c < 6; c++) await stageSummary(store, `c${c}`, all.slice(c * 100, (c + 1) * 100));
    await stageFacts(store, 'c6', formLinks);
    const chunks = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    const run = () => mergeIdentities({ store, layout, chunks, transform: spec, worker: 'w', log: silentLogger, shards, spillChars: 2_000 });
    const r = await run();
    if (shards > 1) assert.ok(r.persons.length > 1 && r.persons.every((p) => /^~persons-\d{3}$/.test(p)), `persons in a chunk per shard: ${r.persons.join(', ')}`);
    else assert.deepEqual(r.persons, [PERSONS_CHUNK]);
    results.push(await sent(store, r));
    const again = await run();
    assert.deepEqual([again.identities, again.persons], [r.identities, r.persons], 'a re-run adds no chunk');
  }
  assert.deepEqual([...results[1]!.entries()].sort(), [...results[0]!.entries()].sort(), 'the same events, uuids, times and values');
  const links = [...results[0]!.values()].map((e) => JSON.parse(e) as Record<string, any>).filter((e) => e.distinct_id === 'x1' && e.event === '$identify').map((e) => e.properties.$anon_distinct_id).sort();
  assert.deepEqual(links, ['$device:e1', 'e2', 'e4'], 'the forms events carried, answered across shards');
  const escaped = [...results[0]!.values()].map((e) => JSON.parse(e) as Record<string, any>).filter((e) => e.distinct_id === 'q"\\é\u2028');
  assert.deepEqual(escaped.map((e) => [e.event, e.properties.$anon_distinct_id ?? e.properties.$set?.plan]).sort(), [['$identify', 'anon\\"1'], ['$set', 'x']], 'ids with quotes, backslashes and line separators keep every character');
});

test('merges running as parts of one merge (and at once) commit each shard once, and a changed chunk re-partitions its group only', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-merge-parts-')));
  const all = history(9, 400);
  const chunks = Array.from({ length: 8 }, (_, c) => `c${c}`);
  for (const [c, chunk] of chunks.entries()) await stageSummary(store, chunk, all.slice(c * 50, (c + 1) * 50));
  const part = (index: number) => mergeIdentities({ store, layout, chunks, transform: spec, worker: `w${index}`, log: silentLogger, shards: 3, part: { index, count: 2 } });
  const [a, b] = await Promise.all([part(0), part(1)]);
  assert.deepEqual(a.identities, b.identities);
  const ids = await Promise.all(a.identities.map((c) => eventsOf(store, c)));
  const pairs = ids.flat().map((e) => `${e.distinct_id}/${e.properties.$anon_distinct_id}`);
  assert.equal(new Set(pairs).size, pairs.length, 'no pair in two chunks');
  assert.equal(pairs.length, fold(all).pairs.size, 'every pair once');
  assert.ok(a.identities.length <= 3, 'at most a chunk per shard');

  const indexes = async () => {
    const out = new Map<string, string>();
    for await (const o of store.list(`${layout.migration}/merge/parts/`)) if (o.key.endsWith('.json')) out.set(o.key, (await readControl(store, o.key, MergePart))!.value.digest);
    return out;
  };
  const before = await indexes();
  await stageSummary(store, 'c3', [...all.slice(150, 200), { e: { ...all[0]!.e, uuid: '00000000-0000-4000-8000-999999999998', timestamp: '2025-02-01T00:00:00.000Z' }, pair: ['u7', 'd77'] }]);
  const later = await part(0);
  const after = await indexes();
  const changed = [...after].filter(([k, d]) => before.get(k) !== d);
  assert.equal(changed.length, 1, `one group is partitioned again: ${changed.map(([k]) => k).join(', ')}`);
  const added = await eventsOf(store, later.identities.at(-1)!);
  assert.deepEqual(added.map((e) => `${e.distinct_id}/${e.properties.$anon_distinct_id}`), ['u7/d77'], 'the new pair alone, in a chunk of its own');
});
