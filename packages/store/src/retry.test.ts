import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hasCode, readAll } from '@hogport/common';
import { freePort, randomBucket, startFakeGcs, startFaultProxy, startMoto, type FakeGcs, type FaultKind, type FaultProxy, type Moto } from '@hogport/testkit';
import { openStore, readSmall, type Store } from './index.js';

/** A store through a fault proxy whose faults the test scripts: `next` faults the matching requests, once each. */
function scripted() {
  // 'pass' lets one matching request through, to space faults out.
  const plan: Array<{ method: string; path?: RegExp; fault: FaultKind | 'pass' }> = [];
  return {
    plan,
    decide: ({ method, path }: { method: string; path: string }) => {
      const i = plan.findIndex((p) => p.method === method && (!p.path || p.path.test(path)));
      if (i === -1) return undefined;
      const { fault } = plan.splice(i, 1)[0]!;
      return fault === 'pass' ? undefined : fault;
    },
  };
}

describe('store operations through a faulty network to s3', () => {
  let moto: Moto;
  let proxy: FaultProxy;
  let store: Store;
  let direct: Store;
  const script = scripted();
  let proxyDecide: (req: { method: string; path: string }) => FaultKind | undefined | Promise<FaultKind | undefined> = script.decide;
  const seen = (method: string, key: string) => proxy.requests.filter((r) => r.method === method && decodeURIComponent(r.path).includes(key)).length;

  before(async () => {
    moto = await startMoto();
    const uri = await moto.bucket(randomBucket(), 'faults');
    proxy = await startFaultProxy({ target: moto.endpoint, decide: (req) => proxyDecide(req) });
    direct = openStore(uri);
    store = openStore(uri.replace(/endpoint=[^&]+/, `endpoint=${encodeURIComponent(proxy.url)}`));
  });
  after(async () => { await store.close(); await direct.close(); await proxy.close(); await moto.stop(); });

  it('a conditional create whose answer was lost after it landed is our write, not a failed precondition', async () => {
    script.plan.push({ method: 'PUT', path: /cond\/create\.json/, fault: 'lost' });
    const info = await store.writeIf('cond/create.json', '{"worker":"a"}', { ifAbsent: true });
    assert.equal(seen('PUT', 'cond/create.json'), 2, 'the lost attempt, then a retry that met our own write');
    assert.equal(info.etag, (await direct.head('cond/create.json'))?.etag);
    assert.equal((await readSmall(direct, 'cond/create.json'))?.toString(), '{"worker":"a"}');
  });

  it('a renewal whose answer was lost after it landed is our renewal, with the etag to renew again', async () => {
    const v1 = await store.writeIf('cond/lease.json', 'claim v1', { ifAbsent: true });
    script.plan.push({ method: 'PUT', path: /cond\/lease\.json/, fault: 'lost' });
    const v2 = await store.writeIf('cond/lease.json', 'claim v2', { ifMatch: v1.etag });
    const v3 = await store.writeIf('cond/lease.json', 'claim v3', { ifMatch: v2.etag });
    assert.equal((await readSmall(direct, 'cond/lease.json'))?.toString(), 'claim v3');
    assert.equal(v3.etag, (await direct.head('cond/lease.json'))?.etag);
  });

  it('a conditional write retried after a fault still fails when someone else holds the object', async () => {
    await direct.writeIf('cond/theirs.json', 'someone else', { ifAbsent: true });
    script.plan.push({ method: 'PUT', path: /cond\/theirs\.json/, fault: '500' });
    await assert.rejects(store.writeIf('cond/theirs.json', 'mine', { ifAbsent: true }), { code: 'E_PRECONDITION' });
    assert.equal((await readSmall(direct, 'cond/theirs.json'))?.toString(), 'someone else');
  });

  it('a small read cut mid-body is read again, whole', async () => {
    const data = Buffer.from('x'.repeat(5000));
    await direct.write('small/manifest.json', data);
    script.plan.push({ method: 'GET', path: /small\/manifest\.json/, fault: 'cut' });
    const back = await readSmall(store, 'small/manifest.json');
    assert.ok(back?.equals(data), `read ${back?.length} bytes of ${data.length}`);
    assert.equal(seen('GET', 'small/manifest.json'), 2);
  });

  it('a streamed read cut mid-body goes on from the byte where it broke', async () => {
    const data = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    await direct.write('big/raw.bin', data);
    const before = seen('GET', 'big/raw.bin');
    script.plan.push({ method: 'GET', path: /big\/raw\.bin/, fault: 'cut' }, { method: 'GET', path: /big\/raw\.bin/, fault: 'reset' });
    const back = await readAll(await store.read('big/raw.bin'));
    assert.ok(back.equals(data), `read ${back.length} bytes of ${data.length}, in order`);
    assert.equal(seen('GET', 'big/raw.bin') - before, 3, 'the cut read, a reset, then the rest');
  });

  it('a streamed read cut and then unable to go on fails with a retryable store error, never ends early', async () => {
    await direct.write('big/cut.bin', Buffer.alloc(1024 * 1024, 9));
    script.plan.push({ method: 'GET', path: /big\/cut\.bin/, fault: 'cut' });
    for (let i = 0; i < 8; i++) script.plan.push({ method: 'GET', path: /big\/cut\.bin/, fault: 'reset' });
    await assert.rejects(readAll(await store.read('big/cut.bin')), (err: unknown) => {
      assert.ok(hasCode(err, 'E_STORE_UNAVAILABLE'), String(err));
      assert.equal((err as { details?: { retryable?: boolean } }).details?.retryable, true);
      return true;
    });
    assert.equal(script.plan.length, 0);
  });

  it('a read cut short of an object replaced meanwhile fails with E_STORE_CHANGED, never mixing two versions', async () => {
    await direct.write('big/replaced.bin', Buffer.alloc(1024 * 1024, 1));
    let gets = 0;
    const plan = script.plan;
    plan.push({ method: 'GET', path: /big\/replaced\.bin/, fault: 'cut' });
    const decide = proxyDecide;
    proxyDecide = async (req) => {
      if (req.method === 'GET' && req.path.includes('big/replaced.bin') && ++gets === 2) await direct.write('big/replaced.bin', Buffer.alloc(1024 * 1024, 2));
      return decide(req);
    };
    try {
      await assert.rejects(readAll(await store.read('big/replaced.bin')), { code: 'E_STORE_CHANGED' });
    } finally {
      proxyDecide = decide;
    }
  });

  it('head, delete and writes of bytes ride out resets and 500s', async () => {
    script.plan.push({ method: 'PUT', path: /plain\/obj/, fault: 'reset' }, { method: 'PUT', path: /plain\/obj/, fault: '500' });
    await store.write('plain/obj', 'value');
    script.plan.push({ method: 'HEAD', path: /plain\/obj/, fault: 'reset' });
    assert.equal((await store.head('plain/obj'))?.size, 5);
    script.plan.push({ method: 'DELETE', path: /plain\/obj/, fault: '500' });
    await store.delete('plain/obj');
    assert.equal(await direct.head('plain/obj'), undefined);
  });

  it('a listing cut by faults resumes after the last key it gave: every key once, in order', async () => {
    const keys = Array.from({ length: 23 }, (_, i) => `ls/k${String(i).padStart(2, '0')}`);
    for (const k of keys) await direct.write(k, k);
    const faults: FaultKind[] = ['cut', '500', 'reset'];
    // Every other page request meets a fault, the first page's and the later ones'.
    for (let i = 0; i < 5; i++) script.plan.push({ method: 'GET', path: /list-type=2/, fault: faults[i % 3]! }, { method: 'GET', path: /list-type=2/, fault: 'pass' });
    const listed: string[] = [];
    for await (const o of store.list('ls/', { pageSize: 5 })) listed.push(o.key);
    assert.deepEqual(listed, keys);
    assert.equal(script.plan.length, 0, 'every planned fault was met');
  });

  it('access refused (403) is not retried, and keeps its code', async () => {
    const before = proxy.requests.length;
    script.plan.push({ method: 'HEAD', fault: '403' });
    await assert.rejects(store.head('any/key'), { code: 'E_STORE_ACCESS' });
    assert.equal(proxy.requests.length - before, 1);
  });

  it('with one request in four failing, every operation still succeeds', async () => {
    const noisy = await startFaultProxy({ target: moto.endpoint, rate: 0.25, seed: 7, kinds: ['reset', 'lost', '500', 'cut'] });
    const uri = (await moto.bucket(randomBucket(), 'noisy')).replace(/endpoint=[^&]+/, `endpoint=${encodeURIComponent(noisy.url)}`);
    const s = openStore(uri);
    try {
      for (let i = 0; i < 30; i++) {
        const created = await s.writeIf(`n/${i}.json`, `v1-${i}`, { ifAbsent: true });
        const replaced = await s.writeIf(`n/${i}.json`, `v2-${i}`, { ifMatch: created.etag });
        assert.equal((await s.head(`n/${i}.json`))?.etag, replaced.etag);
        assert.equal((await readSmall(s, `n/${i}.json`))?.toString(), `v2-${i}`);
      }
      const listed: string[] = [];
      for await (const o of s.list('n/', { pageSize: 4 })) listed.push(o.key);
      assert.equal(listed.length, 30);
      assert.equal(new Set(listed).size, 30);
      for (let i = 0; i < 30; i++) await s.delete(`n/${i}.json`);
      assert.ok(noisy.requests.filter((r) => r.fault).length >= 30, 'faults were met');
    } finally {
      await s.close();
      await noisy.close();
    }
  });

  it('an unreachable store stops with E_STORE_UNREACHABLE and exit code 5 once its retries are spent', async () => {
    const port = await freePort();
    const s = openStore(`s3://nowhere/x?endpoint=${encodeURIComponent(`http://127.0.0.1:${port}`)}&path_style=true&region=us-east-1`);
    await assert.rejects(s.head('a'), (err: Error & { code?: string; exitCode?: number }) => {
      assert.equal(err.code, 'E_STORE_UNREACHABLE');
      assert.equal(err.exitCode, 5);
      assert.match(err.message, /ECONNREFUSED/);
      return true;
    });
    await s.close();
  });
});

describe('store operations through a faulty network to gcs', () => {
  let fake: FakeGcs;
  let proxy: FaultProxy;
  let store: Store;
  let direct: Store;
  const script = scripted();
  const bucket = randomBucket();

  before(async () => {
    fake = await startFakeGcs();
    proxy = await startFaultProxy({ target: fake.endpoint, decide: script.decide });
    direct = openStore(`gs://${bucket}/p?endpoint=${encodeURIComponent(fake.endpoint)}&project=test`);
    store = openStore(`gs://${bucket}/p?endpoint=${encodeURIComponent(proxy.url)}&project=test`, { gcs: { stallMs: 500 } });
  });
  after(async () => { await store.close(); await direct.close(); await proxy.close(); await fake.close(); });

  it('a conditional create whose answer was lost after it landed is our write', async () => {
    script.plan.push({ method: 'POST', path: /upload/, fault: 'lost' });
    const info = await store.writeIf('cond/claim.json', 'ours', { ifAbsent: true });
    assert.equal(info.etag, (await direct.head('cond/claim.json'))?.etag);
  });

  it('a small read cut mid-body is read again, whole, and a streamed one goes on where it broke', async () => {
    const data = Buffer.alloc(300_000, 3);
    await direct.write('r/obj', data);
    const media = /alt=media|\/download\//;
    script.plan.push({ method: 'GET', path: media, fault: 'cut' });
    assert.ok((await readSmall(store, 'r/obj'))?.equals(data));
    assert.equal(script.plan.length, 0, 'the download was cut');
    script.plan.push({ method: 'GET', path: media, fault: 'cut' });
    assert.ok((await readAll(await store.read('r/obj'))).equals(data));
    assert.equal(script.plan.length, 0, 'the download was cut');
  });

  it('an unreachable store stops with E_STORE_UNREACHABLE and exit code 5 once its retries are spent', async () => {
    const port = await freePort();
    const s = openStore(`gs://nowhere/x?endpoint=${encodeURIComponent(`http://127.0.0.1:${port}`)}&project=test`);
    await assert.rejects(s.head('a'), (err: Error & { code?: string; exitCode?: number }) => {
      assert.equal(err.code, 'E_STORE_UNREACHABLE');
      assert.equal(err.exitCode, 5);
      return true;
    });
    await s.close();
  });

  it('metadata and listings ride out 500s and resets', async () => {
    for (const k of ['l/a', 'l/b', 'l/c']) await direct.write(k, k);
    script.plan.push({ method: 'GET', path: /\/o\/p%2Fl%2Fa|\/o\/p\/l\/a/, fault: '500' });
    assert.equal((await store.head('l/a'))?.size, 3);
    script.plan.push({ method: 'GET', path: /\/o\?/, fault: 'reset' });
    const keys: string[] = [];
    for await (const o of store.list('l/', { pageSize: 2 })) keys.push(o.key);
    assert.deepEqual(keys, ['l/a', 'l/b', 'l/c']);
  });
});
