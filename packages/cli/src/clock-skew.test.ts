import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { test } from 'node:test';
import { openStore, type Store } from '@hogport/store';
import { logLines, randomBucket, runCli, skewedClockEnv, startCli, startFakePostHog, startMoto, type CliResult } from '@hogport/testkit';
import { workspace } from './e2e.helpers.js';

const KEY = 'phc_skewed_clocks';
const MINUTE = 60_000;
const readJson = async (store: Store, key: string): Promise<unknown> => JSON.parse(await text(await store.read(key)));

/** `hogport run` as one machine of several: a host of its own, and its clock `shiftMs` off. */
const worker = (pipeline: string, store: string, id: string, shiftMs: number, extra: string[] = []) => startCli(
  ['run', pipeline, '--store', store, '--worker-id', id, '--concurrency', '3', '--threads', '1', ...extra],
  { env: { POSTHOG_PROJECT_API_KEY: KEY, HOGPORT_WORKER_HOST: `host-${id}`, ...(shiftMs ? skewedClockEnv(shiftMs) : {}) } },
);

/** The skew a worker warned of, in ms, or undefined when it gave no warning. */
const warnedSkew = (r: CliResult): number | undefined => {
  const line = logLines(r.stderr).find((l) => typeof l.msg === 'string' && l.msg.includes('sync it with NTP'));
  return line ? line.skewMs as number : undefined;
};

/** Every manifest of every stage committed once (attempt 1), and how many there are per stage. */
async function committedOnce(store: Store): Promise<number[]> {
  const counts: number[] = [];
  for (const stage of ['extract', 'transform', 'load']) {
    let n = 0;
    for await (const o of store.list(`e2e/manifests/${stage}/`)) {
      const m = await readJson(store, o.key) as { attemptNumber: number; chunk: string };
      assert.equal(m.attemptNumber, 1, `${stage} ${m.chunk} was committed more than once`);
      n += 1;
    }
    counts.push(n);
  }
  return counts;
}

