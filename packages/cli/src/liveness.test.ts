import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { crashIn, logLines, runCli, segmentMessages, startCli, startFakePostHog } from '@hogport/testkit';
import { readJson, walk, workspace } from './e2e.helpers.js';

const KEY = 'phc_liveness';

/** A workspace of `files` chunks mapped by a declared mapping: some of them broken beyond one record. */
async function filesWorkspace(files: Record<string, string | Buffer>, extra = ''): Promise<{ dir: string; pipeline: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-live-'));
  await mkdir(path.join(dir, 'src'));
  for (const [name, data] of Object.entries(files)) await writeFile(path.join(dir, 'src', name), data);
  const pipeline = path.join(dir, 'p.yaml');
  await writeFile(pipeline, [
    'id: live', 'store: ./store',
    'source:', '  type: files', '  location: ./src',
    extra || '  mapping: { event: name, distinctId: [user], timestamp: { field: at, format: iso }, uuid: id }',
    'destination: { type: dry-run }',
  ].join('\n'));
  return { dir, pipeline };
}

const record = (i: number) => JSON.stringify({ name: 'e', user: `u${i}`, at: '2024-01-01T00:00:00Z', id: `id-${i}` });

test('node\'s reports of an unhandled error or a stack trace count as a crash; hogport\'s own logs do not', () => {
  const unheard = spawnSync(process.execPath, ['-e', 'new (require("node:stream").PassThrough)().destroy(new Error("boom"))'], { encoding: 'utf8' });
  assert.equal(crashIn(unheard.stderr), "an unhandled 'error' event");
  const rejected = spawnSync(process.execPath, ['-e', 'Promise.reject(new Error("boom"))'], { encoding: 'utf8' });
  assert.ok(crashIn(rejected.stderr), rejected.stderr);
  const thrown = spawnSync(process.execPath, ['-e', 'throw new RangeError("boom")'], { encoding: 'utf8' });
  assert.equal(crashIn(thrown.stderr), 'a stack trace');
  const log = JSON.stringify({ level: 50, error: { code: 'E_UNEXPECTED', stack: 'Error: boom\n    at f (file:///x.js:1:2)' }, msg: 'unexpected error' });
  assert.equal(crashIn(`${log}\nhogport: unexpected error (E_UNEXPECTED): boom\ntransform x: E_FILE_UNREADABLE x is not valid`), undefined);
});

test('a chunk that cannot be read in the main thread fails alone: its failure is recorded, the others load, nothing crashes', async () => {
  const good = `${[1, 2, 3].map(record).join('\n')}\n`;
  const ws = await filesWorkspace({
    'broken.json': `[${record(10)},${record(11)},{"name":`,
    'cut.jsonl.gz': gzipSync(good).subarray(0, 20),
    'good.jsonl': good,
  });
  const run = await runCli(['run', ws.pipeline, '--threads', '1']);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /transform broken\.json: E_FILE_UNREADABLE/);
  assert.match(run.stderr, /transform cut\.jsonl\.gz: E_RAW_UNREADABLE /);
  const failures = (await walk(path.join(ws.dir, 'store', 'live', 'failures'))).sort();
  assert.deepEqual(failures, ['transform/broken.json.json', 'transform/cut.jsonl.gz.json']);
  assert.equal((await readJson(path.join(ws.dir, 'store', 'live', 'failures', 'transform', 'broken.json.json'))).error.code, 'E_FILE_UNREADABLE');
  const status = JSON.parse((await runCli(['status', ws.pipeline, '--json'])).stdout) as { chunks: Array<{ chunk: string; load: { status: string; counts?: { out: number } } }> };
  assert.deepEqual(status.chunks.map((c) => [c.chunk, c.load.status]).sort(), [['broken.json', 'waiting'], ['cut.jsonl.gz', 'waiting'], ['good.jsonl', 'done']]);
  // No claim is left behind by the failed chunks.
  assert.deepEqual((await walk(path.join(ws.dir, 'store', 'live'))).filter((f) => f.startsWith('claims/')), []);
});

test('a missing or broken mapping module is refused before any work, with exit code 2', async () => {
  const missing = await filesWorkspace({ 'a.jsonl': `${record(1)}\n` }, '  module: ./nowhere.mjs');
  const res = await runCli(['run', missing.pipeline]);
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, /E_MAPPING_MODULE|mapping module .*nowhere\.mjs does not exist/);
  assert.deepEqual(await walk(path.join(missing.dir, 'store')), [], 'nothing was extracted');

  const broken = await filesWorkspace({ 'a.jsonl': `${record(1)}\n` }, '  module: ./map.ts');
  await writeFile(path.join(broken.dir, 'map.ts'), 'export default (r: any) => ({ event: r.name, distinct_id: r.user, timestamp: r.at, properties: { } ;\n');
  const res2 = await runCli(['transform', broken.pipeline]);
  assert.equal(res2.code, 2, res2.stderr);
  assert.match(res2.stderr, /mapping module .*map\.ts does not compile/);
});

