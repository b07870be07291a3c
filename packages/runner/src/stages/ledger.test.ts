import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entryOf } from './ledger.js';

const line = (o: { event?: string; distinct_id?: string; timestamp?: string; lib?: string; n?: number }) => JSON.stringify({
  uuid: '0190a1b2-0000-7000-8000-000000000001', event: o.event ?? 'Signed Up', distinct_id: o.distinct_id ?? 'u1', timestamp: o.timestamp ?? '2024-03-01T10:00:00.000Z',
  properties: { $lib: 'hogport', $lib_version: o.lib ?? '0.1.0', n: o.n ?? 1 },
});

test('an event\'s identity: its content less the hogport version, and what PostHog deduplicates on by day', () => {
  const base = entryOf(line({}))!;
  assert.equal(base.uuid, '0190a1b2-0000-7000-8000-000000000001');
  assert.deepEqual(entryOf(line({ lib: '0.2.0' })), base, 'another hogport version is the same event');
  const later = entryOf(line({ timestamp: '2024-03-01T23:59:59.999999Z' }))!;
  assert.notEqual(later.content, base.content);
  assert.equal(later.key, base.key, 'the same day keeps the dedup key');
  assert.notEqual(entryOf(line({ timestamp: '2024-03-02T00:00:00.000Z' }))!.key, base.key);
  assert.equal(entryOf(line({ timestamp: '2024-03-01T20:00:00-05:00' }))!.key, entryOf(line({ timestamp: '2024-03-02T01:00:00.000Z' }))!.key, 'the day is UTC\'s');
  assert.notEqual(entryOf(line({ event: 'Renamed' }))!.key, base.key);
  assert.notEqual(entryOf(line({ distinct_id: 'u2' }))!.key, base.key);
  const changed = entryOf(line({ n: 2 }))!;
  assert.deepEqual([changed.key === base.key, changed.content === base.content], [true, false]);
  // Not in transform's layout: parsed in full.
  assert.deepEqual(entryOf(JSON.stringify({ event: 'Signed Up', properties: { n: 1 }, uuid: base.uuid, distinct_id: 'u1', timestamp: '2024-03-01T10:00:00.000Z' }))!.key, base.key);
  assert.equal(entryOf('{"event":"x"}'), undefined);
  assert.equal(entryOf('not json'), undefined);
  assert.equal(entryOf(JSON.stringify({ uuid: 'a\tb', event: 'x', distinct_id: 'u', timestamp: '2024-03-01T00:00:00Z', properties: {} })), undefined, 'a uuid that could break the sort is none');
});
