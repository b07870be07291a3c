import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { layout, STAGES, type Stage } from '@hogport/layout';
import { Checkpoint, Claim, encodeControl, Failure, Manifest } from '@hogport/manifest';
import { openStore, type Store } from '@hogport/store';
import { inspectChunk, takeSnapshot, type Expectation } from './index.js';

const L = layout('m');

/** A store that counts the requests made of it. */
function counting(store: Store): { store: Store; requests: () => number } {
  let n = 0;
  const counted: Store = {
    url: store.url,
    read: (k) => { n += 1; return store.read(k); },
    write: (k, b) => store.write(k, b),
    writeIf: (k, b, c) => store.writeIf(k, b, c),
    head: (k) => { n += 1; return store.head(k); },
    list: (p, o) => { n += 1; return store.list(p, o); },
    delete: (k) => store.delete(k),
    now: () => store.now(),
    close: () => store.close(),
  };
  return { store: counted, requests: () => n };
}

/** Each stage expects its upstream's attempt as its input; extract expects the plan's. */
const expect = (stage: Stage, chunk: string, upstream: Manifest | undefined): Expectation | undefined =>
  stage === 'extract' ? { inputDigest: `plan:${chunk}`, configHash: 'h' } : upstream ? { inputDigest: upstream.attempt, configHash: 'h' } : undefined;

const manifest = (stage: Stage, chunk: string, attempt: string, inputDigest: string): Manifest => ({
  kind: 'hogport.manifest', version: 1, stage, migration: 'm', chunk, attempt, attemptNumber: 1, worker: 'w',
  hogportVersion: '0', configHash: 'h', inputDigest, inputs: [], outputs: [],
  counts: { unit: 'records', in: 3, out: 2, rejected: 1, dropped: 0, droppedBy: {} }, bytes: { in: 1, out: 1 },
  startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:00.000Z', durationMs: 0, stats: {},
});

/** Commits a chunk through the stages given, each from the one before. */
async function commit(store: Store, chunk: string, stages: readonly Stage[]): Promise<void> {
  let input = `plan:${chunk}`;
  for (const stage of stages) {
    const attempt = `${stage}-${chunk}`;
    await store.write(L.manifest(stage, chunk), encodeControl(Manifest, manifest(stage, chunk, attempt, input)));
    input = attempt;
  }
}

const tempStore = async () => openStore(await mkdtemp(path.join(tmpdir(), 'hogport-snapshot-')));

