import assert from 'node:assert/strict';
import { test } from 'node:test';
import { text } from 'node:stream/consumers';
import { openStore, type Store } from '@hogport/store';
import { logLines, randomBucket, runCli, startCli, startFakePostHog, startMoto } from '@hogport/testkit';
import { workspace } from './e2e.helpers.js';

const KEY = 'phc_four_workers';
const readJson = async (store: Store, key: string): Promise<unknown> => JSON.parse(await text(await store.read(key)));

test('four workers on one s3:// store over 200 chunks: each committed once, a killed worker\'s chunk finished by another and its output never committed', async (t) => {
  const moto = await startMoto();
  const server = await startFakePostHog({ token: KEY, delayMs: 40 });
  t.after(async () => { await moto.stop(); await server.close(); });
  const uri = await moto.bucket(randomBucket(), 'shared');
  const ws = await workspace({ files: 200, perFile: 12, destination: `{ type: posthog, host: "${server.url}", batchMaxEvents: 5, concurrency: 8 }` });
  const args = (id: string) => ['run', ws.pipeline, '--store', uri, '--worker-id', id, '--concurrency', '3', '--lease-seconds', '5', '--threads', '1'];
  // Each worker on a host of its own, as on separate machines: a dead worker's claim can only be
  // taken over once its lease expires.
  const workers = ['w1', 'w2', 'w3', 'w4'].map((id) => ({ id, ...startCli(args(id), { env: { POSTHOG_PROJECT_API_KEY: KEY, HOGPORT_WORKER_HOST: `host-${id}` } }) }));
  t.after(() => { for (const w of workers) w.child.kill('SIGKILL'); });

  // Kill w1 while it holds a load claim: mid-chunk, some of its batches sent, nothing committed.
  const store = openStore(uri);
  t.after(() => store.close());
  let victim: { chunk: string; attempt: string } | undefined;
  while (!victim) {
    for await (const o of store.list('e2e/claims/load/')) {
      // A claim listed a moment ago may be released by now.
      const claim = await readJson(store, o.key).catch(() => undefined) as { worker: string; chunk: string; attempt: string } | undefined;
      if (claim?.worker !== 'w1') continue;
      // w1 may have claimed a chunk another worker committed a moment before, only to see so and let
      // it go: no manifest read after the claim means nobody but w1 could have committed it since.
      if (await store.head(`e2e/manifests/load/${claim.chunk}.json`)) continue;
      victim = { chunk: claim.chunk, attempt: claim.attempt };
      break;
    }
    if (!victim) await new Promise((r) => setTimeout(r, 100));
  }
  workers[0]!.child.kill('SIGKILL');
  // The killed worker's last word on its lease: nobody may take the chunk before this.
  const last = await readJson(store, `e2e/claims/load/${victim.chunk}.json`).catch(() => undefined) as { worker: string; expiresAt: string } | undefined;
  const results = await Promise.all(workers.map((w) => w.done));
  assert.equal(results[0]!.signal, 'SIGKILL');
  for (const r of results.slice(1)) assert.equal(r.code, 0, r.stderr.slice(-2000));

  // Every chunk, every stage: one manifest, committed once (attempt 1), and the killed attempt in none.
  for (const stage of ['extract', 'transform', 'load']) {
    let count = 0;
    for await (const o of store.list(`e2e/manifests/${stage}/`)) {
      const m = await readJson(store, o.key) as { attemptNumber: number; attempt: string; worker: string; chunk: string };
      assert.equal(m.attemptNumber, 1, `${stage} ${m.chunk} was committed more than once`);
      if (stage === 'load' && m.chunk === victim.chunk) assert.ok(m.attempt !== victim.attempt && m.worker !== 'w1', 'the killed attempt never commits');
      count += 1;
    }
    assert.equal(count, 200, stage);
  }
  const commits = results.flatMap((r) => logLines(r.stderr)).filter((l) => l.msg === 'chunk committed').map((l) => `${l.stage}/${l.chunk}`);
  assert.equal(new Set(commits).size, commits.length, 'no (stage, chunk) committed twice');
  const finished = results.slice(1).flatMap((r) => logLines(r.stderr)).filter((l) => l.msg === 'chunk committed' && l.stage === 'load' && l.chunk === victim!.chunk);
  assert.equal(finished.length, 1, 'another worker finished the killed worker\'s chunk');
  const takeover = results.slice(1).flatMap((r) => logLines(r.stderr)).find((l) => l.msg === 'took over an abandoned claim' && l.stage === 'load' && l.chunk === victim!.chunk);
  assert.ok(takeover, 'the chunk was taken over from the dead worker\'s claim');
  if (last?.worker === 'w1') assert.ok((takeover.time as number) >= Date.parse(last.expiresAt), 'taken over only after the lease expired');
  assert.equal(new Set(server.events.map((e) => e.uuid)).size, 200 * 12, 'every event delivered');
  const status = JSON.parse((await runCli(['status', ws.pipeline, '--store', uri, '--json'])).stdout) as { totals: Record<string, Record<string, number>> };
  assert.deepEqual([status.totals.extract!.done, status.totals.transform!.done, status.totals.load!.done], [200, 200, 200]);
});
