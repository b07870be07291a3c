import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { openStore, type ObjectInfo } from '@hogport/store';
import { mixpanelIdentityProject, posthogInstance, randomBucket, runCli, startCli, startFakePostHog, startMixpanelApi, startMoto } from '@hogport/testkit';
import { workspace } from './e2e.helpers.js';

const KEY = 'phc_gc_destination';
const PERSONAL = 'phx_gc_personal';
const env = { POSTHOG_PROJECT_API_KEY: KEY, SOURCE_POSTHOG_PERSONAL_API_KEY: PERSONAL, POSTHOG_PERSONAL_API_KEY: PERSONAL, MIXPANEL_SERVICE_ACCOUNT_USER: 'sa.user', MIXPANEL_SERVICE_ACCOUNT_SECRET: 'sa_secret' };

interface GcJson {
  orphans: Array<{ key: string; bytes: number; kind: string; stage: string; chunk: string; attempt: string; of?: string; digest?: string }>;
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

/** The merge's indexes and shard records, as the store holds them: what each names, by digest. */
async function mergeRecords(root: string): Promise<Map<string, { digest: string; names: string[] }>> {
  const out = new Map<string, { digest: string; names: string[] }>();
  for (const [folder, field] of [['parts', 'parts'], ['shards', 'outputs']] as const) {
    const dir = path.join(root, 'merge', folder);
    for (const name of (await readdir(dir)).filter((n) => n.endsWith('.json'))) {
      const r = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as { digest: string } & Record<string, Record<string, { key: string }>>;
      out.set(`${folder}/${name}`, { digest: r.digest, names: Object.values(r[field] ?? {}).map((o) => o.key) });
    }
  }
  return out;
}

test('after a re-extract with late events, gc takes the merge parts and answers the new merge superseded and the ledger the new load replaced, and the migration goes on as before', { timeout: 180_000 }, async (t) => {
  const days = ['2024-02-01', '2024-02-02', '2024-02-03'];
  const project = mixpanelIdentityProject({ seed: 7, days, perDay: 90, idMerge: 'simplified' });
  const api = await startMixpanelApi({ user: env.MIXPANEL_SERVICE_ACCOUNT_USER, secret: env.MIXPANEL_SERVICE_ACCOUNT_SECRET, projectId: '77', data: project.data, profiles: project.profiles, pageSize: 40, limits: { perHour: 1000, perSecond: 1000 } });
  const posthog = await startFakePostHog({ token: KEY });
  t.after(async () => { await api.close(); await posthog.close(); });
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-gc-merge-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, [
    'id: mp',
    'store: ./store',
    `source: { type: mixpanel, exportEndpoint: "${api.url}", queryEndpoint: "${api.url}", projectId: 77, start: "2024-02-01", end: "2024-02-04", profiles: true }`,
    'merge: { shards: 3 }',
    `destination: { type: posthog, host: "${posthog.url}", batchMaxEvents: 50 }`,
  ].join('\n'));
  const uri = path.join(dir, 'store');
  const root = path.join(uri, 'mp');
  const cli = async (...args: string[]) => {
    const r = await runCli(args, { env });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  };
  const day = days[1]!;
  /** Events of new devices of the same members, late to the day: new links, new person facts. */
  const lateFor = (seed: number) => mixpanelIdentityProject({ seed, days: [day], perDay: 12, idMerge: 'simplified' }).data.get(day)!;
  const reextract = async (seed: number) => {
    project.data.set(day, [...project.data.get(day)!, ...lateFor(seed)]);
    await cli('extract', file, '--force', '--chunks', day);
    await cli('run', file);
  };
  /** Every loaded chunk's ledger, as its load manifest names it. */
  const ledgers = async () => {
    const out = new Map<string, string>();
    for (const name of await readdir(path.join(root, 'manifests', 'load'))) {
      const m = JSON.parse(await readFile(path.join(root, 'manifests', 'load', name), 'utf8')) as { outputs: Array<{ key: string; role: string }> };
      out.set(name.replace(/\.json$/, ''), m.outputs.find((o) => o.role === 'ledger')!.key);
    }
    return out;
  };

  await cli('run', file);
  const records = await mergeRecords(root);
  const loaded = await ledgers();
  assert.equal((await gc(file, uri, '--min-age-hours', '0')).orphans.length, 0, 'a migration run once leaves nothing behind');

  await reextract(8);
  const sent = posthog.events.length;
  const now = await mergeRecords(root);
  const reloaded = await ledgers();
  // The day, and the persons whose facts its late events changed, were loaded again.
  const redone = [...loaded.keys()].filter((c) => reloaded.get(c) !== loaded.get(c));
  assert.ok(redone.includes(day) && redone.some((c) => c.startsWith('~persons-')) && redone.every((c) => c === day || c.startsWith('~persons-')), redone.join(' '));
  // What the records named before and name no more: the parts of the re-partitioned group, the answers of shards merged again.
  const superseded = [...records].flatMap(([id, r]) => (now.get(id)!.digest === r.digest ? [] : r.names.filter((k) => !now.get(id)!.names.includes(k)))).sort();
  assert.ok(superseded.some((k) => k.includes('/merge/parts/')) && superseded.some((k) => k.includes('/merge/answers/')), 'the re-extract changed a group and the shards it feeds');
  const before = await listing(uri, 'mp/');

  const young = await gc(file, uri);
  assert.ok(young.orphans.length === 0 && young.kept.young >= superseded.length + 1, 'superseded a moment ago: kept');
  const listed = await gc(file, uri, '--min-age-hours', '0');
  const merged = listed.orphans.filter((o) => o.kind.startsWith('merge-'));
  assert.deepEqual(merged.map((o) => o.key), superseded);
  assert.ok(merged.every((o) => records.get(`${o.kind === 'merge-part' ? 'parts' : 'shards'}/${o.of}.json`)!.digest === o.digest), 'each of a digest its record had before');
  assert.deepEqual(listed.orphans.filter((o) => o.kind === 'ledger').map((o) => o.key), redone.map((c) => loaded.get(c)!).sort());
  assert.ok(listed.orphans.filter((o) => !o.kind.startsWith('merge-')).every((o) => redone.includes(o.chunk)), 'only the chunks done again left stage outputs behind');
  const text = await runCli(['gc', file, '--store', uri, '--min-age-hours', '0'], { env });
  assert.match(text.stdout, /merge: group g\d\d's part for (ids|users)-\d, superseded \(digest \w+\)/);
  assert.match(text.stdout, /merge: ids-\d's answers to users-\d, superseded/);

  const deleted = await gc(file, uri, '--min-age-hours', '0', '--delete');
  assert.deepEqual(deleted.deleted, { objects: listed.orphans.length, bytes: listed.bytes });
  const gone = new Set(listed.orphans.map((o) => o.key));
  assert.deepEqual([...(await listing(uri, 'mp/')).keys()], [...before.keys()].filter((k) => !gone.has(k)), 'exactly the orphans went');

  // The migration goes on: a re-run sends nothing, and more late events send only themselves and their links, once.
  await cli('run', file);
  assert.equal(posthog.events.length, sent, 'nothing new was loaded');
  const later = lateFor(9);
  await reextract(9);
  const fresh = posthog.events.slice(sent);
  const plain = fresh.filter((e) => !['$identify', '$create_alias', '$set'].includes(e.event as string));
  assert.equal(plain.length, later.length, 'exactly the later events');
  const links = posthog.events.filter((e) => e.event === '$identify').map((e) => `${e.distinct_id} ${(e.properties as Record<string, unknown>).$anon_distinct_id}`);
  assert.equal(new Set(links).size, links.length, 'every link once');
  assert.ok(fresh.some((e) => e.event === '$identify'), 'the later devices are linked');
});

test('gc refuses a safe age that is not a number of hours', async () => {
  const ws = await workspace({ files: 1, perFile: 10 });
  const r = await runCli(['gc', ws.pipeline, '--min-age-hours', 'soon']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--min-age-hours takes a number of hours, 0 or more, not "soon"/);
});