test('usage errors exit 2 with one line and a hint, not the whole help', async () => {
  for (const args of [['bogus'], ['run', 'x.yaml', '--bogus'], ['run']]) {
    const res = await runCli(args);
    assert.equal(res.code, 2, args.join(' '));
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 2, res.stderr);
    assert.match(lines[0]!, /^error: /);
    assert.match(lines[1]!, /hogport --help/);
  }
});

test('SIGTERM stops a load within seconds and the next run resumes: every event arrives, every chunk is committed once', async (t) => {
  const posthog = await startFakePostHog({ token: KEY, delayMs: 400 });
  t.after(() => posthog.close());
  const ws = await workspace({ files: 6, perFile: 200, destination: `{ type: posthog, host: "${posthog.url}", apiKeyEnv: LIVE_KEY, batchMaxEvents: 50, concurrency: 1 }` });
  const env = { LIVE_KEY: KEY };
  for (const stage of ['extract', 'transform']) assert.equal((await runCli([stage, ws.pipeline])).code, 0);
  const { child, done } = startCli(['load', ws.pipeline, '--concurrency', '1'], { env });
  while (posthog.accepted.events < 150) await new Promise((r) => setTimeout(r, 50));
  const at = Date.now();
  child.kill('SIGTERM');
  const stopped = await done;
  assert.ok(Date.now() - at < 5000, `stopped after ${Date.now() - at} ms`);
  assert.equal(stopped.code, 143, stopped.stderr);
  assert.match(stopped.stderr, /SIGTERM: stopping/);
  assert.ok(posthog.accepted.uuids.size < 1200, 'it stopped before the end');

  const resumed = await runCli(['load', ws.pipeline], { env });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(posthog.accepted.uuids.size, 1200);
  const manifests = await Promise.all((await walk(path.join(ws.storeDir, 'e2e', 'manifests', 'load'))).map((f) => readJson(path.join(ws.storeDir, 'e2e', 'manifests', 'load', f))));
  assert.equal(manifests.length, 6);
  assert.ok(manifests.every((m: { attemptNumber: number }) => m.attemptNumber === 1));
});

test('a stage started before its upstream waits for it and then does its work; with --no-wait it exits 4', async () => {
  const ws = await workspace({ files: 3, perFile: 50 });
  const early = await runCli(['load', ws.pipeline, '--no-wait']);
  assert.equal(early.code, 4, early.stderr);
  assert.match(early.stderr, /load: 0 done, 0 already done, 0 failed, 3 waiting for an earlier stage/);

  const env = { HOGPORT_WAIT_POLL_MS: '200' };
  const transform = startCli(['transform', ws.pipeline], { env });
  let stderr = '';
  transform.child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  while (!/waiting for 3 chunk\(s\) that extract has not committed yet/.test(stderr)) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await runCli(['extract', ws.pipeline])).code, 0);
  const res = await transform.done;
  assert.equal(res.code, 0, res.stderr);
  assert.equal(logLines(res.stderr).filter((l) => l.msg === 'chunk committed').length, 3);
});

test('events of an identity source never load before their identities: a failed identities chunk holds them back until it loads', async (t) => {
  let outage = true;
  const posthog = await startFakePostHog({ token: KEY, unavailableFor: (e) => outage && e.event === '$identify' });
  t.after(() => posthog.close());
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-ident-'));
  await mkdir(path.join(dir, 'logs'));
  const messages = segmentMessages({ seed: 7, count: 120, start: new Date(Date.UTC(2024, 0, 1)) });
  await writeFile(path.join(dir, 'logs', 'a.gz'), gzipSync(messages.map((m) => JSON.stringify(m)).join('\n')));
  const pipeline = path.join(dir, 'p.yaml');
  await writeFile(pipeline, `id: ident\nstore: ./store\nsource: { type: segment, location: ./logs }\ndestination: { type: posthog, host: "${posthog.url}", apiKeyEnv: LIVE_KEY, maxAttempts: 2, retryBudget: 2 }\n`);
  const env = { LIVE_KEY: KEY };

  const first = await runCli(['run', pipeline], { env });
  assert.equal(first.code, 1, first.stderr);
  assert.match(first.stderr, /load ~identities-\d+: E_POSTHOG_UNAVAILABLE/);
  assert.match(first.stderr, /events load only after every identity chunk has/);
  assert.equal(posthog.events.length, 0, 'no event went out before its $identify');

  outage = false;
  const second = await runCli(['run', pipeline], { env });
  assert.equal(second.code, 0, second.stderr);
  const chunks = posthog.events.map((e) => String((e.properties as Record<string, unknown>).$hogport_chunk));
  const lastIdentity = chunks.findLastIndex((c) => c.startsWith('~identities'));
  const firstEvent = chunks.findIndex((c) => !c.startsWith('~'));
  assert.ok(lastIdentity >= 0 && lastIdentity < firstEvent, 'identities first');
  assert.equal(new Set(posthog.events.map((e) => e.uuid)).size, posthog.events.length, 'each event once');
});
