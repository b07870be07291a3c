import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { readAll } from '@hogport/common';
import { openStore, type Store } from '@hogport/store';
import { freePort, logLines, randomBucket, runCli, startFaultProxy, startMoto, type CliResult, type FaultKind } from '@hogport/testkit';
import { workspace } from './e2e.helpers.js';

const FILES = 8;
const PER_FILE = 150;

const json = async (store: Store, key: string): Promise<any> => JSON.parse((await readAll(await store.read(key))).toString('utf8'));
const keys = async (store: Store, prefix: string): Promise<string[]> => {
  const out: string[] = [];
  for await (const o of store.list(prefix)) out.push(o.key);
  return out;
};

/** `hogport run` until it exits 0, at most `max` times; every pass must end in an orderly way. */
async function runUntilDone(args: string[], max: number): Promise<CliResult[]> {
  const runs: CliResult[] = [];
  while (runs.length < max) {
    const r = await runCli(args);
    runs.push(r);
    assert.ok(r.code === 0 || r.code === 1, `run ${runs.length} ended with ${r.code ?? r.signal}:\n${r.stderr.slice(-3000)}`);
    assert.doesNotMatch(r.stderr, /Unhandled|unexpected error|\n\s+at /, `run ${runs.length} printed an unhandled error`);
    if (r.code === 0) break;
  }
  return runs;
}

async function faultCampaign(rate: number, maxRuns: number, t: { after: (fn: () => Promise<void>) => void; diagnostic: (m: string) => void }) {
  const moto = await startMoto();
  const proxy = await startFaultProxy({ target: moto.endpoint, rate, seed: 20261201, kinds: ['reset', '500', 'cut', 'lost'] });
  const uri = await moto.bucket(randomBucket(), 'faulty');
  const direct = openStore(uri);
  t.after(async () => { await direct.close(); await proxy.close(); await moto.stop(); });
  const faulty = uri.replace(/endpoint=[^&]+/, `endpoint=${encodeURIComponent(proxy.url)}`);
  const ws = await workspace({ files: FILES, perFile: PER_FILE });
  const runs = await runUntilDone(['run', ws.pipeline, '--store', faulty, '--threads', '1', '--lease-seconds', '10'], maxRuns);
  assert.equal(runs.at(-1)!.code, 0, `no run completed in ${maxRuns}:\n${runs.at(-1)!.stderr.slice(-3000)}`);

  // status, through the same faults, agrees with the manifests.
  const status = await runCli(['status', ws.pipeline, '--store', faulty, '--json']);
  assert.equal(status.code, 0, status.stderr);
  const report = JSON.parse(status.stdout) as { totals: Record<string, Record<string, number>>; chunks: Array<Record<string, { status: string; error?: unknown }>> };
  for (const stage of ['extract', 'transform', 'load']) assert.equal(report.totals[stage]!.done, FILES, `${stage}: ${JSON.stringify(report.totals[stage])}`);
  for (const row of report.chunks) for (const stage of ['extract', 'transform', 'load']) assert.equal(row[stage]!.error, undefined);
  assert.deepEqual(await keys(direct, 'e2e/failures/'), [], 'no failure record beside a done manifest');
  assert.deepEqual(await keys(direct, 'e2e/claims/'), [], 'no claim outlives its run');

  // Every event the transform manifests count is in the committed outbox exactly once.
  let transformed = 0;
  let read = 0;
  for (const k of await keys(direct, 'e2e/manifests/transform/')) {
    const m = await json(direct, k);
    transformed += m.counts.events ?? m.counts.out;
    read += m.counts.in;
  }
  assert.equal(read, FILES * PER_FILE, 'every source record read');
  const uuids: string[] = [];
  for (const k of await keys(direct, 'e2e/manifests/load/')) {
    const m = await json(direct, k);
    for (const o of m.outputs.filter((x: { role: string }) => x.role === 'outbox')) {
      const body = JSON.parse(gunzipSync(await readAll(await direct.read(o.key))).toString('utf8')) as { batch: Array<{ uuid: string }> };
      for (const e of body.batch) uuids.push(e.uuid);
    }
  }
  assert.equal(uuids.length, transformed, 'as many events sent as transformed');
  assert.equal(new Set(uuids).size, uuids.length, 'no event sent twice');

  const met = new Map<FaultKind, number>();
  for (const r of proxy.requests) if (r.fault) met.set(r.fault, (met.get(r.fault) ?? 0) + 1);
  t.diagnostic(`${runs.length} run(s), exit codes ${runs.map((r) => r.code).join(',')}; ${proxy.requests.length} store requests, faults ${JSON.stringify(Object.fromEntries(met))}`);
  const failures = runs.flatMap((r) => r.stderr.split('\n').filter((l) => /^ {2}(extract|transform|load) \S+: E_/.test(l)));
  if (failures.length > 0) t.diagnostic(`chunks failed on the way:\n${failures.join('\n')}`);
  for (const kind of ['reset', '500', 'cut', 'lost'] as const) assert.ok((met.get(kind) ?? 0) > 0, `the campaign included ${kind}`);
}

