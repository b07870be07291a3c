import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DistinctCount, Examples, Largest } from './sketch.js';

test('a distinct count is exact while small, and within a few percent once it is a sketch', () => {
  const small = new DistinctCount(100);
  for (let i = 0; i < 250; i++) small.add(`id-${i % 50}`);
  assert.deepEqual([small.count(), small.exact], [50, true]);
  for (const n of [5000, 200_000]) {
    const c = new DistinctCount(1000);
    for (let i = 0; i < n * 2; i++) c.add(`user-${i % n}`);
    assert.equal(c.exact, false);
    assert.ok(Math.abs(c.count() - n) / n < 0.03, `${c.count()} for ${n}`);
  }
});

test('examples and the largest items are the same whatever order they come in', () => {
  const items = Array.from({ length: 200 }, (_, i) => `item-${i}`);
  const a = new Examples<string>(3);
  const b = new Examples<string>(3);
  for (const x of items) a.add(x, x);
  for (const x of [...items].reverse()) b.add(x, x);
  assert.deepEqual(a.values(), b.values());
  assert.equal(a.values().length, 3);
  const l = new Largest<number>(2);
  for (const [size, key] of [[5, 'a'], [9, 'b'], [9, 'a'], [1, 'c']] as const) l.add(size, key, size);
  assert.deepEqual(l.values(), [9, 9]);
});
