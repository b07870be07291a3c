import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { test } from 'node:test';
import { HOGPORT_VERSION, readAll, sha256, silentLogger } from '@hogport/common';
import { layout as makeLayout } from '@hogport/layout';
import { DryRunDestination, PostHogDestination, type Destination } from '@hogport/loader';
import { Checkpoint, encodeControl, Manifest, readControl } from '@hogport/manifest';
import { openStore, type Store } from '@hogport/store';
import { startFakePostHog } from '@hogport/testkit';
import { currentWorker, loadJob, runChunks, type RunOptions } from './index.js';

const KEY = 'phc_load_stage_test';
const layout = makeLayout('load-test');
const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const event = (i: number) => ({ uuid: uuid(i), event: 'e', distinct_id: `u${i % 7}`, timestamp: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(), properties: { n: i } });
const lines = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify(event(i)));

/** Stages a transformed chunk: an events object and the transform manifest that commits it. */
async function stage(store: Store, chunk: string, eventLines: string[]): Promise<void> {
  const content = Buffer.from(`${eventLines.join('\n')}\n`);
  const body = gzipSync(content);
  const key = layout.events(chunk, 'a0');
  await store.write(key, body);
  const now = new Date().toISOString();
  const manifest: Manifest = {
    kind: 'hogport.manifest', version: 1, stage: 'transform', migration: layout.migration, chunk, attempt: 'a0', attemptNumber: 1,
    worker: 'test', hogportVersion: HOGPORT_VERSION, configHash: 'c', inputDigest: 'd', inputs: [],
    outputs: [{ key, role: 'events', bytes: body.length, sha256: sha256(body), contentSha256: sha256(content), records: eventLines.length }],
    counts: { unit: 'records', in: eventLines.length, out: eventLines.length, rejected: 0, dropped: 0, droppedBy: {} },
    bytes: { in: 0, out: body.length }, eventTime: { min: '2024-01-01T00:00:00.000Z', max: '2024-01-02T00:00:00.000Z' },
    startedAt: now, finishedAt: now, durationMs: 0, stats: {},
  };
  await store.write(layout.manifest('transform', chunk), encodeControl(Manifest, manifest));
}

const tempStore = async () => openStore(await mkdtemp(path.join(tmpdir(), 'hogport-load-')));
const posthog = (url: string) => new PostHogDestination({ host: url, apiKey: KEY, concurrency: 4, maxAttempts: 5, timeoutMs: 5000, log: silentLogger, backoff: { baseMs: 5, capMs: 20 } });
const load = (store: Store, destination: Destination, batchMaxEvents = 100, more: Partial<RunOptions> = {}) => runChunks(
  [loadJob({ destination, destinationId: destination.name, batchMaxEvents, store, layout })], ['c1'],
  { store, layout, worker: currentWorker('w'), concurrency: 1, leaseMs: 30_000, log: silentLogger, ...more },
);
const manifestOf = async (store: Store) => (await readControl(store, layout.manifest('load', 'c1'), Manifest))?.value;
const rejectsOf = async (store: Store, m: Manifest) => {
  const out: Array<{ code: string; reason: string; record: string }> = [];
  for (const o of m.outputs.filter((x) => x.role === 'rejects')) {
    out.push(...gunzipSync(await readAll(await store.read(o.key))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { code: string; reason: string; record: string }));
  }
  return out;
};

test('commits a chunk with the events capture refused in load rejects, with counts that add up', async (t) => {
  const server = await startFakePostHog({ token: KEY, refuse: (e) => ((e.properties as { n: number }).n === 250 ? 'Invalid payload: n=250 is refused here' : undefined) });
  t.after(() => server.close());
  const store = await tempStore();
  await stage(store, 'c1', lines(1000));
  const d = posthog(server.url);
  const summary = await load(store, d, 1000);
  await d.close();
  assert.deepEqual(summary.outcomes.map((o) => o.result), ['done']);
  const m = (await manifestOf(store))!;
  assert.deepEqual([m.counts.in, m.counts.out, m.counts.rejected, m.counts.dropped], [1000, 999, 1, 0]);
  const rejects = await rejectsOf(store, m);
  assert.equal(rejects.length, 1);
  assert.equal(rejects[0]!.code, 'E_POSTHOG_REFUSED');
  assert.match(rejects[0]!.reason, /HTTP 400.*n=250 is refused here/);
  assert.equal(JSON.parse(rejects[0]!.record).uuid, uuid(250));
  assert.equal(new Set(server.events.map((e) => e.uuid)).size, 999);
});

