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

test('answers /flags/ and /decide/ as PostHog does: 401 for a missing or unknown project token, no flags for a known one', async (t) => {
  const server = await startFakePostHog({ token: KEY });
  t.after(() => server.close());
  const ask = async (path: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  };
  const ok = await ask('/flags/?v=2', { token: KEY, distinct_id: 'someone' });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body.flags, {});
  assert.equal(ok.body.errorsWhileComputingFlags, false);
  const wrong = await ask('/flags/?v=2', { token: 'phc_not_this_project', distinct_id: 'someone' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.type, 'authentication_error');
  assert.equal((await ask('/flags/?v=2', { distinct_id: 'someone' })).status, 401, 'no token');
  assert.equal((await ask('/flags/?v=2', { token: KEY })).status, 400, 'no distinct_id');
  const decide = await ask('/decide/?v=3', { api_key: KEY, distinct_id: 'someone' });
  assert.equal(decide.status, 200);
  assert.deepEqual(decide.body.featureFlags, {});
  assert.equal((await ask('/decide/?v=3', { api_key: 'phc_other', distinct_id: 'someone' })).status, 401);
  assert.deepEqual(server.flagRequests.map((r) => r.status), [200, 401, 401, 400, 200, 401]);
  assert.equal(server.requests.length, 0, 'nothing reached capture');
});

test('an instance from before /flags/ answers only /decide/, and a host that is not PostHog answers HTML to both', async (t) => {
  const old = await startFakePostHog({ token: KEY, decideOnly: true });
  t.after(() => old.close());
  const body = JSON.stringify({ token: KEY, distinct_id: 'someone' });
  assert.equal((await fetch(`${old.url}/flags/?v=2`, { method: 'POST', body })).status, 404);
  assert.equal((await fetch(`${old.url}/decide/?v=3`, { method: 'POST', body })).status, 200);
  const web = await startFakePostHog({ token: KEY, notCapture: true });
  t.after(() => web.close());
  for (const path of ['/flags/?v=2', '/decide/?v=3']) {
    const res = await fetch(`${web.url}${path}`, { method: 'POST', body });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /<html>/);
  }
});
