import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import { startCaptureServer } from '@hogport/testkit';
import { batches, PostHogDestination, parseRetryAfter, type BatcherStats } from './index.js';

const KEY = 'phc_loader_test_key_000';
const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const line = (i: number, pad = 0) => JSON.stringify({ uuid: uuid(i), event: 'e', distinct_id: 'u', timestamp: '2024-01-01T00:00:00.000Z', properties: { pad: 'x'.repeat(pad) } });
async function* lines(items: string[]) { yield* items; }
const collect = async (items: string[], maxEvents: number, maxBytes?: number) => {
  const stats: BatcherStats = { events: 0, duplicates: 0 };
  const out = [];
  for await (const b of batches(lines(items), { maxEvents, ...(maxBytes ? { maxBytes } : {}), chunk: 'c', attempt: 'a' }, stats)) out.push(b);
  return { out, stats };
};
const destination = (host: string, maxAttempts = 5) => new PostHogDestination({ host, apiKey: KEY, concurrency: 2, maxAttempts, timeoutMs: 5000, log: silentLogger, backoff: { baseMs: 5, capMs: 20 } });

test('batches by event count and by uncompressed bytes', async () => {
  const { out } = await collect(Array.from({ length: 25 }, (_, i) => line(i)), 10);
  assert.deepEqual(out.map((b) => b.events.length), [10, 10, 5]);
  const big = await collect(Array.from({ length: 10 }, (_, i) => line(i, 300_000)), 1000, 1_000_000);
  assert.ok(big.out.every((b) => b.bytes <= 1_000_000 - 512));
  assert.equal(big.out.reduce((a, b) => a + b.events.length, 0), 10);
});

test('never puts one uuid twice in a request, and counts what it skipped', async () => {
  const { out, stats } = await collect([line(1), line(2), line(1), line(3)], 10);
  assert.deepEqual(out.map((b) => b.events.length), [3]);
  assert.equal(stats.duplicates, 1);
});

test('delivers batches to capture with historical_migration, gzip and the key', async (t) => {
  const server = await startCaptureServer({ token: KEY });
  t.after(() => server.close());
  const d = destination(server.url);
  const report = await d.send({ events: [line(1), line(2)], bytes: 0, chunk: 'c', attempt: 'a', seq: 0 });
  await d.close();
  assert.equal(report.requests, 1);
  assert.equal(server.events.length, 2);
  assert.deepEqual(server.requests[0], { status: 200, historical_migration: true, api_key: KEY, events: 2 });
});

test('rides out 429 and 503 answers with retries', async (t) => {
  const server = await startCaptureServer({ token: KEY, faults: { seed: 7, rate429: 0.3, rate503: 0.3, retryAfterSeconds: 0 } });
  t.after(() => server.close());
  const d = destination(server.url, 30);
  let retries = 0;
  for (let i = 0; i < 20; i++) retries += (await d.send({ events: [line(i)], bytes: 0, chunk: 'c', attempt: 'a', seq: i })).retries;
  await d.close();
  assert.equal(new Set(server.events.map((e) => e.uuid)).size, 20);
  assert.ok(retries > 0);
  assert.ok(server.requests.some((r) => r.status === 429) && server.requests.some((r) => r.status === 503));
});

test('stops at once on a refused key, with a message naming the fix and not the key', async (t) => {
  const server = await startCaptureServer({ token: 'phc_some_other_project' });
  t.after(() => server.close());
  const d = destination(server.url);
  await assert.rejects(d.send({ events: [line(1)], bytes: 0, chunk: 'c', attempt: 'a', seq: 0 }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_POSTHOG_AUTH');
    assert.match(err.message, /check the key/);
    assert.ok(!err.message.includes(KEY));
    return true;
  });
  await d.close();
  assert.equal(server.requests.length, 1);
});

test('gives up after the attempt budget with a retry-next-run message', async (t) => {
  const server = await startCaptureServer({ token: KEY, faults: { seed: 1, rate503: 1 } });
  t.after(() => server.close());
  const d = destination(server.url, 3);
  await assert.rejects(d.send({ events: [line(1)], bytes: 0, chunk: 'c', attempt: 'a', seq: 0 }), { code: 'E_POSTHOG_UNAVAILABLE' });
  await d.close();
  assert.equal(server.requests.length, 3);
});

test('reads Retry-After as seconds or as an HTTP date', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 5_000), 5000);
  assert.equal(parseRetryAfter('soon'), undefined);
});