test('refuses the same events in a dry run as against PostHog', async (t) => {
  const server = await startFakePostHog({ token: KEY });
  t.after(() => server.close());
  const bad = [JSON.stringify({ ...event(9001), uuid: 'not-a-uuid' }), JSON.stringify({ ...event(9002), distinct_id: '' }), JSON.stringify({ ...event(9003), timestamp: '2024-13-45' })];
  const all = [...lines(200), ...bad, ...lines(5).map((l) => l.replace('"distinct_id":"u', '"distinct_id":"dup-u'))];
  const results = [];
  for (const kind of ['dry-run', 'posthog'] as const) {
    const store = await tempStore();
    await stage(store, 'c1', all);
    const d = kind === 'posthog' ? posthog(server.url) : new DryRunDestination(store, (b) => layout.outbox(b.chunk, b.attempt, b.seq));
    await load(store, d, 50);
    await d.close();
    const m = (await manifestOf(store))!;
    results.push({ counts: m.counts, rejects: (await rejectsOf(store, m)).map((r) => r.code) });
  }
  assert.deepEqual(results[0], results[1]);
  assert.deepEqual(results[0]!.rejects, ['bad_uuid', 'missing_distinct_id', 'bad_timestamp']);
  assert.equal(results[0]!.counts.dropped, 0, 'same uuid in another batch is sent: PostHog collapses it');
  assert.equal(server.events.length, 205);
});

test('resumes a chunk from its checkpoint after an interruption, re-sending at most the batches in flight', async (t) => {
  const server = await startFakePostHog({ token: KEY, delayMs: 15 });
  t.after(() => server.close());
  const store = await tempStore();
  await stage(store, 'c1', lines(6000));
  const stop = new AbortController();
  const watch = setInterval(() => { if (server.requests.length >= 25) stop.abort(); }, 5);
  const d1 = posthog(server.url);
  const first = await load(store, d1, 50, { signal: stop.signal });
  clearInterval(watch);
  await d1.close();
  assert.notEqual(first.outcomes[0]?.result, 'done');
  assert.equal(await manifestOf(store), undefined);
  const cp = (await readControl(store, layout.checkpoint('load', 'c1'), Checkpoint))!.value;
  assert.ok(cp.counts.sent >= 20 * 50, `checkpoint holds ${cp.counts.sent} acknowledged events`);
  const sentBefore = server.events.length;

  const d2 = posthog(server.url);
  const second = await load(store, d2, 50);
  await d2.close();
  assert.deepEqual(second.outcomes.map((o) => o.result), ['done']);
  const uuids = new Set(server.events.map((e) => e.uuid));
  assert.equal(uuids.size, 6000);
  const resent = server.events.length - 6000;
  assert.ok(resent <= 8 * 50, `re-sent ${resent} events (before the stop: ${sentBefore})`);
  const m = (await manifestOf(store))!;
  assert.deepEqual([m.counts.in, m.counts.out], [6000, 6000]);
  assert.equal(m.stats.resumedAt, cp.counts.in);
  assert.equal(await store.head(layout.checkpoint('load', 'c1')), undefined, 'the checkpoint is gone once the chunk commits');
});

test('ignores a checkpoint written for other events', async (t) => {
  const server = await startFakePostHog({ token: KEY });
  t.after(() => server.close());
  const store = await tempStore();
  await stage(store, 'c1', lines(300));
  const now = new Date().toISOString();
  await store.write(layout.checkpoint('load', 'c1'), encodeControl(Checkpoint, {
    kind: 'hogport.checkpoint', version: 1, stage: 'load', chunk: 'c1', attempt: 'old', worker: 'w', updatedAt: now,
    input: { key: layout.events('c1', 'older'), sha256: 'f'.repeat(64) }, configHash: 'x', done: [[0, 300]],
    counts: { in: 300, sent: 300, invalid: 0, refused: 0, duplicates: 0 }, stats: { batches: 3, requests: 3, retries: 0, bytes: 1 }, nextSeq: 3, outputs: [],
  }));
  const d = posthog(server.url);
  await load(store, d, 100);
  await d.close();
  assert.equal(new Set(server.events.map((e) => e.uuid)).size, 300);
});

test('a refused key stops the load with no failure record and no manifest', async (t) => {
  const server = await startFakePostHog({ token: 'phc_another_project' });
  t.after(() => server.close());
  const store = await tempStore();
  await stage(store, 'c1', lines(100));
  const d = posthog(server.url);
  const summary = await load(store, d, 10);
  await d.close();
  assert.equal(summary.fatal?.code, 'E_POSTHOG_AUTH');
  assert.equal(await manifestOf(store), undefined);
  assert.equal(await store.head(layout.failure('load', 'c1')), undefined);
});

test('fails a chunk whose events object changed after transform wrote it', async (t) => {
  const server = await startFakePostHog({ token: KEY });
  t.after(() => server.close());
  const store = await tempStore();
  await stage(store, 'c1', lines(50));
  await store.write(layout.events('c1', 'a0'), gzipSync(Buffer.from(`${lines(49).join('\n')}\n`)));
  const d = posthog(server.url);
  const summary = await load(store, d, 10);
  await d.close();
  assert.equal(summary.outcomes[0]?.error?.code, 'E_EVENTS_CORRUPT');
  assert.equal(await manifestOf(store), undefined);
});

