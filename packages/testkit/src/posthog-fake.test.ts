import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { PostHog } from 'posthog-node';
import { startFakePostHog } from './index.js';

const KEY = 'phc_fake_posthog_test';
const post = (url: string, body: unknown, opts: { gzip?: boolean; path?: string } = {}) => {
  const text = JSON.stringify(body);
  return fetch(`${url}${opts.path ?? '/batch/'}`, { method: 'POST', body: opts.gzip ? gzipSync(text) : text, headers: { 'content-type': 'application/json' } });
};
const ev = (uuid: string, more: Record<string, unknown> = {}) => ({ event: 'e', distinct_id: 'd', uuid, timestamp: '2024-02-01T00:00:00Z', ...more });
const U1 = '0190a0a0-0000-7000-8000-000000000001';
const U2 = '0190a0a0-0000-7000-8000-000000000002';

test('accepts the official posthog-node SDK\'s historical migration batches as they are', async (t) => {
  const server = await startFakePostHog({ token: KEY });
  t.after(() => server.close());
  const client = new PostHog(KEY, { host: server.url, historicalMigration: true, flushAt: 10, flushInterval: 0, disableGeoip: true });
  for (let i = 0; i < 25; i++) {
    client.capture({ distinctId: `user-${i % 3}`, event: 'sdk event', properties: { i }, timestamp: new Date(Date.UTC(2024, 0, 1, 0, i)), uuid: `0190a0a0-0000-7000-8000-${String(i).padStart(12, '0')}` });
  }
  await client.shutdown();
  assert.equal(server.events.length, 25);
  assert.equal(new Set(server.events.map((e) => e.uuid)).size, 25);
  assert.ok(server.requests.length >= 1);
  assert.ok(server.requests.every((r) => r.status === 200 && r.historical_migration === true && r.api_key === KEY));
});

test('follows the capture contract: token alias, plain or gzip bodies, and the documented refusals', async (t) => {
  const server = await startFakePostHog({ token: KEY, maxEventBytes: 2000 });
  t.after(() => server.close());
  assert.equal((await post(server.url, { token: KEY, batch: [ev(U1)] })).status, 200);
  assert.equal((await post(server.url, { api_key: KEY, batch: [ev(U2)] }, { gzip: true, path: '/batch/?compression=gzip' })).status, 200);
  assert.equal((await post(server.url, { api_key: 'phc_other', batch: [ev(U1)] })).status, 401);
  assert.equal((await post(server.url, { api_key: KEY, batch: [ev(U1), ev(U1)] })).status, 400, 'a repeated uuid in one request');
  assert.equal((await post(server.url, { api_key: KEY, batch: [ev(U1, { api_key: 'phc_other' })] })).status, 400, 'mixed tokens');
  assert.equal((await post(server.url, { api_key: KEY, batch: [ev(U1, { timestamp: 'later' })] })).status, 400);
  assert.equal((await post(server.url, { api_key: KEY, batch: [ev(U1, { distinct_id: undefined })] })).status, 400);
  assert.equal((await post(server.url, { api_key: KEY, batch: [ev(U1, { properties: { pad: 'x'.repeat(3000) } })] })).status, 413);
  assert.equal((await fetch(`${server.url}/batch/`, { method: 'POST', body: 'not json' })).status, 400);
  assert.equal(server.events.length, 2);
});
