import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import { openStore } from '@hogport/store';
import { acquireLease, currentWorker } from './index.js';

const claim = async (store: ReturnType<typeof openStore>, worker: string, leaseMs: number) => acquireLease({
  store, key: 'm/claims/transform/c.json', stage: 'transform', chunk: 'c', attempt: `att-${worker}`,
  worker: { ...currentWorker(worker) }, leaseMs, log: silentLogger, skewMs: 0,
});

test('a held lease keeps other workers out', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-lease-')));
  const a = await claim(store, 'a', 60_000);
  assert.ok(a);
  assert.equal(await claim(store, 'b', 60_000), undefined);
  await a.release();
  const b = await claim(store, 'b', 60_000);
  assert.ok(b, 'a released claim can be taken at once');
  await b.release();
});

test('an expired lease is taken over, and its old holder can no longer commit', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-lease-')));
  const a = await claim(store, 'a', 150);
  assert.ok(a);
  await new Promise((r) => setTimeout(r, 250));
  const b = await claim(store, 'b', 60_000);
  assert.ok(b, 'the expired claim was taken over');
  await assert.rejects(a.renew(), { code: 'E_LEASE_LOST' });
  assert.equal(a.signal.aborted, true);
  await a.release();
  assert.ok(await store.head('m/claims/transform/c.json'), 'the loser does not delete the new holder\'s claim');
  await b.renew();
  await b.release();
});
