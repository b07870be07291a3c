import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it, before, after } from 'node:test';
import { readAll } from '@hogport/common';
import type { Store } from './types.js';

/**
 * The behaviour every store driver must show. Each driver's test file calls this with a factory
 * that returns a fresh, empty store.
 */
export function storeContract(name: string, open: () => Promise<Store>, teardown?: () => Promise<void>): void {
  describe(`${name} store contract`, () => {
    let store: Store;
    before(async () => { store = await open(); });
    after(async () => { await store.close(); await teardown?.(); });

    const text = async (key: string) => (await readAll(await store.read(key))).toString('utf8');

    it('reads back exactly what was written from bytes, a string or a stream', async () => {
      await store.write('rt/bytes.bin', Buffer.from([0, 1, 2, 255]));
      await store.write('rt/text.txt', 'héllo wörld ✓');
      const big = Buffer.alloc(9 * 1024 * 1024 + 17, 7);
      big.write('start', 0); big.write('end', big.length - 3);
      const info = await store.write('rt/stream.bin', Readable.from([big.subarray(0, 5_000_000), big.subarray(5_000_000)]));
      assert.deepEqual([...(await readAll(await store.read('rt/bytes.bin')))], [0, 1, 2, 255]);
      assert.equal(await text('rt/text.txt'), 'héllo wörld ✓');
      const back = await readAll(await store.read('rt/stream.bin'));
      assert.equal(back.length, big.length);
      assert.ok(back.equals(big));
      assert.equal(info.size, big.length);
    });

    it('fails a read of a missing key with E_NOT_FOUND', async () => {
      await assert.rejects(store.read('missing/nothing.json'), { code: 'E_NOT_FOUND' });
    });

    it('heads an object with its size and an etag that changes on every replacement', async () => {
      assert.equal(await store.head('head/a.json'), undefined);
      const first = await store.write('head/a.json', '{"v":1}');
      const seen = await store.head('head/a.json');
      assert.equal(seen?.size, 7);
      assert.equal(seen?.etag, first.etag);
      await store.write('head/a.json', '{"v":2}');
      assert.notEqual((await store.head('head/a.json'))?.etag, first.etag);
    });

    it('creates if absent, and refuses to create what exists', async () => {
      const created = await store.writeIf('cond/claim.json', 'first', { ifAbsent: true });
      assert.ok(created.etag);
      await assert.rejects(store.writeIf('cond/claim.json', 'second', { ifAbsent: true }), { code: 'E_PRECONDITION' });
      assert.equal(await text('cond/claim.json'), 'first');
    });

    it('replaces if unchanged, and refuses a replacement based on a stale etag', async () => {
      const v1 = await store.writeIf('cond/lease.json', 'v1', { ifAbsent: true });
      const v2 = await store.writeIf('cond/lease.json', 'v2', { ifMatch: v1.etag });
      await assert.rejects(store.writeIf('cond/lease.json', 'v3', { ifMatch: v1.etag }), { code: 'E_PRECONDITION' });
      assert.equal(await text('cond/lease.json'), 'v2');
      await store.writeIf('cond/lease.json', 'v4', { ifMatch: v2.etag });
      assert.equal(await text('cond/lease.json'), 'v4');
    });

    it('refuses a replace-if-unchanged of an absent object', async () => {
      await assert.rejects(store.writeIf('cond/never.json', 'x', { ifMatch: '12345' }), { code: 'E_PRECONDITION' });
      assert.equal(await store.head('cond/never.json'), undefined);
    });

    it('lets exactly one of many concurrent creators win', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => store.writeIf('race/create.json', `writer-${i}`, { ifAbsent: true })),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1);
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'E_PRECONDITION');
      assert.match(await text('race/create.json'), /^writer-\d$/);
    });

    it('lets exactly one of many concurrent replacers of one version win', async () => {
      const base = await store.writeIf('race/replace.json', 'base', { ifAbsent: true });
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => store.writeIf('race/replace.json', `writer-${i}`, { ifMatch: base.etag })),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    });

    it('lists a prefix in key order across pages, and nothing outside it', async () => {
      for (const k of ['ls/b/2', 'ls/b/10', 'ls/b/1', 'ls/bc/x', 'ls/a', 'ls/b/sub/deep']) await store.write(k, k);
      const keys: string[] = [];
      for await (const o of store.list('ls/b/', { pageSize: 2 })) keys.push(o.key);
      assert.deepEqual(keys, ['ls/b/1', 'ls/b/10', 'ls/b/2', 'ls/b/sub/deep']);
      const all: string[] = [];
      for await (const o of store.list('ls/b')) all.push(o.key);
      assert.deepEqual(all, ['ls/b/1', 'ls/b/10', 'ls/b/2', 'ls/b/sub/deep', 'ls/bc/x']);
      const none: string[] = [];
      for await (const o of store.list('nothing-here/')) none.push(o.key);
      assert.deepEqual(none, []);
    });

    it('lists only the keys after startAfter, the way a cut listing resumes', async () => {
      for (const k of ['sa/1', 'sa/2', 'sa/3/x', 'sa/4']) await store.write(k, k);
      const keys: string[] = [];
      for await (const o of store.list('sa/', { pageSize: 1, startAfter: 'sa/2' })) keys.push(o.key);
      assert.deepEqual(keys, ['sa/3/x', 'sa/4']);
    });

    it('deletes, and deleting an absent key is not an error', async () => {
      await store.write('del/x', 'x');
      await store.delete('del/x');
      assert.equal(await store.head('del/x'), undefined);
      await store.delete('del/x');
    });

    it('never shows a half-written object when a streamed write fails', async () => {
      const failing = new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024, 1));
          this.destroy(new Error('source broke'));
        },
      });
      await assert.rejects(store.write('partial/obj', failing));
      assert.equal(await store.head('partial/obj'), undefined);
    });

    it('rejects a streamed write whose body fails before it is read, and lives on', async () => {
      const failing = new Readable({ read() {} });
      process.nextTick(() => failing.destroy(new Error('source broke at once')));
      await assert.rejects(store.write('partial/early', failing), /source broke at once/);
      assert.equal(await store.head('partial/early'), undefined);
    });

    it('tells when each version was written and its own time now, on one clock', async () => {
      // Stores keep times to the second at worst (S3's Last-Modified and Date): allow for that.
      const slack = 1_500;
      const before = await store.now();
      const created = await store.writeIf('clock/claim.json', 'v1', { ifAbsent: true });
      const headed = await store.head('clock/claim.json');
      assert.ok(created.modifiedAt !== undefined && headed?.modifiedAt !== undefined, 'writeIf and head tell the write time');
      assert.ok(Math.abs(created.modifiedAt - headed.modifiedAt) <= slack, `writeIf says ${created.modifiedAt}, head ${headed.modifiedAt}`);
      assert.ok(headed.modifiedAt >= before - slack, 'a write is not older than the time read before it');
      const listed: number[] = [];
      for await (const o of store.list('clock/')) if (o.modifiedAt !== undefined) listed.push(o.modifiedAt);
      assert.deepEqual(listed, [headed.modifiedAt]);
      await new Promise((r) => setTimeout(r, 1_100));
      const replaced = await store.writeIf('clock/claim.json', 'v2', { ifMatch: created.etag });
      assert.ok(replaced.modifiedAt !== undefined && replaced.modifiedAt > headed.modifiedAt, 'a replacement is written later');
      const after = await store.now();
      assert.ok(after >= replaced.modifiedAt - slack && after >= before, 'the store\'s time goes on');
      // Every store under test runs on this machine, so its clock is this one's: a wrong unit or
      // epoch would be far off.
      assert.ok(Math.abs(after - Date.now()) < 5_000, `the store says ${new Date(after).toISOString()}`);
    });

    it('keeps keys with spaces and unicode intact', async () => {
      await store.write('odd/a file ünï.json', 'ok');
      const keys: string[] = [];
      for await (const o of store.list('odd/')) keys.push(o.key);
      assert.deepEqual(keys, ['odd/a file ünï.json']);
      assert.equal(await text('odd/a file ünï.json'), 'ok');
    });
  });
}
