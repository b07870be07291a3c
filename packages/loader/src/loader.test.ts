import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { parseRetryAfter, silentLogger } from '@hogport/common';
import { startFakePostHog } from '@hogport/testkit';
import { batches, deliver, PostHogDestination, RateGate, type Batch, type PostHogOptions } from './index.js';

const KEY = 'phc_loader_test_key_000';
const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const event = (i: number, extra: Record<string, unknown> = {}) => ({ uuid: uuid(i), event: 'e', distinct_id: 'u', timestamp: '2024-01-01T00:00:00.000Z', properties: { n: i }, ...extra });
const line = (i: number, pad = 0) => JSON.stringify(event(i, pad ? { properties: { n: i, pad: 'x'.repeat(pad) } } : {}));
async function* indexed(items: string[]) { for (const [index, l] of items.entries()) yield { line: l, index }; }
const collect = async (items: AsyncIterable<{ line: string; index: number }>, maxEvents: number, maxBytes?: number) => {
  const out: Batch[] = [];
  for await (const b of batches(items, { maxEvents, ...(maxBytes ? { maxBytes } : {}), chunk: 'c', attempt: 'a' })) out.push(b);
  return out;
};
const batchOf = (lines: string[], seq = 0): Batch => ({ events: lines, bytes: 0, chunk: 'c', attempt: 'a', seq, first: 0, end: lines.length, invalid: [], duplicates: 0, skipped: 0 });
const destination = (host: string, more: Partial<PostHogOptions> = {}) => new PostHogDestination({ host, apiKey: KEY, concurrency: 2, maxAttempts: 5, timeoutMs: 5000, log: silentLogger, backoff: { baseMs: 5, capMs: 20 }, ...more });

test('batches by event count and by uncompressed bytes', async () => {
  const out = await collect(indexed(Array.from({ length: 25 }, (_, i) => line(i))), 10);
  assert.deepEqual(out.map((b) => b.events.length), [10, 10, 5]);
  assert.deepEqual(out.map((b) => [b.first, b.end]), [[0, 10], [10, 20], [20, 25]]);
  const big = await collect(indexed(Array.from({ length: 10 }, (_, i) => line(i, 300_000))), 1000, 1_000_000);
  assert.ok(big.every((b) => b.bytes <= 1_000_000 - 512));
  assert.equal(big.reduce((a, b) => a + b.events.length, 0), 10);
});

test('never puts one uuid twice in a request: the same event again is counted, a different event under it refused with the reason', async () => {
  const other = JSON.stringify(event(1, { event: 'other' }));
  const [only, ...rest] = await collect(indexed([line(1), line(2), line(1), line(3), other]), 10);
  assert.equal(rest.length, 0);
  assert.deepEqual(only!.events, [line(1), line(2), line(3)]);
  assert.equal(only!.duplicates, 1);
  assert.deepEqual(only!.invalid.map((r) => [r.index, r.code, r.line]), [[4, 'uuid_conflict', other]]);
  assert.match(only!.invalid[0]!.message, /different event/);
  assert.equal(only!.events.length + only!.duplicates + only!.invalid.length, 5, 'every line is sent, counted or refused');
  assert.deepEqual([only!.first, only!.end], [0, 5]);
});

test('starts a new batch at a gap in positions, so every batch is one contiguous range', async () => {
  async function* withGap() { yield { line: line(0), index: 0 }; yield { line: line(1), index: 1 }; yield { line: line(5), index: 5 }; }
  const out = await collect(withGap(), 10);
  assert.deepEqual(out.map((b) => [b.first, b.end, b.events.length]), [[0, 2, 2], [5, 6, 1]]);
});

