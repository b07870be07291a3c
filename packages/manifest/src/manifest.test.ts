import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { z } from 'zod';
import { openStore } from '@hogport/store';
import { Counts, Manifest, encodeControl, readControl } from './index.js';

const base: z.input<typeof Manifest> = {
  kind: 'hogport.manifest', version: 1, stage: 'transform', migration: 'm', chunk: 'c', attempt: 'a', attemptNumber: 1,
  worker: 'w', hogportVersion: '0.1.0', configHash: 'h', inputDigest: 'd', inputs: [], outputs: [],
  counts: { unit: 'records', in: 10, out: 7, rejected: 2, dropped: 1, droppedBy: { rule: 1 } },
  bytes: { in: 1, out: 1 }, startedAt: '2024-01-01T00:00:00.000Z', finishedAt: '2024-01-01T00:00:01.000Z', durationMs: 1000,
};

test('accepts a manifest whose counts add up', () => {
  assert.equal(Manifest.parse(base).counts.in, 10);
});

test('rejects counts that do not add up', () => {
  const r = Counts.safeParse({ unit: 'records', in: 10, out: 7, rejected: 2, dropped: 0 });
  assert.equal(r.success, false);
  assert.match(JSON.stringify(r.error?.issues), /do not add up/);
});

test('never writes an invalid manifest', () => {
  assert.throws(() => encodeControl(Manifest, { ...base, counts: { ...base.counts, out: 99 } }));
});

test('reports a corrupt manifest with its key', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-manifest-')));
  await store.write('m/manifests/transform/c.json', '{"kind":"hogport.manifest"}');
  await assert.rejects(readControl(store, 'm/manifests/transform/c.json', Manifest), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_CORRUPT_CONTROL');
    assert.match(err.message, /m\/manifests\/transform\/c\.json/);
    return true;
  });
  await store.write('m/x.json', encodeControl(Manifest, base));
  assert.equal((await readControl(store, 'm/x.json', Manifest))?.value.chunk, 'c');
});

test('rejects codes that do not add up to the rejects', () => {
  assert.equal(Counts.safeParse({ unit: 'records', in: 10, out: 7, rejected: 2, dropped: 1, droppedBy: { rule: 1 }, rejectedBy: { E_A: 1, E_B: 1 } }).success, true);
  const r = Counts.safeParse({ unit: 'records', in: 10, out: 7, rejected: 2, dropped: 1, droppedBy: { rule: 1 }, rejectedBy: { E_A: 1 } });
  assert.equal(r.success, false);
  assert.match(JSON.stringify(r.error?.issues), /rejectedBy must add up/);
});