for (const kind of ['s3', 'local'] as const) {
  test(`on a ${kind} store, workers whose clocks are a minute ahead and a minute behind take no live claim of another, and warn of their clocks`, async (t) => {
    const server = await startFakePostHog({ token: KEY, delayMs: 30 });
    t.after(() => server.close());
    let uri: string;
    const files = 36;
    const perFile = 12;
    const ws = await workspace({ files, perFile, destination: `{ type: posthog, host: "${server.url}", batchMaxEvents: 4, concurrency: 4 }` });
    if (kind === 's3') {
      const moto = await startMoto();
      t.after(() => moto.stop());
      uri = await moto.bucket(randomBucket(), 'shared');
    } else {
      uri = ws.storeDir;
    }
    // Short leases and allowance: judged by the machines' clocks, a minute's skew would take every
    // claim of the others at once (ahead), or have every claim of its own taken (behind).
    const lease = ['--lease-seconds', '5', '--lease-allowance-seconds', '2'];
    const workers = [['right', 0], ['ahead', MINUTE], ['behind', -MINUTE]] as const;
    const runs = workers.map(([id, shift]) => worker(ws.pipeline, uri, id, shift, lease));
    t.after(() => { for (const r of runs) r.child.kill('SIGKILL'); });
    const results = await Promise.all(runs.map((r) => r.done));
    for (const r of results) assert.equal(r.code, 0, r.stderr.slice(-3000));

    const logs = results.map((r) => logLines(r.stderr));
    for (const [i, [id]] of workers.entries()) {
      assert.equal(logs[i]!.filter((l) => l.msg === 'took over an abandoned claim').length, 0, `${id} took no claim over`);
      assert.equal(logs[i]!.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('lease lost')).length, 0, `${id} lost no lease`);
      assert.ok(logs[i]!.some((l) => l.msg === 'chunk committed'), `${id} worked alongside the others`);
    }
    assert.equal(warnedSkew(results[0]!), undefined, 'a clock in time is not warned of');
    const ahead = warnedSkew(results[1]!);
    const behind = warnedSkew(results[2]!);
    assert.ok(ahead !== undefined && Math.abs(ahead - MINUTE) < 2_000, `the worker ahead says how far: ${ahead}`);
    assert.ok(behind !== undefined && Math.abs(behind + MINUTE) < 2_000, `the worker behind says how far: ${behind}`);
    for (const r of results.slice(1)) assert.equal(logLines(r.stderr).filter((l) => typeof l.msg === 'string' && l.msg.includes('sync it with NTP')).length, 1, 'said once, not for every claim');
    assert.match(results[1]!.stderr, /clock is 60 s ahead of the store's clock: sync it with NTP/);
    assert.match(results[2]!.stderr, /clock is 60 s behind the store's clock: sync it with NTP/);

    const store = openStore(uri);
    t.after(() => store.close());
    assert.deepEqual(await committedOnce(store), [files, files, files]);
    assert.equal(server.accepted.uuids.size, files * perFile, 'every event delivered');
    assert.equal(server.accepted.events, files * perFile, 'and none sent twice');
  });
}

test('a dead worker\'s claim is taken over once lease + allowance have passed on the store\'s clock, whatever the clocks of the dead worker and the taker', async (t) => {
  const moto = await startMoto();
  // Slow batches, so the first worker dies in the middle of a chunk.
  const server = await startFakePostHog({ token: KEY, delayMs: 300 });
  t.after(async () => { await moto.stop(); await server.close(); });
  const uri = await moto.bucket(randomBucket(), 'shared');
  const files = 6;
  const ws = await workspace({ files, perFile: 12, destination: `{ type: posthog, host: "${server.url}", batchMaxEvents: 2, concurrency: 1 }` });
  const leaseMs = 5_000;
  const allowanceMs = 3_000;
  const lease = ['--lease-seconds', String(leaseMs / 1000), '--lease-allowance-seconds', String(allowanceMs / 1000)];
  const store = openStore(uri);
  t.after(() => store.close());

  // The victim's clock is a minute behind: by the clocks, its claims read as expired long ago.
  const victim = worker(ws.pipeline, uri, 'victim', -MINUTE, lease);
  t.after(() => victim.child.kill('SIGKILL'));
  let key: string | undefined;
  while (!key) {
    for await (const o of store.list('e2e/claims/load/')) {
      const claim = await readJson(store, o.key).catch(() => undefined) as { worker: string } | undefined;
      if (claim?.worker === 'victim') { key = o.key; break; }
    }
    if (!key) await new Promise((r) => setTimeout(r, 50));
  }
  victim.child.kill('SIGKILL');
  await victim.done.catch(() => undefined);
  const dead = await store.head(key);
  assert.ok(dead?.modifiedAt !== undefined, 'the victim held its claim when it died');

  // Status, on a clock in time, shows the dead worker's claim as running, and how far its clock was off.
  const status = JSON.parse((await runCli(['status', ws.pipeline, '--store', uri, '--json'])).stdout) as { chunks: Array<{ chunk: string; load: { status: string; worker?: string; workerSkewMs?: number } }> };
  const held = status.chunks.find((c) => `e2e/claims/load/${c.chunk}.json` === key)!;
  assert.equal(held.load.status, 'running');
  assert.equal(held.load.worker, 'victim');
  assert.ok(held.load.workerSkewMs !== undefined && Math.abs(held.load.workerSkewMs + MINUTE) < 2_500, `status shows the holder's skew: ${held.load.workerSkewMs}`);

  // The taker's clock is a minute ahead: by the clocks, the victim's claim expired at once.
  const taker = worker(ws.pipeline, uri, 'taker', MINUTE, lease);
  t.after(() => taker.child.kill('SIGKILL'));
  let taken: { at: number } | undefined;
  while (!taken) {
    const claim = await readJson(store, key).catch(() => undefined) as { worker: string } | undefined;
    const info = claim?.worker === 'taker' ? await store.head(key) : undefined;
    if (info?.modifiedAt !== undefined) taken = { at: info.modifiedAt };
    else if (claim === undefined && (await store.head(key.replace('/claims/', '/manifests/')))) assert.fail('the chunk was committed without its claim being seen taken over');
    else await new Promise((r) => setTimeout(r, 100));
  }
  const result = await taker.done;
  assert.equal(result.code, 0, result.stderr.slice(-3000));
  // Both times are the store's, kept to the second.
  const waited = taken.at - dead.modifiedAt;
  assert.ok(waited >= leaseMs + allowanceMs - 1_000, `taken over ${waited} ms after the dead worker's last renewal, not before lease + allowance`);
  assert.ok(waited <= leaseMs + allowanceMs + 10_000, `taken over ${waited} ms after the dead worker's last renewal, soon after lease + allowance`);
  const takeovers = logLines(result.stderr).filter((l) => l.msg === 'took over an abandoned claim');
  assert.ok(takeovers.some((l) => l.previous === 'victim' && l.stage === 'load'), 'the taker says it took the claim over');
  const skew = warnedSkew(result);
  assert.ok(skew !== undefined && Math.abs(skew - MINUTE) < 2_000, `the taker warns of its clock: ${skew}`);
  assert.deepEqual(await committedOnce(store), [files, files, files]);
});
