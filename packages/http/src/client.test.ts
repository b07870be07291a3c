import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { HogportError, readAll } from '@hogport/common';
import { sendBody, zipOf, type CutKind } from '@hogport/testkit';
import { Breaker, HttpClient, jsonLinesComplete, unreachable, zipComplete, type CallOptions, type HttpClientOptions } from './index.js';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

async function serve(t: TestContext, handler: Handler): Promise<{ url: string; requests: () => number }> {
  let n = 0;
  const server = createServer((req, res) => { req.resume(); handler(req, res, ++n); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => n };
}

function client(url: string, extra: Partial<HttpClientOptions> = {}): HttpClient {
  return new HttpClient({ service: 'the stand-in', origin: url, codes: { unexpected: 'E_TEST_UNEXPECTED', unavailable: 'E_TEST_UNAVAILABLE' }, maxAttempts: 5, timeoutMs: 5000, backoff: { baseMs: 1, capMs: 5 }, ...extra });
}

const readBody: CallOptions<Buffer>['read'] = async ({ body }) => readAll(body);
const get = (extra: Partial<CallOptions<Buffer>> = {}): CallOptions<Buffer> => ({ method: 'GET', path: '/x', what: 'the test request', read: readBody, ...extra });
const text = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
};

test('Retry-After is honoured: the retry waits as long as the service asked, not the shorter backoff', async (t) => {
  const stamps: number[] = [];
  const s = await serve(t, (_req, res, n) => { stamps.push(Date.now()); if (n === 1) text(res, 429, 'slow down', { 'retry-after': '1' }); else text(res, 200, 'ok'); });
  const r = await client(s.url).call(get());
  assert.equal(r.value.toString(), 'ok');
  assert.deepEqual([r.attempts, r.retries], [2, 1]);
  assert.ok(stamps[1]! - stamps[0]! >= 950, `waited ${stamps[1]! - stamps[0]!} ms`);
});

test('a shared retry budget is spent across requests, and past it the request fails with the caller\'s code', async (t) => {
  const s = await serve(t, (_req, res) => text(res, 503, 'down'));
  const budget = { left: 3 };
  const c = client(s.url, { maxAttempts: 100 });
  await assert.rejects(c.call(get({ budget })), (err: HogportError) => err.code === 'E_TEST_UNAVAILABLE' && /retry budget/.test(err.message) && /HTTP 503/.test(err.message));
  assert.equal(s.requests(), 4, 'three retries, then the budget is gone');
  await assert.rejects(c.call(get({ budget })), /retry budget/);
  assert.equal(s.requests(), 5, 'a second request on a spent budget gets no retry');
});

test('the attempt limit holds per request, and the caller\'s classification decides what is final', async (t) => {
  const s = await serve(t, (req, res) => (req.url === '/gone' ? text(res, 404, 'nope') : req.url === '/odd' ? text(res, 418, 'teapot') : text(res, 502, 'bad gateway')));
  const c = client(s.url, { maxAttempts: 3 });
  await assert.rejects(c.call(get()), (err: HogportError) => err.code === 'E_TEST_UNAVAILABLE' && /after 3 attempts/.test(err.message));
  assert.equal(s.requests(), 3);
  const empty = new Error('no data');
  await assert.rejects(c.call(get({ path: '/gone', classify: ({ status }) => (status === 404 ? empty : undefined) })), (err) => err === empty);
  await assert.rejects(c.call(get({ path: '/odd' })), (err: HogportError) => err.code === 'E_TEST_UNEXPECTED' && /HTTP 418: teapot/.test(err.message));
  assert.equal(s.requests(), 5, 'neither a classified status nor an unexpected one is retried');
});

test('an abort stops a wait at once, even a long Retry-After', async (t) => {
  const s = await serve(t, (_req, res) => text(res, 429, 'later', { 'retry-after': '30' }));
  const abort = new AbortController();
  setTimeout(() => abort.abort(new Error('stopped by the user')), 200);
  const started = Date.now();
  await assert.rejects(client(s.url).call(get({ signal: abort.signal })), /stopped by the user/);
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  assert.equal(s.requests(), 1);
});

