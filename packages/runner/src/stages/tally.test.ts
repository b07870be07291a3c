import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Manifest, MAX_EVENT_NAMES, OTHER_EVENT_NAMES } from '@hogport/manifest';
import { EventTally } from './tally.js';

test('a chunk names its first 1,000 event names and sums the events of any further name under one key', () => {
  const t = new EventTally();
  for (let i = 0; i < MAX_EVENT_NAMES + 50; i++) t.add(`event ${String(i).padStart(4, '0')}`, '2024-03-01T10:00:00.000Z');
  t.add('event 0000', '2024-03-02T23:59:59.999999Z');
  t.add('event 1049', '2024-03-02T00:00:00.000Z');
  const { eventDays, eventNames } = t.fields();
  assert.equal(Object.keys(eventNames).length, MAX_EVENT_NAMES + 1);
  assert.equal(eventNames['event 0000'], 2);
  assert.equal(eventNames['event 1049'], undefined);
  assert.equal(eventNames[OTHER_EVENT_NAMES], 51);
  assert.deepEqual(eventDays, { '2024-03-01': MAX_EVENT_NAMES + 50, '2024-03-02': 2 });
  assert.equal(Object.values(eventNames).reduce((a, b) => a + b, 0), MAX_EVENT_NAMES + 52, 'every event is counted once');
});

test('a manifest without per-day and per-name figures, as an older hogport wrote it, still reads', () => {
  const now = '2024-03-01T10:00:00.000Z';
  const old = {
    kind: 'hogport.manifest', version: 1, stage: 'transform', migration: 'm', chunk: 'c', attempt: 'a', attemptNumber: 1, worker: 'w', hogportVersion: '0.0.9',
    configHash: 'h', inputDigest: 'd', inputs: [], outputs: [], counts: { unit: 'records', in: 1, out: 1, rejected: 0, dropped: 0, droppedBy: {} },
    bytes: { in: 1, out: 1 }, startedAt: now, finishedAt: now, durationMs: 0, stats: {},
  };
  const m = Manifest.parse(old);
  assert.equal(m.eventDays, undefined);
  assert.equal(m.eventNames, undefined);
});
