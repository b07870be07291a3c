import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadWarnings } from './preflight.js';

test('warns when a load needs PostHog\'s approval: over 20M events or over 10k events a minute', () => {
  const order: string[] = [];
  assert.deepEqual(loadWarnings({ order, events: 20_000_000 }, 10_000), []);
  const big = loadWarnings({ order, events: 20_000_001 }, undefined);
  assert.equal(big.length, 1);
  assert.match(big[0]!, /20,000,001 events.*more than 20M events/);
  const fast = loadWarnings({ order, events: 10 }, 12_000);
  assert.equal(fast.length, 1);
  assert.match(fast[0]!, /--max-events-per-minute 12000 is above 10,000/);
  assert.match(loadWarnings({ order, events: 10, recent: { chunks: 2, latest: '2026-11-28T10:00:00.000Z' } }, undefined)[0]!, /2 chunk\(s\) hold events less than 48 hours old/);
});
