import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import { layout as makeLayout } from '@hogport/layout';
import { RateGate } from '@hogport/loader';
import { openStore } from '@hogport/store';
import { encodeControl, Pace, readControl, WorkerRegistration } from '@hogport/manifest';
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
      await share.limit.take(10);
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

test('a worker joining others that just sent counts their sends, and one that stopped cleanly costs it no wait', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-rate-')));
  const layout = makeLayout('rate');
  const windowMs = 400;
  const perWindow = 100;
  const sends: Array<{ at: number; n: number }> = [];
  const a = await joinRateShare({ store, layout, stage: 'load', worker: currentWorker('a'), gate: new RateGate(perWindow, { windowMs }), perMinute: perWindow, log: silentLogger, refreshMs: 60, windowMs });
  const aUntil = Date.now() + 300;
  while (Date.now() < aUntil) { await a.limit.take(10); sends.push({ at: Date.now(), n: 10 }); }
  await a.stop();
  const stopped = await readControl(store, layout.worker('load', 'a'), WorkerRegistration);
  assert.equal(stopped?.value.stopped, true, 'a stopped cleanly and says so');
  assert.ok((stopped?.value.recent ?? []).reduce((s, [, n]) => s + n, 0) > 0, 'a says what it sent in the window');

  const joinedAt = Date.now();
  const b = await joinRateShare({ store, layout, stage: 'load', worker: currentWorker('b'), gate: new RateGate(perWindow, { windowMs }), perMinute: perWindow, log: silentLogger, refreshMs: 60, windowMs });
  let first = 0;
  const bUntil = Date.now() + 900;
  while (Date.now() < bUntil) { await b.limit.take(10); if (!first) first = Date.now(); sends.push({ at: Date.now(), n: 10 }); }
  await b.stop();
  assert.ok(first - joinedAt < windowMs, `b sent its first events ${first - joinedAt} ms after joining, before a whole window went by`);
  for (const s of sends) {
    const inWindow = sends.filter((o) => o.at >= s.at && o.at < s.at + windowMs).reduce((sum, o) => sum + o.n, 0);
    assert.ok(inWindow <= perWindow, `${inWindow} events in one window from ${s.at}`);
  }
});

test('429s cut the shared rate once per storm for every worker, honour Retry-After, and the rate grows back to the cap, never past it', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-rate-')));
  const layout = makeLayout('rate');
  const windowMs = 3000;
  const cap = 1000;
  const refreshMs = 50;
  const join = (id: string) => joinRateShare({ store, layout, stage: 'load', worker: currentWorker(id), gate: new RateGate(cap, { windowMs }), perMinute: cap, log: silentLogger, refreshMs, windowMs, backoff: { cut: 0.5, increase: 1 } });
  const a = await join('a');
  const b = await join('b');
  await new Promise((r) => setTimeout(r, 3 * refreshMs));
  assert.equal(a.workers, 2);
  assert.equal(b.workers, 2);
  assert.equal(a.rate, cap, 'no 429 yet: the whole cap');

  // A storm: a burst of 429s, to both workers, with a Retry-After of 200 ms.
  const stormAt = Date.now();
  for (let i = 0; i < 5; i++) { a.throttled(200); b.throttled(200); }
  await new Promise((r) => setTimeout(r, 2 * refreshMs));
  const pace = await readControl(store, layout.pace('load'), Pace);
  assert.ok(pace, 'the cut is in the store, for every worker to read');
  assert.equal(pace.value.cuts, 1, 'ten 429s of one storm cut the rate once');
  assert.ok(Math.abs(pace.value.rate - cap / 2) < cap * 0.05, `cut by half: ${pace.value.rate}`);
  assert.ok(a.rate < cap * 0.8 && b.rate < cap * 0.8, `both workers slowed: ${a.rate}, ${b.rate}`);

  // Retry-After holds: nothing goes out before it.
  const t0 = Date.now();
  await a.limit.take(1);
  assert.ok(Date.now() >= stormAt + 190, `a waited out the Retry-After (${Date.now() - stormAt} ms after the storm, took ${Date.now() - t0} ms)`);

  // Additive increase: the rate grows back at the cap's worth per window (from half to whole in half a window), up to the cap and no further.
  const samples: number[] = [];
  const until = Date.parse(pace.value.since) + windowMs / 2 + 800;
  while (Date.now() < until) { samples.push(a.rate, b.rate); await new Promise((r) => setTimeout(r, 20)); }
  assert.ok(samples.every((r) => r <= cap), 'never above the cap');
  assert.equal(a.rate, cap, 'back at the cap');
  assert.equal(b.rate, cap, 'back at the cap for the other worker too');
  const rising = samples.filter((_, i) => i % 2 === 0);
  assert.ok(rising.some((r) => r > cap * 0.55 && r < cap * 0.95), 'it grew back gradually, not in one step');

  // A later storm cuts again, from where the rate is.
  await new Promise((r) => setTimeout(r, 3 * refreshMs));
  a.throttled(100);
  await new Promise((r) => setTimeout(r, 2 * refreshMs));
  const again = await readControl(store, layout.pace('load'), Pace);
  assert.ok(again && again.value.since !== pace.value.since, 'a second storm cuts again');
  await Promise.all([a.stop(), b.stop()]);
});

