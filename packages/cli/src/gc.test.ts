import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { openStore, type ObjectInfo } from '@hogport/store';
import { posthogInstance, randomBucket, runCli, startCli, startFakePostHog, startMoto } from '@hogport/testkit';
import { workspace } from './e2e.helpers.js';

const KEY = 'phc_gc_destination';
const PERSONAL = 'phx_gc_personal';
const env = { POSTHOG_PROJECT_API_KEY: KEY, SOURCE_POSTHOG_PERSONAL_API_KEY: PERSONAL, POSTHOG_PERSONAL_API_KEY: PERSONAL };

interface GcJson {
  orphans: Array<{ key: string; bytes: number; stage: string; chunk: string; attempt: string }>;
  bytes: number;
  kept: { named: number; held: number; young: number; unsure: number };
  deleted?: { objects: number; bytes: number };
}

async function listing(uri: string, prefix: string): Promise<Map<string, ObjectInfo>> {
  const store = openStore(uri);
  try {
    const out = new Map<string, ObjectInfo>();
    for await (const o of store.list(prefix)) out.set(o.key, o);
    return out;
  } finally {
    await store.close();
  }
}

async function gc(file: string, store: string, ...args: string[]): Promise<GcJson> {
  const r = await runCli(['gc', file, '--store', store, '--json', ...args], { env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as GcJson;
}

/**
 * An extract killed with SIGKILL while it pages through a PostHog source leaves the pages it wrote
 * under its attempt; the re-run extracts the chunk again under a new one, so those pages are what no
 * manifest will ever name.
 */
async function killedExtract(t: TestContext, store: (dir: string) => Promise<string>): Promise<void> {
  const { events } = posthogInstance({ seed: 51, start: new Date(Date.UTC(2024, 4, 1)), days: 1, count: 600, persons: 10 });
  const source = await startFakePostHog({ token: 'unused', query: { projectId: '1', personalKey: PERSONAL }, source: { events }, sourceDelayMs: 150 });
  const cloud = await startFakePostHog({ token: KEY, query: { projectId: '42', personalKey: PERSONAL } });
  t.after(async () => { await source.close(); await cloud.close(); });
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-gc-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, `id: gc\nstore: ./unused\nsource: { type: posthog, host: "${source.url}", projectId: 1, start: "2024-05-01", end: "2024-05-02", pageSize: 50, persons: false }\ndestination: { type: posthog, host: "${cloud.url}", batchMaxEvents: 100 }\nconcurrency: 1\n`);
  const uri = await store(dir);

  const first = startCli(['extract', file, '--store', uri], { env });
  let raw = new Map<string, ObjectInfo>();
  for (let i = 0; raw.size < 3; i++) {
    assert.ok(i < 1000, 'the extract wrote pages');
    await new Promise((r) => setTimeout(r, 20));
    raw = await listing(uri, 'gc/raw/');
  }
  first.child.kill('SIGKILL');
  assert.equal((await first.done).signal, 'SIGKILL');
  raw = await listing(uri, 'gc/raw/');
  assert.equal((await listing(uri, 'gc/manifests/')).size, 0, 'killed before its commit');
  const killed = [...raw.keys()].sort();
  assert.equal(new Set(killed.map((k) => k.split('/')[3])).size, 1, 'one attempt wrote them');

  // Its claim is still within its lease: the attempt could still be writing, so nothing is listed.
  const whileClaimed = await gc(file, uri, '--min-age-hours', '0');
  assert.deepEqual([whileClaimed.orphans.length, whileClaimed.kept.held], [0, killed.length]);

  const rerun = await runCli(['run', file, '--store', uri], { env });
  assert.equal(rerun.code, 0, rerun.stderr);
  const sent = cloud.events.length;
  const arrived = new Set(cloud.events.map((e) => e.uuid));
  assert.ok(events.every((e) => arrived.has(e.uuid)), 'every event arrived');
  const before = await listing(uri, 'gc/');

  // Younger than the safe age (a day by default): listed only when told they are old enough.
  const young = await gc(file, uri);
  assert.deepEqual([young.orphans.length, young.kept.young], [0, killed.length]);
  const listed = await gc(file, uri, '--min-age-hours', '0');
  assert.deepEqual(listed.orphans.map((o) => o.key).sort(), killed);
  assert.equal(listed.bytes, killed.reduce((a, k) => a + raw.get(k)!.size, 0));
  assert.ok(listed.orphans.every((o) => o.stage === 'extract' && o.chunk === '2024-05-01'));
  assert.equal(listed.deleted, undefined);
  assert.deepEqual([...(await listing(uri, 'gc/')).keys()], [...before.keys()], 'listing deletes nothing');
  const text = await runCli(['gc', file, '--store', uri, '--min-age-hours', '0'], { env });
  assert.match(text.stdout, new RegExp(`${killed.length} orphaned outputs .*, [\\d.]+ (B|KB) in all:`));
  assert.match(text.stdout, new RegExp(`nothing deleted: hogport gc ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --delete removes them`));

  const deleted = await gc(file, uri, '--min-age-hours', '0', '--delete');
  assert.deepEqual(deleted.deleted, { objects: killed.length, bytes: listed.bytes });
  const after = await listing(uri, 'gc/');
  assert.deepEqual([...after.keys()], [...before.keys()].filter((k) => !killed.includes(k)), 'exactly the orphans went');
  assert.equal((await gc(file, uri, '--min-age-hours', '0')).orphans.length, 0);

  // The migration is whole: a re-run sends nothing, and PostHog holds every event once.
  const again = await runCli(['run', file, '--store', uri], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(cloud.events.length, sent, 'nothing new was loaded');
  const verified = await runCli(['verify', file, '--store', uri, '--project-id', '42', '--host', cloud.url], { env });
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
}

/** A finished migration, with rejects, the dry-run outbox and a sample lane: gc has nothing to take. */
async function completed(store: (dir: string) => Promise<string>): Promise<void> {
  const ws = await workspace({ files: 3, perFile: 200, badLines: ['{ not json', '{"event":"x"}'] });
  const uri = await store(ws.dir);
  for (const args of [['run', ws.pipeline], ['run', ws.pipeline, '--sample', '50']]) {
    const r = await runCli([...args, '--store', uri], { env });
    assert.equal(r.code, 0, r.stderr);
  }
  const before = await listing(uri, 'e2e/');
  for (const kind of ['raw/', 'events/', 'rejects/transform/', 'outbox/', 'samples/p50/outbox/', 'manifests/', 'samples/p50/manifests/load/', 'reports/']) {
    assert.ok([...before.keys()].some((k) => k.startsWith(`e2e/${kind}`)), `the migration has ${kind}`);
  }
  const r = await gc(ws.pipeline, uri, '--min-age-hours', '0', '--delete');
  assert.deepEqual([r.orphans.length, r.deleted], [0, { objects: 0, bytes: 0 }]);
  assert.ok(r.kept.named > 0);
  assert.deepEqual([...(await listing(uri, 'e2e/')).entries()], [...before.entries()], 'every object is kept, unchanged');
  const status = JSON.parse((await runCli(['status', ws.pipeline, '--store', uri, '--json'])).stdout) as { totals: Record<string, { done: number }> };
  assert.deepEqual(Object.values(status.totals).map((s) => s.done), [3, 3, 3]);
}

const local = async (dir: string) => path.join(dir, 'store');

test('gc lists the pages a killed extract left, only once no live claim holds them and they are old enough, and --delete removes exactly them (local store)', { timeout: 120_000 }, async (t) => {
  await killedExtract(t, local);
});

test('gc lists the pages a killed extract left and --delete removes exactly them (s3 store)', { timeout: 120_000 }, async (t) => {
  const moto = await startMoto();
  t.after(() => moto.stop());
  await killedExtract(t, () => moto.bucket(randomBucket(), 'gc'));
});

test('gc keeps every object of a completed migration, sample lane included (local store)', { timeout: 120_000 }, async () => {
  await completed(local);
});

test('gc keeps every object of a completed migration, sample lane included (s3 store)', { timeout: 120_000 }, async (t) => {
  const moto = await startMoto();
  t.after(() => moto.stop());
  await completed(() => moto.bucket(randomBucket(), 'done'));
});

test('gc refuses a safe age that is not a number of hours', async () => {
  const ws = await workspace({ files: 1, perFile: 10 });
  const r = await runCli(['gc', ws.pipeline, '--min-age-hours', 'soon']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--min-age-hours takes a number of hours, 0 or more, not "soon"/);
});