test('with 5% of store requests failing (resets, 500s, answers lost or cut), the first run completes, status agrees with the manifests, every event is sent once', async (t) => {
  await faultCampaign(0.05, 1, t);
});

test('with 25% of store requests failing, the migration completes within three runs, and nothing is lost or sent twice', async (t) => {
  await faultCampaign(0.25, 3, t);
});

test('a commit that landed although every answer to it was lost counts as done, with no failure record', async (t) => {
  const moto = await startMoto();
  // The first transform commit lands but its answer is lost, and every retry of it is reset.
  let planned = 0;
  const proxy = await startFaultProxy({
    target: moto.endpoint,
    decide: ({ method, path }) => {
      if (method !== 'PUT' || !path.includes('manifests/transform/') || planned >= 8) return undefined;
      planned += 1;
      return planned === 1 ? 'lost' : 'reset';
    },
  });
  const uri = await moto.bucket(randomBucket(), 'landed');
  const direct = openStore(uri);
  t.after(async () => { await direct.close(); await proxy.close(); await moto.stop(); });
  const ws = await workspace({ files: 1, perFile: 20 });
  const run = await runCli(['run', ws.pipeline, '--store', uri.replace(/endpoint=[^&]+/, `endpoint=${encodeURIComponent(proxy.url)}`), '--threads', '1']);
  assert.equal(planned, 8, 'the commit and all its retries met faults');
  assert.equal(run.code, 0, run.stderr.slice(-2000));
  assert.ok(logLines(run.stderr).some((l) => l.msg === 'the commit landed although its answer was lost'));
  assert.deepEqual(await keys(direct, 'e2e/failures/'), []);
  assert.equal((await keys(direct, 'e2e/manifests/')).length, 3);
});

test('a failure record its manifest supersedes is ignored by status and removed by the next run', async () => {
  const ws = await workspace({ files: 2, perFile: 10 });
  assert.equal((await runCli(['run', ws.pipeline])).code, 0);
  const store = openStore(ws.storeDir);
  const chunk = (await keys(store, 'e2e/manifests/transform/'))[0]!.split('/').pop()!.replace(/\.json$/, '');
  const manifest = await json(store, `e2e/manifests/transform/${chunk}.json`);
  // What an attempt whose commit landed, but whose answer was lost, wrote after it.
  const failure = {
    kind: 'hogport.failure', version: 1, stage: 'transform', chunk, attempt: manifest.attempt, worker: manifest.worker,
    at: new Date(Date.parse(manifest.finishedAt) + 5000).toISOString(), error: { code: 'E_STORE_UNAVAILABLE', message: 'the answer was lost' },
  };
  await store.write(`e2e/failures/transform/${chunk}.json`, JSON.stringify(failure));
  const status = JSON.parse((await runCli(['status', ws.pipeline, '--json'])).stdout) as { totals: Record<string, Record<string, number>> };
  assert.equal(status.totals.transform!.done, 2);
  assert.equal(status.totals.transform!.failed, 0);
  const again = await runCli(['run', ws.pipeline]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /already done/);
  assert.deepEqual(await keys(store, 'e2e/failures/'), [], 'the superseded failure record is gone');
});

test('a store that cannot be reached fails run\'s store check (exit 2), and past the checks stops the run with exit code 5, saying nothing is lost', async () => {
  const ws = await workspace({ files: 1, perFile: 5 });
  const port = await freePort();
  const store = `s3://nowhere/x?endpoint=${encodeURIComponent(`http://127.0.0.1:${port}`)}&path_style=true&region=us-east-1`;
  const env = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };
  const checked = await runCli(['run', ws.pipeline, '--store', store], { env });
  assert.equal(checked.code, 2, checked.stderr.slice(-2000));
  assert.match(checked.stderr, /^FAILED +store +.*cannot reach s3:\/\/nowhere\/x/m);
  const res = await runCli(['run', ws.pipeline, '--store', store, '--skip-checks'], { env });
  assert.equal(res.code, 5, res.stderr.slice(-2000));
  assert.match(res.stderr, /cannot reach s3:\/\/nowhere\/x \(ECONNREFUSED.*nothing is lost, re-run later/);
  assert.doesNotMatch(res.stderr, /\n\s+at /);
});
