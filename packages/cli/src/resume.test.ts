import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { openStore } from '@hogport/store';
import { logLines, randomBucket, runCli, startFakePostHog, startCli, startMoto } from '@hogport/testkit';
import { allText, readJson, walk, workspace } from './e2e.helpers.js';

const KEY = 'phc_e2e_project_key_must_never_leak_7f3a';

async function manifests(storeDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of await walk(path.join(storeDir, 'e2e/manifests'))) {
    out.set(f.replace(/\.json$/, ''), (await readJson(path.join(storeDir, 'e2e/manifests', f))).attempt);
  }
  return out;
}

test('after SIGKILL mid-run, a re-run does only the unfinished chunks and ends as an uninterrupted run does', async (t) => {
  const server = await startFakePostHog({ token: KEY, delayMs: 60 });
  const clean = await startFakePostHog({ token: KEY });
  t.after(async () => { await server.close(); await clean.close(); });
  const destination = (url: string) => `{ type: posthog, host: "${url}", batchMaxEvents: 50, concurrency: 2 }`;
  const ws = await workspace({ files: 10, perFile: 300, destination: destination(server.url) });
  const env = { POSTHOG_PROJECT_API_KEY: KEY };

  const first = startCli(['run', ws.pipeline], { env });
  for (;;) {
    const loaded = [...(await manifests(ws.storeDir)).keys()].filter((k) => k.startsWith('load/')).length;
    if (loaded >= 3) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  first.child.kill('SIGKILL');
  const killed = await first.done;
  assert.equal(killed.signal, 'SIGKILL');
  const before = await manifests(ws.storeDir);
  assert.ok(before.size < 30, 'the kill came before the run finished');

  const second = await runCli(['run', ws.pipeline], { env });
  assert.equal(second.code, 0, second.stderr);
  const after = await manifests(ws.storeDir);
  assert.equal(after.size, 30);
  for (const [key, attempt] of before) assert.equal(after.get(key), attempt, `${key} was redone`);
  const redone = logLines(second.stderr).filter((l) => l.msg === 'chunk started').map((l) => `${l.stage}/${l.chunk}`).sort();
  const unfinished = [...after.keys()].filter((k) => !before.has(k)).sort();
  assert.deepEqual(redone, unfinished);

  // An uninterrupted run of the same export, elsewhere: same events, same uuids, same timestamps.
  const ref = await workspace({ files: 10, perFile: 300, destination: destination(clean.url) });
  assert.equal((await runCli(['run', ref.pipeline], { env })).code, 0);
  const byUuid = (events: Array<Record<string, unknown>>) => new Map(events.map((e) => [e.uuid as string, JSON.stringify(e)]));
  const got = byUuid(server.events);
  const want = byUuid(clean.events);
  assert.equal(want.size, 3000);
  assert.equal(clean.events.length, 3000);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [uuid, json] of want) assert.equal(got.get(uuid), json);
  // Re-sends are bounded by what was in flight when the process died.
  assert.ok(server.events.length - 3000 <= 2 * 300, `re-sent ${server.events.length - 3000} events`);
  for (const r of server.requests) assert.equal(r.historical_migration, true);

  // The project key reached the server, and nothing else: not the store, not the logs.
  assert.ok(!(await allText(ws.storeDir)).includes(KEY));
  assert.ok(!killed.stderr.includes(KEY) && !second.stderr.includes(KEY));
});

test('two transform processes on one s3:// store never process a chunk twice', async (t) => {
  const moto = await startMoto();
  t.after(() => moto.stop());
  const uri = await moto.bucket(randomBucket(), 'migrations');
  const ws = await workspace({ files: 16, perFile: 200 });
  const extract = await runCli(['extract', ws.pipeline, '--store', uri]);
  assert.equal(extract.code, 0, extract.stderr);

  const a = startCli(['transform', ws.pipeline, '--store', uri, '--worker-id', 'worker-a', '--concurrency', '3']);
  const b = startCli(['transform', ws.pipeline, '--store', uri, '--worker-id', 'worker-b', '--concurrency', '3']);
  const [ra, rb] = await Promise.all([a.done, b.done]);
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 0, rb.stderr);
  const started = [...logLines(ra.stderr), ...logLines(rb.stderr)].filter((l) => l.msg === 'chunk started').map((l) => l.chunk as string);
  assert.equal(started.length, 16, `chunks started: ${started.join(' ')}`);
  assert.equal(new Set(started).size, 16);

  const store = openStore(uri);
  t.after(() => store.close());
  const events: string[] = [];
  for await (const o of store.list('e2e/events/')) events.push(o.key);
  assert.equal(events.length, 16, 'one events object per chunk: no loser wrote output');
  const committed = new Set<string>();
  for await (const o of store.list('e2e/manifests/transform/')) committed.add(o.key);
  assert.equal(committed.size, 16);
  const claims: string[] = [];
  for await (const o of store.list('e2e/claims/')) claims.push(o.key);
  assert.deepEqual(claims, [], 'claims are released after commit');
});

test('a claim left on a committed chunk by a process killed after its commit shows in status, and the next run removes it', async () => {
  const ws = await workspace({ files: 2, perFile: 20 });
  assert.equal((await runCli(['run', ws.pipeline, '--skip-checks'])).code, 0);
  // What a kill between the commit and the claim's removal leaves: a claim naming the committed attempt.
  const m = await readJson(path.join(ws.storeDir, 'e2e/manifests/load/part-000.jsonl.gz.json'));
  const claimKey = path.join(ws.storeDir, 'e2e/claims/load/part-000.jsonl.gz.json');
  const { mkdir, writeFile, access } = await import('node:fs/promises');
  await mkdir(path.dirname(claimKey), { recursive: true });
  const now = Date.now();
  await writeFile(claimKey, JSON.stringify({
    kind: 'hogport.claim', version: 1, stage: 'load', chunk: 'part-000.jsonl.gz', worker: 'gone:1', host: 'elsewhere', pid: 1,
    attempt: m.attempt, acquiredAt: new Date(now - 1000).toISOString(), expiresAt: new Date(now + 600_000).toISOString(),
  }));
  const status = await runCli(['status', ws.pipeline]);
  assert.match(status.stdout, /load part-000\.jsonl\.gz: done, with a claim left by gone:1 after its commit; the next run removes it/);
  const json = JSON.parse((await runCli(['status', ws.pipeline, '--json'])).stdout);
  assert.equal(json.totals.load.done, 2, 'the chunk counts as done, not running');
  const again = await runCli(['run', ws.pipeline, '--skip-checks']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /load: 0 done, 2 already done/);
  await assert.rejects(access(claimKey), 'the leftover claim is gone');
  assert.doesNotMatch((await runCli(['status', ws.pipeline])).stdout, /claim left by/);
});
