import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import { layout as makeLayout } from '@hogport/layout';
import { RateGate } from '@hogport/loader';
import { openStore } from '@hogport/store';
import { currentWorker, joinRateShare } from './index.js';

test('workers sharing a rate through the store hold it together, in every window', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-rate-')));
  const layout = makeLayout('rate');
  const windowMs = 300;
  const perWindow = 100;
  const sends: Array<{ at: number; n: number }> = [];
  const worker = async (id: string, ms: number) => {
    const gate = new RateGate(perWindow, { windowMs });
    const share = await joinRateShare({ store, layout, stage: 'load', worker: currentWorker(id), gate, perMinute: perWindow, log: silentLogger, refreshMs: 50, windowMs });
    const until = Date.now() + ms;
    // The most workers seen while sending: at the very end the other may already have left.
    let seen = share.workers;
    while (Date.now() < until) {
      await gate.take(10);
      sends.push({ at: Date.now(), n: 10 });
      seen = Math.max(seen, share.workers);
    }
    await share.stop();
    return seen;
  };
  const a = worker('a', 1500);
  await new Promise((r) => setTimeout(r, 200));
  const b = worker('b', 1300);
  const seen = await Promise.all([a, b]);
  assert.deepEqual(seen, [2, 2], 'each worker saw the other');
  sends.sort((x, y) => x.at - y.at);
  for (const s of sends) {
    const inWindow = sends.filter((o) => o.at >= s.at && o.at < s.at + windowMs).reduce((sum, o) => sum + o.n, 0);
    assert.ok(inWindow <= perWindow, `${inWindow} events in one window from ${s.at}`);
  }
  const total = sends.reduce((sum, o) => sum + o.n, 0);
  assert.ok(total >= (1500 / windowMs) * perWindow * 0.6, `the budget was used, not starved: ${total}`);
});

test('a worker registered with a clock far behind still counts while its registration stands on the store\'s clock, and one far ahead stops counting when it ends', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-rate-')));
  const layout = makeLayout('rate');
  const registration = (worker: string, expiresAt: number, ttlMs: number) => JSON.stringify({ kind: 'hogport.worker', version: 1, stage: 'load', worker, expiresAt: new Date(expiresAt).toISOString(), ttlMs });
  // By their clocks, "behind" expired an hour ago and "ahead" stands for an hour more; on the
  // store's clock the first stands for a minute and the second ended already.
  const count = async () => {
    const share = await joinRateShare({ store, layout, stage: 'load', worker: currentWorker('me'), gate: new RateGate(100, { windowMs: 10 }), perMinute: 100, log: silentLogger, refreshMs: 60_000, windowMs: 10 });
    await share.stop();
    return share.workers;
  };
  await store.write(layout.worker('load', 'other'), registration('behind', Date.now() - 3600_000, 60_000));
  assert.equal(await count(), 2, 'this worker and the one whose clock is behind');
  await store.write(layout.worker('load', 'other'), registration('ahead', Date.now() + 3600_000, 0));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await count(), 1, 'the one whose clock is ahead has left');
});