test('a body cut mid-read is retried whatever its status line said: a reset, a clean early end, a short answer', async (t) => {
  const whole = Buffer.from(Array.from({ length: 2000 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(40) })).join('\n') + '\n');
  const cuts: Array<CutKind | undefined> = ['reset', 'early-end', 'short', undefined];
  const s = await serve(t, (_req, res, n) => sendBody(res, whole, { 'content-type': 'application/x-ndjson' }, cuts[n - 1]));
  const r = await client(s.url).call(get({ complete: () => [jsonLinesComplete()] }));
  assert.equal(r.attempts, 4);
  assert.ok(r.value.equals(whole), 'only the whole body reached the reader as a success');
});

test('a reader fed a cut body never sees its end: the check fails the stream before the reader\'s end', async (t) => {
  const whole = gzipSync(Buffer.from('{"a":1}\n{"a":2}\n'));
  const s = await serve(t, (_req, res, n) => sendBody(res, whole, {}, n === 1 ? 'early-end' : undefined));
  const ends: string[] = [];
  const r = await client(s.url).call(get({
    complete: () => [jsonLinesComplete()],
    read: async ({ body }) => {
      try { const b = await readAll(body); ends.push('end'); return b; } catch (err) { ends.push('error'); throw err; }
    },
  }));
  assert.deepEqual(ends, ['error', 'end']);
  assert.ok(r.value.equals(whole));
});

test('JSON lines must end with a newline after a last line that parses, and gzip must end properly', async () => {
  const check = async (body: Buffer) => { const c = jsonLinesComplete(); for (let i = 0; i < body.length; i += 7) await c.update(body.subarray(i, i + 7)); return c.finish(); };
  const good = Buffer.from('{"a":1}\n{"b":"ü"}\n');
  assert.equal(await check(good), undefined);
  assert.equal(await check(Buffer.alloc(0)), undefined, 'an empty day is complete');
  assert.equal(await check(gzipSync(good)), undefined);
  assert.match((await check(good.subarray(0, 12)))!, /no newline/);
  assert.match((await check(Buffer.from('{"a":1}\n{"b":\n')))!, /not JSON/);
  const gz = gzipSync(good);
  assert.match((await check(gz.subarray(0, gz.length - 4)))!, /gzip stream does not end properly/);
  assert.match((await check(Buffer.concat([gz, Buffer.from('<html>')])))!, /gzip stream does not end properly/);
});

test('a zip must hold its end record and central directory: cut anywhere, it is incomplete', async () => {
  const zip = await zipOf([{ name: 'a/a_2024-03-01_5#0.json.gz', data: gzipSync('{"x":1}\n') }, { name: 'a/a_2024-03-01_5#1.json.gz', data: gzipSync('{"x":2}\n') }]);
  const check = async (body: Buffer) => { const c = zipComplete(); await c.update(body); return c.finish(); };
  assert.equal(await check(zip), undefined);
  assert.equal(await check(await zipOf([])), undefined, 'an empty zip is whole');
  for (const cut of [zip.length - 1, zip.length - 22, zip.length - 40, Math.floor(zip.length / 2), 10]) {
    assert.ok(await check(zip.subarray(0, cut)), `cut at ${cut} of ${zip.length}`);
  }
  assert.ok(await check(Buffer.concat([zip, Buffer.from('trailing')])), 'bytes after the end record');
});

test('the breaker opens after connection failures in a row across requests, and then fails every request at once', async (t) => {
  const s = await serve(t, (req, res) => (req.url === '/ok' ? text(res, 200, 'ok') : req.socket.destroy()));
  const breaker = new Breaker({ threshold: 4, unreachable: (last, n) => unreachable('E_TEST_UNREACHABLE', `unreachable after ${n}: ${last}`) });
  const c = client(s.url, { maxAttempts: 3, breaker });
  await assert.rejects(c.call(get()), /E_TEST_UNAVAILABLE|did not answer/);
  await c.call(get({ path: '/ok' }));
  assert.equal(breaker.open, false, 'a success resets the count');
  await assert.rejects(c.call(get()), /did not answer/);
  await assert.rejects(c.call(get()), (err: HogportError) => err.code === 'E_TEST_UNREACHABLE' && err.exitCode === 5 && (err.details as { fatal?: boolean }).fatal === true);
  const sent = s.requests();
  await assert.rejects(c.call(get({ path: '/ok' })), /unreachable after 4/);
  assert.equal(s.requests(), sent, 'an open breaker sends nothing');
});
