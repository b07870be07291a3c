import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkEventLine, finishEvent, finishPerson, finishRecord, guardedMapping, isNonMergeableId, readHead, recordText, type FinishContext, type PostHogEvent } from './index.js';

const settings = { geoipDisable: true, ignoreSentAt: true, lib: 'if-absent', tags: { migration: '$hogport_migration', chunk: '$hogport_chunk' } } as const;
const ctx = (longDistinctIds?: 'reject' | 'truncate'): FinishContext => ({ migration: 'm', chunk: 'c', hogportVersion: '0.0.0', transform: { ...settings, ...(longDistinctIds ? { longDistinctIds } : {}) } });
const ev = (more: Partial<PostHogEvent> = {}): PostHogEvent => ({ uuid: '0190b2a0-0000-7000-8000-000000000001', event: 'e', distinct_id: 'u', timestamp: '2024-01-01T00:00:00.000Z', properties: { a: 1 }, ...more });

test('a finished event is a line whose head load reads without parsing, tags and options applied', () => {
  const done = finishEvent(ev({ $set: { plan: 'pro' } }), ctx());
  assert.ok('line' in done);
  assert.equal(readHead(done.line), '0190b2a0-0000-7000-8000-000000000001');
  assert.deepEqual(JSON.parse(done.line), {
    uuid: '0190b2a0-0000-7000-8000-000000000001', event: 'e', distinct_id: 'u', timestamp: '2024-01-01T00:00:00.000Z',
    properties: { a: 1, $geoip_disable: true, $ignore_sent_at: true, $lib: 'hogport', $lib_version: '0.0.0', $hogport_migration: 'm', $hogport_chunk: 'c' },
    $set: { plan: 'pro' },
  });
  assert.deepEqual(checkEventLine(done.line, { checked: true }), { uuid: '0190b2a0-0000-7000-8000-000000000001' });
});

test('a distinct_id over 200 characters is refused by default, and truncated to 200 on purpose when the definition says so', () => {
  const long = `${'u'.repeat(199)}😀tail`;
  const refused = finishEvent(ev({ distinct_id: long }), ctx());
  assert.ok('code' in refused);
  assert.equal(refused.code, 'distinct_id_too_long');
  assert.match(refused.reason, /204 characters.*longDistinctIds: truncate/);
  const cut = ev({ distinct_id: long });
  const done = finishEvent(cut, ctx('truncate'));
  assert.ok('line' in done);
  assert.deepEqual(done.changed, ['distinct_id_truncated']);
  assert.equal(JSON.parse(done.line).distinct_id, `${'u'.repeat(199)}😀`, 'characters, not UTF-16 units: the emoji is kept whole');
  assert.equal(cut.distinct_id, `${'u'.repeat(199)}😀`, 'the event itself names the id that was sent');
  const exactly = finishEvent(ev({ distinct_id: '😀'.repeat(200) }), ctx());
  assert.ok('line' in exactly && exactly.changed === undefined, '200 characters in 400 UTF-16 units is within the limit');
});

test('the ids an identity event links meet the same rule as its distinct_id', () => {
  const identify = () => ev({ event: '$identify', properties: { $anon_distinct_id: 'd'.repeat(300) } });
  const refused = finishEvent(identify(), ctx());
  assert.ok('code' in refused && refused.code === 'distinct_id_too_long' && /\$anon_distinct_id/.test(refused.reason));
  const done = finishEvent(identify(), ctx('truncate'));
  assert.ok('line' in done);
  assert.equal(JSON.parse(done.line).properties.$anon_distinct_id, 'd'.repeat(200));
  assert.deepEqual(done.changed, ['distinct_id_truncated']);
});

test('an event too deep or impossible to serialise is refused with its reason instead of throwing', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = { a: deep };
  const tooDeep = finishEvent(ev({ properties: { deep } }), ctx());
  assert.ok('code' in tooDeep);
  assert.equal(tooDeep.code, 'too_deep');
  const big = finishEvent(ev({ properties: { n: 10n } }), ctx());
  assert.ok('code' in big && big.code === 'not_serialisable');
  for (const [bad, code] of [[{ uuid: 'nope' }, 'bad_uuid'], [{ event: '' }, 'missing_event'], [{ distinct_id: '' }, 'missing_distinct_id'], [{ properties: [] as unknown as Record<string, unknown> }, 'bad_properties']] as const) {
    const r = finishEvent(ev(bad as Partial<PostHogEvent>), ctx());
    assert.ok('code' in r && r.code === code, code);
  }
});

test('a mapping that throws costs its record only: a stack overflow is too_deep, anything else mapping_failed with the message', () => {
  const recurse = (v: unknown): number => (v && typeof v === 'object' ? 1 + recurse((v as { a: unknown }).a) : 0);
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = { a: deep };
  const map = guardedMapping((v: unknown) => {
    if (v === 'range') throw new RangeError('Invalid time value');
    return { depth: recurse(v) };
  });
  assert.deepEqual(map({ a: { a: 1 } }), { depth: 2 });
  assert.equal((map(deep) as { code: string }).code, 'too_deep');
  assert.deepEqual(map('range'), { code: 'mapping_failed', reason: 'mapping the record failed: Invalid time value' });
  assert.ok(recordText(deep).startsWith('{"a":{"a":'), 'a record too deep for JSON.stringify is still kept as text');
  assert.equal(recordText({ x: 'y'.repeat(100_000) }).length, 65_536);
});

