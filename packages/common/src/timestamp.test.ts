import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeTimestamp, timeKey } from './timestamp.js';

test('returns a time already in the normal form as it is, and refuses impossible ones alike', () => {
  const inputs = ['2024-02-29T10:00:00.123Z', '2023-02-29T10:00:00.123Z', '2024-13-01T00:00:00.000Z', '2024-01-01T24:00:00.000Z',
    '2024-01-01T23:59:59.123456Z', '2024-01-01T23:60:00.000Z', '2024-00-10T00:00:00.000Z', '2024-04-31T00:00:00.000Z'];
  for (let i = 0; i < 2000; i++) {
    const d = new Date(Date.UTC(1990 + (i % 60), i % 12, 1 + (i % 31), i % 24, i % 60, (i * 7) % 60, i % 1000));
    inputs.push(d.toISOString(), `${d.toISOString().slice(0, 23)}${String(i % 1000).padStart(3, '0')}Z`);
  }
  for (const x of inputs) {
    // A leading space takes the general parser: both must agree on every input.
    assert.equal(normalizeTimestamp(x), normalizeTimestamp(` ${x}`), x);
  }
  assert.equal(normalizeTimestamp('2024-02-29T10:00:00.123Z'), '2024-02-29T10:00:00.123Z');
  assert.equal(normalizeTimestamp('2023-02-29T10:00:00.123Z'), undefined);
});

test('normalises other ISO 8601 forms to UTC, keeping microseconds', () => {
  assert.equal(normalizeTimestamp('2024-03-01 09:30:00+02:00'), '2024-03-01T07:30:00.000Z');
  assert.equal(normalizeTimestamp('2024-03-01T09:30:00.5'), '2024-03-01T09:30:00.500Z');
  assert.equal(normalizeTimestamp('2024-03-01T09:30:00.123456789Z'), '2024-03-01T09:30:00.123456Z');
  assert.equal(normalizeTimestamp('2024-03-01'), undefined);
  assert.ok(timeKey('2024-03-01T09:30:00.123Z') < timeKey('2024-03-01T09:30:00.123001Z'));
});