test('a chunk loaded before and staged again in another order with more events sends only those, comparing in sorted runs on disk', async (t) => {
  const server = await startFakePostHog({ token: KEY, refuse: (e) => ((e.properties as { n: number }).n === 330 ? 'Invalid payload: n=330 is refused here' : undefined) });
  t.after(() => server.close());
  const store = await tempStore();
  const d = posthog(server.url);
  const reload = () => runChunks(
    [loadJob({ destination: d, destinationId: d.name, batchMaxEvents: 50, store, layout, sortRunLines: 16 })], ['c1'],
    { store, layout, worker: currentWorker('w'), concurrency: 1, leaseMs: 30_000, log: silentLogger },
  );
  await stage(store, 'c1', lines(300));
  assert.equal((await reload()).outcomes[0]!.result, 'done');
  assert.equal(server.events.length, 300);

  // Reversed, with 40 late events among them (one of which capture refuses).
  const more = lines(340).reverse();
  await stage(store, 'c1', [...more.slice(0, 170), ...more.slice(170).reverse()]);
  assert.equal((await reload()).outcomes[0]!.result, 'done');
  const late = server.events.slice(300);
  assert.deepEqual(late.map((e) => (e.properties as { n: number }).n).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => 300 + i).filter((n) => n !== 330));
  let m = (await manifestOf(store))!;
  assert.deepEqual(m.delta, { against: 'ledger', alreadyLoaded: 300, new: 40, changed: 0, changedResent: 0, changedKey: 0, unidentified: 0, withdrawn: 0 });
  assert.deepEqual([m.counts.in, m.counts.out, m.counts.rejected, m.counts.droppedBy.alreadyLoaded], [340, 39, 1, 300]);

  // The refused event is not in the ledger: the next load of the chunk tries it again, and only it.
  await stage(store, 'c1', lines(340));
  assert.equal((await reload()).outcomes[0]!.result, 'done');
  assert.equal(server.events.length, 339, 'refused again, nothing else sent');
  m = (await manifestOf(store))!;
  assert.deepEqual([m.delta!.alreadyLoaded, m.delta!.new, m.counts.rejected], [339, 1, 1]);
  const ledger = gunzipSync(await readAll(await store.read(m.outputs.find((o) => o.role === 'ledger')!.key))).toString('utf8').trim().split('\n');
  assert.equal(ledger.length, 339);
  assert.deepEqual(ledger, [...ledger].sort(), 'the ledger is sorted');
  assert.ok(!ledger.some((l) => l.startsWith(uuid(330))));
});

test('an interrupted load of a chunk loaded before resumes from its checkpoint and still sends only the events it lacked', async (t) => {
  const server = await startFakePostHog({ token: KEY, delayMs: 15 });
  t.after(() => server.close());
  const store = await tempStore();
  await stage(store, 'c1', lines(1000));
  const d0 = posthog(server.url);
  assert.equal((await load(store, d0, 50)).outcomes[0]!.result, 'done');
  await d0.close();
  const loadedFirst = server.events.length;

  // In another order, with the events loaded before in three runs among the new ones.
  const all = lines(3000);
  await stage(store, 'c1', all.map((_, i) => all[(i * 3 + Math.floor(i / 1000)) % 3000]!));
  const stop = new AbortController();
  const watch = setInterval(() => { if (server.requests.length >= 40) stop.abort(); }, 5);
  const d1 = posthog(server.url);
  const first = await load(store, d1, 50, { signal: stop.signal });
  clearInterval(watch);
  await d1.close();
  assert.notEqual(first.outcomes[0]?.result, 'done');
  const cp = (await readControl(store, layout.checkpoint('load', 'c1'), Checkpoint))!.value;
  assert.ok((cp.counts.alreadyLoaded ?? 0) > 0 && cp.counts.sent > 0, 'the checkpoint counts what it passed over and what it sent');

  const d2 = posthog(server.url);
  assert.deepEqual((await load(store, d2, 50)).outcomes.map((o) => o.result), ['done']);
  await d2.close();
  const later = server.events.slice(loadedFirst);
  assert.equal(new Set(later.map((e) => e.uuid)).size, 2000, 'every new event arrived');
  assert.ok(later.every((e) => (e.properties as { n: number }).n >= 1000), 'no event loaded before was sent again');
  assert.ok(later.length - 2000 <= 8 * 50, `re-sent ${later.length - 2000} events in flight at the stop`);
  const m = (await manifestOf(store))!;
  assert.deepEqual([m.counts.in, m.counts.out, m.counts.droppedBy.alreadyLoaded], [3000, 2000, 1000]);
  assert.deepEqual([m.delta!.alreadyLoaded, m.delta!.new], [1000, 2000]);
  assert.equal(m.stats.resumedAt, cp.counts.in);
});