test('the ids PostHog refuses to merge: the listed words in any case, the exact ones exactly, quoted forms, blank ids', () => {
  for (const id of ['anonymous', 'Anonymous', 'GUEST', 'distinctid', 'distinct_id', 'ID', 'not_authenticated', 'Email', 'undefined', 'TRUE', 'false', '[object Object]', 'NaN', 'None', 'none', 'null', '0', '', '   ', '\t\n', '"null"', "'anonymous'", '"[object Object]"', ' '.repeat(300), '\u3000']) {
    assert.equal(isNonMergeableId(id), true, JSON.stringify(id));
  }
  for (const id of ['NULL', 'nan', 'NONE', '00', '[object object]', 'anonymous-1', 'user@example.com', 'u', '"null', 'x'.repeat(300), ` ${'x'.repeat(30)}`, '$device:anonymous']) {
    assert.equal(isNonMergeableId(id), false, JSON.stringify(id));
  }
});

test('an event whose distinct_id PostHog refuses to merge is kept and counted by default, and refused with a reason under nonMergeableIds: reject', () => {
  const kept = finishEvent(ev({ distinct_id: 'anonymous' }), ctx());
  assert.ok('line' in kept);
  assert.deepEqual(kept.changed, ['non_mergeable_distinct_id']);
  const refused = finishEvent(ev({ distinct_id: 'null' }), { ...ctx(), transform: { ...ctx().transform, nonMergeableIds: 'reject' } });
  assert.ok('code' in refused);
  assert.equal(refused.code, 'non_mergeable_distinct_id');
  assert.match(refused.reason, /"null".*refuses to merge.*nonMergeableIds: keep/);
});

test('an identity event a source sends with an id PostHog refuses to merge loses that link, counted; the rest of it goes', () => {
  const done = finishEvent(ev({ event: '$identify', properties: { $anon_distinct_id: 'undefined', $set: { plan: 'pro' } } }), ctx());
  assert.ok('line' in done);
  const sent = JSON.parse(done.line) as { properties: Record<string, unknown> };
  assert.equal(sent.properties.$anon_distinct_id, undefined);
  assert.deepEqual(sent.properties.$set, { plan: 'pro' });
  assert.deepEqual(done.changed, ['non_mergeable_id_link']);
  const alias = finishEvent(ev({ event: '$create_alias', properties: { alias: 'a-1' } }), ctx());
  assert.ok('line' in alias && !alias.changed);
  const fromRefused = finishEvent(ev({ event: '$merge_dangerously', distinct_id: 'guest', properties: { alias: 'a-1' } }), ctx());
  assert.ok('line' in fromRefused);
  assert.equal((JSON.parse(fromRefused.line) as { properties: Record<string, unknown> }).properties.alias, undefined, 'a refused distinct_id links nothing either');
  assert.deepEqual(fromRefused.changed, ['non_mergeable_distinct_id', 'non_mergeable_id_link']);
});

test('a user link naming an id PostHog refuses to merge is left out and counted; its other forms are the same id and go with it', () => {
  const done = finishRecord([ev()], [
    { distinctId: 'u', anonId: 'guest' },
    { distinctId: 'NaN', anonId: 'd1' },
    { distinctId: 'u', anonId: 'anonymous', anonForms: ['$device:anonymous'] },
    { distinctId: 'u', anonId: 'd2', anonForms: ['$device:d2', 'None'], kind: 'alias', recorded: true, properties: { $src: 'd2' } },
  ], ctx());
  assert.ok(!('code' in done));
  assert.deepEqual(done.links, [{ user: 'u', anon: 'd2', at: '2024-01-01T00:00:00.000Z', alias: true, recorded: true, props: { $src: 'd2' }, forms: ['$device:d2'] }]);
  assert.deepEqual(done.changed, ['non_mergeable_id_link']);
});

test('a person record is checked as the $set it becomes: its id by the same rules, a value that cannot be serialised refused', () => {
  const ok = finishPerson({ distinctId: 'p1', at: '2024-01-01T00:00:00.000Z', set: { plan: 'pro' } }, ctx());
  assert.deepEqual(ok, { person: { distinctId: 'p1', at: '2024-01-01T00:00:00.000Z', set: { plan: 'pro' } } });
  const long = finishPerson({ distinctId: 'p'.repeat(201), at: '2024-01-01T00:00:00.000Z', set: {} }, ctx('truncate'));
  assert.ok('person' in long);
  assert.deepEqual([long.person.distinctId, long.changed], ['p'.repeat(200), ['distinct_id_truncated']]);
  assert.equal((finishPerson({ distinctId: '', at: '2024-01-01T00:00:00.000Z' }, ctx()) as { code: string }).code, 'missing_distinct_id');
  assert.equal((finishPerson({ distinctId: 'p2', at: '2024-01-01T00:00:00.000Z', set: { n: 10n } }, ctx()) as { code: string }).code, 'not_serialisable');
});
