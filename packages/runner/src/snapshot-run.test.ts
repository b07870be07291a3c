import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import { layout as makeLayout, type Stage } from '@hogport/layout';
import { Manifest, readControl } from '@hogport/manifest';
import { takeSnapshot } from '@hogport/state';
import { openStore, type Store } from '@hogport/store';
import { currentWorker, runChunks, type StageJob } from './index.js';

const layout = makeLayout('snap');
const counts = { unit: 'records' as const, in: 1, out: 1, rejected: 0, dropped: 0, droppedBy: {} };

/** A store that counts the requests made of it. */
function counting(store: Store): { store: Store; requests: () => number } {
  let n = 0;
  const c = <T>(x: T) => { n += 1; return x; };
  return {
    requests: () => n,
    store: {
      url: store.url, read: (k) => c(store.read(k)), write: (k, b) => c(store.write(k, b)), writeIf: (k, b, w) => c(store.writeIf(k, b, w)),
      head: (k) => c(store.head(k)), list: (p, o) => c(store.list(p, o)), delete: (k) => c(store.delete(k)), now: () => c(store.now()), close: () => store.close(),
    },
  };
}

/**
 * Three stages that do nothing but commit, each up to date while the stage before committed the
 * attempt it was made from; extract's input is a version per chunk the test can change.
 */
function jobs(store: Store, versions: Map<string, number>, processed: string[]): StageJob[] {
  const job = (stage: Stage, up?: Stage): StageJob => {
    const expectFrom = (chunk: string, upstream: Manifest | undefined) => up
      ? upstream ? { inputDigest: upstream.attempt, configHash: 'h' } : undefined
      : { inputDigest: `v${versions.get(chunk)}`, configHash: 'h' };
    return {
      stage,
      expect: async (chunk) => expectFrom(chunk, up ? (await readControl(store, layout.manifest(up, chunk), Manifest))?.value : undefined),
      expectFrom,
      async process(ctx) {
        processed.push(`${stage} ${ctx.chunk}`);
        return { inputs: [], outputs: [], counts, bytes: { in: 0, out: 0 } };
      },
    };
  };
  return [job('extract'), job('transform', 'extract'), job('load', 'transform')];
}

const snapshotOf = (store: Store, list: StageJob[], chunks: string[]) =>
  takeSnapshot({ store, layout, planned: chunks, expect: (stage, chunk, up) => list.find((j) => j.stage === stage)!.expectFrom(chunk, up) });

test('a re-run over done chunks skips them from the snapshot, with no request per chunk', async () => {
  const base = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-snaprun-')));
  const chunks = Array.from({ length: 30 }, (_, i) => `c${String(i).padStart(2, '0')}`);
  const versions = new Map(chunks.map((c) => [c, 1]));
  const processed: string[] = [];
  const options = { layout, worker: currentWorker('w'), concurrency: 4, leaseMs: 30_000, log: silentLogger };
  await runChunks(jobs(base, versions, processed), chunks, { ...options, store: base });
  assert.equal(processed.length, 90);

  const { store, requests } = counting(base);
  const list = jobs(store, versions, processed);
  const snapshot = await snapshotOf(store, list, chunks);
  const before = requests();
  const again = await runChunks(list, chunks, { ...options, store, snapshot });
  assert.equal(requests() - before, 0);
  assert.equal(again.outcomes.filter((o) => o.result === 'skipped').length, 90);
  assert.equal(processed.length, 90);
});

test('a chunk an earlier stage redoes in the run is looked at afresh in the later stages, whatever the snapshot said', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-snaprun-')));
  const chunks = ['a', 'b'];
  const versions = new Map(chunks.map((c) => [c, 1]));
  const processed: string[] = [];
  const options = { store, layout, worker: currentWorker('w'), concurrency: 1, leaseMs: 30_000, log: silentLogger };
  await runChunks(jobs(store, versions, processed), chunks, options);
  processed.length = 0;
  // The source changed for b: the snapshot shows b's extract stale, and its later stages done (from the old extract).
  versions.set('b', 2);
  const list = jobs(store, versions, processed);
  const snapshot = await snapshotOf(store, list, chunks);
  assert.deepEqual([snapshot.state('extract', 'b').status, snapshot.state('transform', 'b').status, snapshot.state('load', 'b').status], ['stale', 'done', 'done']);
  const again = await runChunks(list, chunks, { ...options, snapshot });
  // Its load, which the snapshot showed done, is seen to have changed: loaded again (a load sends
  // only the events it did not send before).
  assert.deepEqual(processed, ['extract b', 'transform b', 'load b']);
  assert.equal(again.outcomes.find((o) => o.chunk === 'b' && o.stage === 'load')?.result, 'done');
  assert.deepEqual(again.outcomes.filter((o) => o.chunk === 'a').map((o) => o.result), ['skipped', 'skipped', 'skipped']);
});