test('takes the uuid from the front of lines transform checked, and still checks any other line in full', async () => {
  const checked = async (items: string[]) => {
    const out: Batch[] = [];
    for await (const b of batches(indexed(items), { maxEvents: 100, chunk: 'c', attempt: 'a', checked: true })) out.push(b);
    return out[0]!;
  };
  const b = await checked([line(0), line(0), JSON.stringify({ event: 'e', uuid: uuid(2), distinct_id: 'u', timestamp: 'yesterday' }), '{"uuid":"not-a-uuid-at-all-but-exactly-36-ch","event":"e"}', line(4, 1_000_001), JSON.stringify(event(5, { distinct_id: 'é'.repeat(201) }))]);
  assert.equal(b.events.length, 1);
  assert.equal(b.duplicates, 1, 'the leading uuid is what dedupes');
  assert.deepEqual(b.invalid.map((r) => r.code), ['bad_timestamp', 'missing_distinct_id', 'too_large', 'distinct_id_too_long']);
});

test('refuses events capture would refuse before sending them, each with a reason', async () => {
  const bad = [
    JSON.stringify({ ...event(1), uuid: undefined }),
    JSON.stringify({ ...event(2), distinct_id: undefined }),
    JSON.stringify({ ...event(3), timestamp: 'yesterday' }),
    JSON.stringify({ ...event(4), event: '' }),
    '{"uuid":',
    line(5, 1_000_001),
    JSON.stringify({ ...event(7), distinct_id: 'x'.repeat(201) }),
  ];
  const [b] = await collect(indexed([line(0), ...bad, line(9)]), 100);
  assert.equal(b!.events.length, 2);
  assert.deepEqual(b!.invalid.map((r) => [r.index, r.code]), [
    [1, 'bad_uuid'], [2, 'missing_distinct_id'], [3, 'bad_timestamp'], [4, 'missing_event'], [5, 'invalid_json'], [6, 'too_large'], [7, 'distinct_id_too_long'],
  ]);
  assert.ok(b!.invalid.every((r) => r.message.length > 10));
});

test('delivers a batch with historical_migration, gzip and the key, and the events as they were', async (t) => {
  const server = await startFakePostHog({ token: KEY });
  t.after(() => server.close());
  const d = destination(server.url);
  const report = await d.send(batchOf([line(1), line(2)]));
  await d.close();
  assert.equal(report.requests, 1);
  assert.deepEqual(server.events, [event(1), event(2)]);
  assert.deepEqual(server.requests.map((r) => [r.status, r.historical_migration, r.api_key, r.gzip]), [[200, true, KEY, true]]);
});

test('isolates one event capture refuses among 1,000: exactly it is refused, the 999 are delivered', async (t) => {
  const server = await startFakePostHog({ token: KEY, refuse: (e) => ((e.properties as { n: number }).n === 617 ? 'Invalid payload: property n is cursed' : undefined) });
  t.after(() => server.close());
  const d = destination(server.url);
  const lines = Array.from({ length: 1000 }, (_, i) => line(i));
  const result = await deliver(d, batchOf(lines));
  await d.close();
  assert.equal(result.sent, 999);
  assert.equal(result.refused.length, 1);
  assert.equal(result.refused[0]!.line, line(617));
  assert.equal(result.refused[0]!.status, 400);
  assert.match(result.refused[0]!.reply, /property n is cursed/);
  const got = new Set(server.events.map((e) => (e.properties as { n: number }).n));
  assert.equal(got.size, 999);
  assert.ok(!got.has(617));
  assert.equal(server.events.length, 999, 'no event was delivered twice');
  assert.ok(result.requests <= 1 + 2 * Math.ceil(Math.log2(1000)), `${result.requests} requests`);
});

test('splits a batch capture finds too large (413) until every part fits', async (t) => {
  const server = await startFakePostHog({ token: KEY, maxRequestBytes: 40_000 });
  t.after(() => server.close());
  const d = destination(server.url);
  const result = await deliver(d, batchOf(Array.from({ length: 40 }, (_, i) => line(i, 2_000))));
  await d.close();
  assert.equal(result.sent, 40);
  assert.equal(new Set(server.events.map((e) => e.uuid)).size, 40);
  assert.ok(server.requests.some((r) => r.status === 413));
});

