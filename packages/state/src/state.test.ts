import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { layout } from '@hogport/layout';
import { encodeControl, Failure, Manifest } from '@hogport/manifest';
import { openStore } from '@hogport/store';
import { inspectChunk } from './index.js';

const L = layout('m');
const expected = { inputDigest: 'd', configHash: 'h' };
const manifest = (attempt: string, finishedAt: string): Manifest => ({
  kind: 'hogport.manifest', version: 1, stage: 'transform', migration: 'm', chunk: 'c', attempt, attemptNumber: 1, worker: 'w',
  hogportVersion: '0', configHash: 'h', inputDigest: 'd', inputs: [], outputs: [],
  counts: { unit: 'records', in: 1, out: 1, rejected: 0, dropped: 0, droppedBy: {} }, bytes: { in: 1, out: 1 },
  startedAt: finishedAt, finishedAt, durationMs: 0, stats: {},
});
const failure = (attempt: string, at: string): Failure => ({
  kind: 'hogport.failure', version: 1, stage: 'transform', chunk: 'c', attempt, worker: 'w', at, error: { code: 'E_STORE_UNAVAILABLE', message: 'x' },
});

async function storeWith(m: Manifest, f: Failure) {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-state-')));
  await store.write(L.manifest('transform', 'c'), encodeControl(Manifest, m));
  await store.write(L.failure('transform', 'c'), encodeControl(Failure, f));
  return store;
}

test('a failure record of the attempt the manifest commits does not make the chunk failed: its commit landed', async () => {
  // The commit's answer was lost, so the attempt recorded a failure after its manifest landed.
  const store = await storeWith(manifest('a1', '2026-01-01T00:00:00.000Z'), failure('a1', '2026-01-01T00:00:05.000Z'));
  const state = await inspectChunk(store, L, 'transform', 'c', expected);
  assert.equal(state.status, 'done');
  assert.equal(state.failure, undefined);
  assert.equal(state.supersededFailure?.attempt, 'a1');
});

test('a failure record older than the manifest does not make the chunk failed', async () => {
  const store = await storeWith(manifest('a2', '2026-01-01T00:00:10.000Z'), failure('a1', '2026-01-01T00:00:05.000Z'));
  const state = await inspectChunk(store, L, 'transform', 'c', expected);
  assert.equal(state.status, 'done');
  assert.equal(state.supersededFailure?.attempt, 'a1');
});

test('a later attempt that failed after the commit makes the chunk failed, with its error', async () => {
  const store = await storeWith(manifest('a1', '2026-01-01T00:00:00.000Z'), failure('a2', '2026-01-01T00:01:00.000Z'));
  const state = await inspectChunk(store, L, 'transform', 'c', expected);
  assert.equal(state.status, 'failed');
  assert.equal(state.failure?.error.code, 'E_STORE_UNAVAILABLE');
  assert.equal(state.supersededFailure, undefined);
});