test('a pace record left by an earlier run that never recovered counts as recovered once enough time passed', async () => {
  const store = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-rate-')));
  const layout = makeLayout('rate');
  const old: Pace = { kind: 'hogport.pace', version: 1, stage: 'load', rate: 10, since: new Date(Date.now() - 3_600_000).toISOString(), increase: 50, cuts: 3 };
  await store.write(layout.pace('load'), encodeControl(Pace, old));
  const share = await joinRateShare({ store, layout, stage: 'load', worker: currentWorker('x'), gate: new RateGate(100, { windowMs: 1000 }), perMinute: 100, log: silentLogger, refreshMs: 50, windowMs: 1000 });
  assert.equal(share.rate, 100);
  await share.stop();
});

test('a look at the pace that answers after a cut was seen does not undo the cut', async () => {
  const inner = openStore(await mkdtemp(path.join(tmpdir(), 'hogport-rate-')));
  const layout = makeLayout('rate');
  const cap = 1000;
  const windowMs = 10_000;
  const refreshMs = 1000;
  // One look at the pace, by b's refresh, finds no record and then answers late: after a cut was
  // written and b had read it, and before b's next refresh.
  let slowNext = false;
  let slowStarted: () => void = () => undefined;
  let slowAnswered: () => void = () => undefined;
  const started = new Promise<void>((resolve) => { slowStarted = resolve; });
  const answered = new Promise<void>((resolve) => { slowAnswered = resolve; });
  const slowStore = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop !== 'head') return Reflect.get(target, prop, receiver);
      return async (key: string) => {
        const got = await target.head(key);
        if (slowNext && key === layout.pace('load')) {
          slowNext = false;
          slowStarted();
          await new Promise((r) => setTimeout(r, 300));
          setTimeout(slowAnswered, 5);
        }
        return got;
      };
    },
  });
  const join = (id: string, store: typeof inner) => joinRateShare({ store, layout, stage: 'load', worker: currentWorker(id), gate: new RateGate(cap, { windowMs }), perMinute: cap, log: silentLogger, refreshMs, windowMs, backoff: { cut: 0.5, increase: 0.01 } });
  const a = await join('a', inner);
  const b = await join('b', slowStore);
  slowNext = true;
  // b's refresh timer does not hold the process open: this one does, while b's next look starts.
  await Promise.race([started, new Promise((r) => setTimeout(r, 2000))]);
  assert.equal(slowNext, false, "b's refresh looked at the pace");
  a.throttled(10);
  await new Promise((r) => setTimeout(r, 100));
  b.throttled(10);
  await answered;
  assert.ok(a.rate < cap * 0.6, `a slowed: ${a.rate}`);
  assert.ok(b.rate < cap * 0.6, `b kept the cut it read: ${b.rate}`);
  await Promise.all([a.stop(), b.stop()]);
});
