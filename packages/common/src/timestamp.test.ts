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

test('epoch numbers become timestamps in every unit, and out-of-range ones become undefined instead of throwing', async () => {
  const { epochToIso } = await import('./timestamp.js');
  assert.equal(epochToIso(1_700_000_000, 's'), '2023-11-14T22:13:20.000Z');
  assert.equal(epochToIso(1_700_000_000.123456, 's'), '2023-11-14T22:13:20.123456Z');
  assert.equal(epochToIso(1_700_000_000_123.5, 'ms'), '2023-11-14T22:13:20.123500Z');
  assert.equal(epochToIso(1_700_000_000_123_456, 'us', 'us'), '2023-11-14T22:13:20.123456Z');
  assert.equal(epochToIso(1_700_000_000_123_000, 'us', 'us'), '2023-11-14T22:13:20.123000Z', 'us always writes six digits');
  assert.equal(epochToIso(1_700_000_000.1239, 's', 'ms'), '2023-11-14T22:13:20.123Z', 'ms truncates as Date does');
  assert.equal(epochToIso(253_402_300_799.999, 's', 'ms'), '9999-12-31T23:59:59.999Z');
  for (const [v, unit] of [[1e20, 's'], [Number('12345678901234567890'), 'us'], [253_402_300_800, 's'], [-1e17, 'ms'], [Number.NaN, 's'], [Infinity, 'ms']] as const) {
    assert.equal(epochToIso(v, unit), undefined, `${v} ${unit}`);
  }
});

test('canonical JSON sorts keys, keeps __proto__ as data and does not overflow on a record nested 100,000 deep', async () => {
  const { canonicalJson } = await import('./json.js');
  assert.equal(canonicalJson({ b: 1, a: [3, { d: undefined, c: null }], u: undefined }), '{"a":[3,{"c":null}],"b":1}');
  const withProto = JSON.parse('{"__proto__":{"admin":true},"a":1}') as unknown;
  assert.equal(canonicalJson(withProto), '{"__proto__":{"admin":true},"a":1}');
  assert.notEqual(canonicalJson(withProto), canonicalJson({ a: 1 }), 'records differing only in __proto__ differ');
  let deep: unknown = 'x';
  for (let i = 0; i < 100_000; i++) deep = i % 2 ? { b: deep, a: i } : [deep];
  const text = canonicalJson(deep);
  assert.ok(text.startsWith('{"a":99999,"b":[{"a":99997,"b":[{'));
  let shallow: unknown = 'x';
  for (let i = 0; i < 1000; i++) shallow = i % 2 ? { a: i, b: shallow, c: [undefined, () => 1] } : [shallow];
  assert.equal(canonicalJson(shallow), JSON.stringify(shallow), 'past the recursion depth the text is still exactly JSON\'s, with keys already in order');
});

test('an offset that carries a time out of years 0000-9999 gives no time, not a garbled one', () => {
  assert.equal(normalizeTimestamp('9999-12-31T23:00:00-05:00'), undefined);
  assert.equal(normalizeTimestamp('0000-01-01T00:30:00+01:00'), undefined);
  assert.equal(normalizeTimestamp('9999-12-31T20:00:00-03:00'), '9999-12-31T23:00:00.000Z');
});
