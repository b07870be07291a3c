import { test } from 'node:test';
import assert from 'node:assert/strict';
import { v5 } from 'uuid';
import { URL_NAMESPACE, uuidV5 } from './uuid.js';

test('gives the same uuids as RFC 4122 version 5 (the uuid package) for any name', () => {
  const ns = v5('hogport.test', v5.URL);
  assert.equal(URL_NAMESPACE, v5.URL);
  assert.equal(uuidV5('hogport.test', URL_NAMESPACE), ns);
  const names = ['', 'a', 'insert_id:123', 'ünïcödé ✓ 日本語 🐗', 'x'.repeat(10_000), '{"event":"e","distinct_id":"u"}'];
  for (let i = 0; i < 500; i++) names.push(Math.random().toString(36).repeat(i % 7));
  for (const name of names) assert.equal(uuidV5(name, ns), v5(name, ns), name.slice(0, 40));
});

test('takes a namespace as 16 raw bytes', () => {
  const raw = new Uint8Array(Buffer.from('posthog_mixpanel', 'ascii'));
  assert.equal(uuidV5('abc-123', raw), v5('abc-123', raw));
});

test('refuses a namespace that is not a uuid', () => {
  assert.throws(() => uuidV5('a', 'not-a-uuid'), /not a UUID namespace/);
});