test('refuses an event that alone is too large for capture, and delivers the rest', async (t) => {
  const server = await startFakePostHog({ token: KEY, maxEventBytes: 5_000 });
  t.after(() => server.close());
  const d = destination(server.url);
  const result = await deliver(d, batchOf([line(1), line(2, 6_000), line(3)]));
  await d.close();
  assert.equal(result.sent, 2);
  assert.deepEqual(result.refused.map((r) => r.status), [413]);
});

test('rides out 429, 503, resets, slow answers and replies lost after acceptance', async (t) => {
  const server = await startFakePostHog({ token: KEY, faults: { seed: 7, rate429: 0.15, rate503: 0.15, rateReset: 0.1, rateDropAfterAccept: 0.1, rateSlow: 0.05, slowMs: 400, retryAfterSeconds: 0 } });
  t.after(() => server.close());
  const d = destination(server.url, { maxAttempts: 30, timeoutMs: 300 });
  let retries = 0;
  for (let i = 0; i < 40; i++) retries += (await d.send(batchOf([line(i)], i))).retries;
  await d.close();
  assert.equal(new Set(server.events.map((e) => e.uuid)).size, 40);
  assert.ok(retries > 0);
  const outcomes = new Set<string | number>(server.requests.map((r) => r.outcome === 'refused' ? r.status : r.outcome));
  for (const seen of [429, 503, 'reset', 'dropped']) assert.ok(outcomes.has(seen), `saw ${String(seen)}`);
  // A reply lost after acceptance means the same events again, with the same uuids: they collapse.
  const dropped = server.requests.filter((r) => r.outcome === 'dropped').length;
  assert.ok(server.events.length >= 40 + dropped);
});

test('waits as long as Retry-After asks before retrying', async (t) => {
  let calls = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls += 1;
      if (calls === 1) { res.writeHead(429, { 'retry-after': '1' }); res.end('{}'); return; }
      res.writeHead(200); res.end('{"status":1}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => { server.closeAllConnections(); server.close(); });
  const d = destination(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const started = Date.now();
  const report = await d.send(batchOf([line(1)]));
  await d.close();
  assert.equal(report.retries, 1);
  assert.ok(Date.now() - started >= 1000, `retried after ${Date.now() - started} ms`);
});

test('stops at once on a refused key, with a message naming the fix and not the key', async (t) => {
  const server = await startFakePostHog({ token: 'phc_some_other_project' });
  t.after(() => server.close());
  const d = destination(server.url);
  await assert.rejects(deliver(d, batchOf([line(1), line(2)])), (err: Error & { code?: string; details?: { fatal?: boolean } }) => {
    assert.equal(err.code, 'E_POSTHOG_AUTH');
    assert.equal(err.details?.fatal, true);
    assert.match(err.message, /check the project API key/);
    assert.match(err.message, /destination\.host/);
    assert.ok(!err.message.includes(KEY));
    return true;
  });
  await d.close();
  assert.equal(server.requests.length, 1);
});

test('stops at once when the host is not PostHog capture', async (t) => {
  const server = await startFakePostHog({ token: KEY });
  t.after(() => server.close());
  const d = destination(`${server.url}/not-capture`);
  await assert.rejects(d.send(batchOf([line(1)])), (err: Error & { code?: string; details?: { fatal?: boolean } }) => err.code === 'E_POSTHOG_NOT_CAPTURE' && err.details?.fatal === true && /check destination\.host/.test(err.message));
  await d.close();
});

test('gives up after the attempt limit, and after the chunk\'s retry budget, with a retry-next-run message', async (t) => {
  const server = await startFakePostHog({ token: KEY, faults: { seed: 1, rate503: 1 } });
  t.after(() => server.close());
  const d = destination(server.url, { maxAttempts: 3 });
  await assert.rejects(d.send(batchOf([line(1)])), (err: Error & { code?: string }) => err.code === 'E_POSTHOG_UNAVAILABLE' && /next run/.test(err.message));
  assert.equal(server.requests.length, 3);
  const budget = { left: 1 };
  await assert.rejects(d.send(batchOf([line(2)]), { budget }), (err: Error) => /retry budget/.test(err.message));
  await d.close();
  assert.equal(server.requests.length, 5);
});

test('fails the chunk when capture refuses events one after another, instead of splitting forever', async (t) => {
  const server = await startFakePostHog({ token: KEY, refuse: () => 'Invalid payload: nothing is accepted today' });
  t.after(() => server.close());
  const d = destination(server.url);
  await assert.rejects(deliver(d, batchOf(Array.from({ length: 64 }, (_, i) => line(i))), { refusalsLeft: { left: 3 } }), { code: 'E_TOO_MANY_REFUSED' });
  await d.close();
});

test('holds a rate over every sliding window, evenly paced, across concurrent takers', async () => {
  const windowMs = 400;
  const gate = new RateGate(100, { windowMs });
  const sends: Array<{ at: number; n: number }> = [];
  const started = Date.now();
  await Promise.all(Array.from({ length: 30 }, async () => { await gate.take(10); sends.push({ at: Date.now(), n: 10 }); }));
  for (const s of sends) {
    const inWindow = sends.filter((o) => o.at >= s.at && o.at < s.at + windowMs).reduce((a, o) => a + o.n, 0);
    assert.ok(inWindow <= 100, `${inWindow} events in one window`);
  }
  // 300 events at 100 per window: at least two windows' worth of waiting.
  assert.ok(Date.now() - started >= 2 * windowMs * 0.95);
  const gaps = sends.slice(1).map((s, i) => s.at - sends[i]!.at);
  assert.ok(gaps.filter((g) => g < 10).length <= 2, 'requests are spread, not sent in bursts');
});

test('reads Retry-After as seconds or as an HTTP date', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 5_000), 5000);
  assert.equal(parseRetryAfter('soon'), undefined);
});