test('a snapshot decides every chunk as inspecting it one by one does, whatever its state', async () => {
  const store = await tempStore();
  const planned = ['a-done', 'b-stale', 'c-failed', 'd-running', 'e-pending', 'f-waiting'];
  await commit(store, 'a-done', STAGES);
  await commit(store, 'b-stale', STAGES);
  // b's events were transformed again after it was loaded: its load is stale.
  await store.write(L.manifest('transform', 'b-stale'), encodeControl(Manifest, manifest('transform', 'b-stale', 'transform-again', 'extract-b-stale')));
  await commit(store, 'c-failed', ['extract', 'transform']);
  await store.write(L.failure('load', 'c-failed'), encodeControl(Failure, { kind: 'hogport.failure', version: 1, stage: 'load', chunk: 'c-failed', attempt: 'x', worker: 'w', at: '2026-01-02T00:00:00.000Z', error: { code: 'E_POSTHOG_UNAVAILABLE', message: 'PostHog answered 503' } }));
  await commit(store, 'd-running', ['extract', 'transform']);
  const soon = new Date(Date.now() + 600_000).toISOString();
  await store.write(L.claim('load', 'd-running'), encodeControl(Claim, { kind: 'hogport.claim', version: 1, stage: 'load', chunk: 'd-running', worker: 'other:1', host: 'other', pid: 1, attempt: 'y', acquiredAt: new Date().toISOString(), expiresAt: soon }));
  await store.write(L.checkpoint('load', 'd-running'), encodeControl(Checkpoint, {
    kind: 'hogport.checkpoint', version: 1, stage: 'load', chunk: 'd-running', attempt: 'y', worker: 'other:1', updatedAt: new Date().toISOString(),
    input: { key: 'k', sha256: 's' }, configHash: 'h', done: [[0, 40]], counts: { in: 40, sent: 40, invalid: 0, refused: 0, duplicates: 0 },
    stats: { batches: 1, requests: 1, retries: 0, bytes: 10 }, nextSeq: 1, outputs: [],
  }));
  await commit(store, 'e-pending', ['extract']);
  // A derived chunk, which only the merge makes: its extract is done by definition.
  await commit(store, '~persons', []);
  await store.write(L.manifest('transform', '~persons'), encodeControl(Manifest, manifest('transform', '~persons', 'merge', 'summaries')));

  const snapshot = await takeSnapshot({ store, layout: L, planned, expect });
  assert.deepEqual(snapshot.chunks, [...planned, '~persons']);
  for (const chunk of planned) {
    for (const stage of STAGES) {
      const up = stage === 'extract' ? undefined : snapshot.manifest(stage === 'load' ? 'transform' : 'extract', chunk);
      const one = await inspectChunk(store, L, stage, chunk, expect(stage, chunk, up));
      assert.equal(snapshot.state(stage, chunk).status, one.status, `${stage} ${chunk}`);
    }
  }
  const json = snapshot.toJSON();
  const row = (chunk: string) => json.chunks.find((r) => r.chunk === chunk)!;
  assert.equal(row('a-done').load?.status, 'done');
  assert.equal(row('b-stale').load?.status, 'stale');
  assert.equal(row('c-failed').load?.error?.code, 'E_POSTHOG_UNAVAILABLE');
  assert.equal(row('d-running').load?.worker, 'other:1');
  assert.equal(row('d-running').load?.acknowledged, 40);
  assert.equal(row('e-pending').transform?.status, 'pending');
  assert.equal(row('f-waiting').transform?.status, 'waiting');
  assert.equal(row('~persons').extract?.status, 'done');
  assert.deepEqual(json.totals.load, { done: 1, stale: 1, failed: 1, running: 1, pending: 1, waiting: 2 });
  const text = snapshot.toText();
  assert.match(text, /load c-failed: failed: E_POSTHOG_UNAVAILABLE PostHog answered 503/);
  assert.match(text, /load d-running: running on other:1/);
  assert.match(text, /load d-running: 40 events acknowledged so far/);
  assert.match(text, /7 chunks: extract 6\/7 done, transform 5\/7 done, load 1\/7 done \(1 failed\)$/);
});

test('a snapshot of a migration done in every stage costs a read per manifest and a few listings, not a read per kind of object', async () => {
  const base = await tempStore();
  const planned = Array.from({ length: 40 }, (_, i) => `2024-01-${String(i + 1).padStart(2, '0')}`);
  for (const chunk of planned) await commit(base, chunk, STAGES);
  const { store, requests } = counting(base);
  const snapshot = await takeSnapshot({ store, layout: L, planned, expect });
  assert.equal(snapshot.totals().load?.done, 40);
  // Reading a manifest is a head, a read and a head (to be sure of the version read).
  const perManifest = 3;
  const listings = 3 * 4 + 1;
  assert.equal(requests(), planned.length * STAGES.length * perManifest + listings);
  assert.deepEqual(snapshot.requests, { lists: listings, reads: planned.length * STAGES.length });

  // One by one, every chunk and stage also asks for its failure and claim, and reads its upstream again.
  const before = requests();
  for (const chunk of planned) {
    for (const stage of STAGES) {
      const up = stage === 'extract' ? undefined : snapshot.manifest(stage === 'load' ? 'transform' : 'extract', chunk);
      await inspectChunk(store, L, stage, chunk, expect(stage, chunk, up));
    }
  }
  assert.ok(requests() - before > 1.5 * planned.length * STAGES.length * perManifest, `one by one took ${requests() - before} requests`);
});

test('a snapshot of one stage reads the stage before it for expectations, and shows only the one', async () => {
  const store = await tempStore();
  await commit(store, 'a', ['extract', 'transform']);
  const snapshot = await takeSnapshot({ store, layout: L, planned: ['a'], expect, stages: ['load'] });
  assert.deepEqual(snapshot.stages, ['load']);
  assert.equal(snapshot.state('load', 'a').status, 'pending');
  assert.equal(snapshot.manifest('transform', 'a')?.attempt, 'transform-a');
  assert.deepEqual(Object.keys(snapshot.toJSON().chunks[0]!), ['chunk', 'load']);
});
