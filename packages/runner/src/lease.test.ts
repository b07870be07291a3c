import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { text } from 'node:stream/consumers';
import { test } from 'node:test';
import { createLogger, hasCode, silentLogger } from '@hogport/common';
import { openStore } from '@hogport/store';
import { randomBucket, startFaultProxy, startMoto } from '@hogport/testkit';
import { acquireLease, currentWorker } from './index.js';

const claim = async (store: ReturnType<typeof openStore>, worker: string, leaseMs: number) => acquireLease({
  store, key: 'm/claims/transform/c.json', stage: 'transform', chunk: 'c', attempt: `att-${worker}`,
  worker: { ...currentWorker(worker) }, leaseMs, log: silentLogger, allowanceMs: 0,
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

test('workers racing for one abandoned claim: one takes it over, and only the winner says so', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-lease-')));
  const a = await claim(store, 'a', 150);
  assert.ok(a);
  await new Promise((r) => setTimeout(r, 250));
  const said: string[] = [];
  const log = createLogger({ destination: { write: (line: string) => { said.push((JSON.parse(line) as { msg: string }).msg); } } });
  const racing = await Promise.all(['b', 'c', 'd', 'e'].map((w) => acquireLease({
    store, key: 'm/claims/transform/c.json', stage: 'transform', chunk: 'c', attempt: `att-${w}`, worker: { ...currentWorker(w) }, leaseMs: 60_000, log, allowanceMs: 0,
  })));
  const won = racing.filter((l) => l !== undefined);
  assert.equal(won.length, 1);
  assert.deepEqual(said.filter((m) => m.includes('abandoned claim')), ['took over an abandoned claim']);
  await a.release();
  for (const l of won) await l.release();
});

test('renewals asked for at once (the timer\'s and the commit\'s) run one after the other, and none reads as a lost lease', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-lease-')));
  const a = await claim(store, 'a', 60_000);
  assert.ok(a);
  await Promise.all([a.renew(), a.renew(), a.renew(), a.renew()]);
  assert.equal(a.signal.aborted, false);
  await a.renew();
  await a.release();
  assert.equal(await store.head('m/claims/transform/c.json'), undefined, 'the claim, still ours, is released');
});

test('a lost lease is a HogportError with the code E_LEASE_LOST', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-lease-')));
  const a = await claim(store, 'a', 60_000);
  assert.ok(a);
  await store.write('m/claims/transform/c.json', '{"taken":"by someone else"}');
  await assert.rejects(a.renew(), (err: unknown) => hasCode(err, 'E_LEASE_LOST'));
  assert.ok(hasCode(a.signal.reason, 'E_LEASE_LOST'));
  await a.release();
});

test('a renewal whose answer was lost on the way back is a renewal, not a lost lease', async (t) => {
  const moto = await startMoto();
  let lose = false;
  const proxy = await startFaultProxy({
    target: moto.endpoint,
    decide: ({ method, path: p }) => (lose && method === 'PUT' && p.includes('claims') ? ((lose = false), 'lost') : undefined),
  });
  const uri = (await moto.bucket(randomBucket(), 'lease')).replace(/endpoint=[^&]+/, `endpoint=${encodeURIComponent(proxy.url)}`);
  const store = openStore(uri);
  t.after(async () => { await store.close(); await proxy.close(); await moto.stop(); });
  const a = await claim(store, 'a', 60_000);
  assert.ok(a);
  lose = true;
  await a.renew();
  assert.equal(lose, false, 'the renewal met the fault');
  assert.equal(a.signal.aborted, false);
  await a.renew();
  await a.release();
  assert.equal(await store.head('m/claims/transform/c.json'), undefined);
});

/** A claim as another worker wrote it, with its clock however far off. */
const foreignClaim = (fields: { expiresAt: number; leaseMs?: number }) => JSON.stringify({
  kind: 'hogport.claim', version: 1, stage: 'transform', chunk: 'c', worker: 'elsewhere', host: 'another-host', pid: 1, attempt: 'att-elsewhere',
  acquiredAt: new Date(fields.expiresAt - 60_000).toISOString(), expiresAt: new Date(fields.expiresAt).toISOString(),
  ...(fields.leaseMs !== undefined ? { leaseMs: fields.leaseMs } : {}),
});

test('a claim is judged by the time the store recorded for its write and its lease, not by the times its writer\'s clock put in it', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-lease-')));
  // Written by a clock an hour behind: its expiresAt is long past, but its lease is not.
  await store.write('m/claims/transform/c.json', foreignClaim({ expiresAt: Date.now() - 3600_000, leaseMs: 60_000 }));
  assert.equal(await claim(store, 'b', 60_000), undefined, 'a live claim of a worker whose clock is behind is not taken');
  // Written by a clock an hour ahead, with a lease of 150 ms: its expiresAt is far off, its lease over soon.
  await store.write('m/claims/transform/c.json', foreignClaim({ expiresAt: Date.now() + 3600_000, leaseMs: 150 }));
  assert.equal(await claim(store, 'b', 60_000), undefined);
  await new Promise((r) => setTimeout(r, 250));
  const b = await claim(store, 'b', 60_000);
  assert.ok(b, 'a dead claim of a worker whose clock is ahead is taken once its lease is over');
  await b.release();
});

test('a claim written before leases were judged on the store\'s clock (no leaseMs) is judged by its expiresAt, read on the store\'s clock', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-lease-')));
  await store.write('m/claims/transform/c.json', foreignClaim({ expiresAt: Date.now() + 60_000 }));
  assert.equal(await claim(store, 'b', 60_000), undefined, 'an old claim whose lease runs on is not taken');
  await store.write('m/claims/transform/c.json', foreignClaim({ expiresAt: Date.now() - 1_000 }));
  const b = await claim(store, 'b', 60_000);
  assert.ok(b, 'an old claim whose lease ended is taken over');
  await b.release();
});

test('a claim written now records its lease, so that others judge it on the store\'s clock', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-lease-')));
  const a = await claim(store, 'a', 42_000);
  assert.ok(a);
  const written = JSON.parse(await text(await store.read('m/claims/transform/c.json'))) as { leaseMs: number };
  assert.equal(written.leaseMs, 42_000);
  await a.release();
});