test('only capture\'s own answer acknowledges a batch: {"status":1}, {"status":"Ok"} or 204, never a proxy\'s 200', async (t) => {
  const answers: Array<[number, string, string?]> = [[200, '{"status":1}'], [200, '{"status":"Ok","quota_limited":["events"]}'], [204, ''], [200, '<html><body>Welcome</body></html>', 'text/html'], [200, '{}'], [200, '']];
  let next = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const [status, body, type] = answers[next++]!;
      res.writeHead(status, { 'content-type': type ?? 'application/json', ...(status === 204 ? {} : { 'content-length': String(Buffer.byteLength(body)) }) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => { server.closeAllConnections(); server.close(); });
  const d = destination(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  t.after(() => d.close());
  for (let i = 0; i < 3; i++) assert.deepEqual(await d.send(batchOf([line(i)])), { requests: 1, retries: 0 });
  for (let i = 3; i < 6; i++) {
    await assert.rejects(d.send(batchOf([line(i)])), (err: { code: string; exitCode: number; message: string; details: { fatal: boolean } }) =>
      err.code === 'E_POSTHOG_NOT_CAPTURE' && err.exitCode === 3 && err.details.fatal && /not PostHog capture's answer.*destination\.host/.test(err.message));
  }
  assert.equal(next, 6, 'none of them retried');
});

test('capture unreachable: the breaker stops every chunk\'s sends after a few failures in a row, with exit code 5', async (t) => {
  const posthog = await startFakePostHog({ token: KEY, down: true });
  t.after(() => posthog.close());
  const d = destination(posthog.url, { maxAttempts: 50, breakerThreshold: 6 });
  t.after(() => d.close());
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => d.send({ ...batchOf([line(i)], i), chunk: `chunk-${i}` })));
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    const err = r.reason as { code: string; exitCode: number; details: { fatal: boolean } };
    assert.deepEqual([err.code, err.exitCode, err.details.fatal], ['E_POSTHOG_UNREACHABLE', 5, true]);
  }
  assert.ok(posthog.requests.length <= 6 + 2, `${posthog.requests.length} requests for 10 batches of 50 attempts each`);
});
