import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { jsonLines, mixpanelIdentityProject, runCli, startFakePostHog, startMixpanelApi } from '@hogport/testkit';
import { outboxEvents, readJson, walk } from './e2e.helpers.js';

const KEY = 'phc_sample_project_key';
const env = { POSTHOG_PROJECT_API_KEY: KEY, MIXPANEL_SERVICE_ACCOUNT_USER: 'sa.user', MIXPANEL_SERVICE_ACCOUNT_SECRET: 'sa_secret' };
type Sent = { uuid: string; event: string; distinct_id: string; properties: Record<string, any> };

/** Persons as the events show them: ids joined by every $identify, $create_alias and $merge_dangerously. */
function personsOf(events: readonly Sent[]): (id: string) => string {
  const parent = new Map<string, string>();
  const find = (id: string): string => {
    let root = id;
    while (parent.has(root) && parent.get(root) !== root) root = parent.get(root)!;
    return root;
  };
  for (const e of events) {
    const other = e.event === '$identify' ? e.properties.$anon_distinct_id : e.event === '$create_alias' || e.event === '$merge_dangerously' ? e.properties.alias : undefined;
    if (typeof other !== 'string') continue;
    const [a, b] = [find(e.distinct_id), find(other)];
    if (a !== b) parent.set(b, a);
  }
  return find;
}

/** The sampled events form whole persons: of each person, every event the full load sends, or none. */
function assertWholePersons(sampled: readonly Sent[], full: readonly Sent[]): { in: Set<string>; out: Set<string> } {
  const person = personsOf(full);
  const fullBy = new Map(full.map((e) => [e.uuid, JSON.stringify(e)]));
  for (const e of sampled) assert.equal(JSON.stringify(e), fullBy.get(e.uuid), `the sample sent ${e.uuid} as the full load does`);
  const sent = new Set(sampled.map((e) => e.uuid));
  const taken = new Set(sampled.map((e) => person(e.distinct_id)));
  const left = new Set<string>();
  for (const e of full) {
    const p = person(e.distinct_id);
    if (taken.has(p)) assert.ok(sent.has(e.uuid), `${e.event} ${e.uuid} of sampled person ${p} (distinct_id ${e.distinct_id}) was not sent`);
    else left.add(p);
  }
  return { in: taken, out: left };
}

/** Every event the transform manifests name (derived chunks included): what a full load must send. */
async function transformed(storeDir: string, migration: string): Promise<Set<string>> {
  const uuids = new Set<string>();
  for (const f of (await walk(path.join(storeDir, migration, 'manifests/transform')))) {
    const m = await readJson(path.join(storeDir, migration, 'manifests/transform', f));
    for (const o of m.outputs.filter((x: { role: string }) => x.role === 'events')) {
      for (const line of gunzipSync(await readFile(path.join(storeDir, o.key))).toString('utf8').split('\n')) if (line) uuids.add((JSON.parse(line) as Sent).uuid);
    }
  }
  return uuids;
}

test('a sampled Mixpanel migration sends whole persons (anonymous events, $identify, $set), the same on a re-run, in its own lane; the full load afterwards sends everything', async (t) => {
  const project = mixpanelIdentityProject({ seed: 11, days: ['2024-02-01', '2024-02-02', '2024-02-03'], perDay: 120, idMerge: 'simplified' });
  const api = await startMixpanelApi({ user: env.MIXPANEL_SERVICE_ACCOUNT_USER, secret: env.MIXPANEL_SERVICE_ACCOUNT_SECRET, projectId: '77', data: project.data, profiles: project.profiles, pageSize: 50, limits: { perHour: 1000, perSecond: 1000 } });
  const full = await startFakePostHog({ token: KEY });
  const trial = await startFakePostHog({ token: KEY });
  t.after(async () => { await api.close(); await full.close(); await trial.close(); });
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-sample-mp-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, [
    'id: mp-sample',
    'store: ./store',
    `source: { type: mixpanel, exportEndpoint: "${api.url}", queryEndpoint: "${api.url}", projectId: 77, start: "2024-02-01", end: "2024-02-04", profiles: true }`,
    `destination: { type: posthog, host: "${full.url}", batchMaxEvents: 40 }`,
    `sample: { destination: { type: posthog, host: "${trial.url}", batchMaxEvents: 40 } }`,
  ].join('\n'));

  const first = await runCli(['run', file, '--sample', '30'], { env });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /sampled run p30: a test migration of 30% of persons/);
  assert.match(first.stderr, /scope: 30% of persons: \d+ of \d+ linked persons/);
  assert.equal(full.requests.length, 0, 'nothing went to the full destination');
  const sampled = [...trial.events] as Sent[];
  const requests = trial.requests.length;

  const again = await runCli(['run', file, '--sample', '30'], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(trial.requests.length, requests, 'a re-run of the same sample sends nothing');

  const status = await runCli(['status', file]);
  assert.match(status.stdout, /p30: \d+ chunks loaded, events in\/out\/rejected\/dropped \d+\/\d+\/0\/\d+ \(\d+ not in the sample\)/);
  const report = JSON.parse((await runCli(['status', file, '--json'])).stdout) as { chunks: unknown[]; totals: { load: { done: number } }; samples: Array<{ sample: string; loaded: number; counts: { out: number } }> };
  assert.equal(report.totals.load.done, 0, 'the full load has not started');
  assert.deepEqual(report.samples.map((v) => [v.sample, v.loaded, v.counts.out]), [['p30', report.chunks.length, sampled.length]], 'every chunk, identities and persons included, loaded in the lane');
  const scope = await readJson(path.join(dir, 'store', 'mp-sample', 'samples', 'p30', 'scope.json'));
  const pictured = JSON.parse((await runCli(['report', file, '--sample', '30', '--json'])).stdout) as { sample: string; load: { events: number }; samples: Array<{ sample: string; loaded: number; counts: { out: number }; scope: { clusters: unknown; linkedIds: unknown; persons: unknown } }> };
  assert.equal(pictured.sample, 'p30', 'the report of a lane says which');
  assert.equal(pictured.load.events, sampled.length, 'and shows the lane\'s load');
  assert.deepEqual(pictured.samples.map((v) => [v.sample, v.loaded, v.counts.out, v.scope.clusters, v.scope.linkedIds, v.scope.persons]), [['p30', report.chunks.length, sampled.length, scope.clusters, scope.linkedIds, scope.persons]], 'the report shows the scope as drawn');

  const whole = await runCli(['run', file], { env });
  assert.equal(whole.code, 0, whole.stderr);
  const everything = full.events as Sent[];
  const expected = await transformed(path.join(dir, 'store'), 'mp-sample');
  assert.deepEqual(new Set(everything.map((e) => e.uuid)), expected, 'the full load sends every event, as if no sample had run');
  assert.equal(everything.length, expected.size, 'each once');

  const persons = assertWholePersons(sampled, everything);
  assert.ok(persons.in.size > 0 && persons.out.size > 0, `some persons in the sample (${persons.in.size}), some not (${persons.out.size})`);
  const person = personsOf(everything);
  const linked = sampled.filter((e) => e.event === '$identify');
  assert.ok(linked.length > 0, 'the sample links its persons');
  assert.ok(sampled.some((e) => e.event === '$set'), 'and sets their properties');
  assert.ok(linked.some((l) => sampled.some((e) => e.distinct_id === l.properties.$anon_distinct_id && e.event !== '$identify')), 'with their anonymous pre-login events');
  for (const e of sampled.filter((x) => x.event === '$set')) assert.ok(persons.in.has(person(e.distinct_id)));

  // Another percent is another lane: it loads its own sample in full, and a larger one holds the smaller.
  const wider = await runCli(['run', file, '--sample', '60'], { env });
  assert.equal(wider.code, 0, wider.stderr);
  const sixty = trial.events.slice(sampled.length) as Sent[];
  const widerPersons = assertWholePersons(sixty, everything);
  for (const p of persons.in) assert.ok(widerPersons.in.has(p), `${p} of the 30% sample is in the 60% one`);
  assert.ok(widerPersons.in.size > persons.in.size);
  const lanes = await runCli(['status', file, '--json']);
  assert.deepEqual((JSON.parse(lanes.stdout) as { samples: Array<{ sample: string }> }).samples.map((s) => s.sample), ['p30', 'p60']);
  const lane = await runCli(['status', file, '--sample', '30']);
  assert.match(lane.stdout, /load: sample p30: 30% of persons/);
  assert.match(lane.stdout, /load (\d+)\/\1 done/);
  assert.match(lane.stdout, /sample p30 loaded; the full load is shown without --sample/);
});

test('--sample outside (0, 100] exits 2 before any work, naming what it takes', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-sample-usage-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, ['id: usage', 'store: ./store', 'source: { type: posthog-files, location: ./export }', 'destination: { type: dry-run }'].join('\n'));
  for (const [command, value] of [['run', '0'], ['run', '101'], ['load', 'abc'], ['load', '-5'], ['status', '1e-9'], ['run', '']] as const) {
    const res = await runCli([command, file, '--sample', value], { env: {} });
    assert.equal(res.code, 2, `${command} --sample "${value}": ${res.stderr}`);
    assert.match(res.stderr, /--sample takes a percent of persons above 0 and at most 100, like 30 or 0\.5/);
  }
  assert.deepEqual(await walk(path.join(dir, 'store')), [], 'nothing was written');
});

/**
 * A PostHog export whose links travel in its own event files: users seen anonymously, then
 * identified in a later file; aliases; ids never linked. Events carry `n`, their place in the export.
 */
async function linkedExport(perUser: number): Promise<{ dir: string; file: string; events: Sent[] }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-sample-files-'));
  await mkdir(path.join(dir, 'export'));
  const files: Sent[][] = [[], [], []];
  let n = 0;
  const at = (day: number, i: number) => new Date(Date.UTC(2024, 0, 1 + day, 0, 0, i)).toISOString();
  const add = (f: number, e: Omit<Sent, 'uuid'> & { timestamp: string }) => {
    const uuid = createHash('sha256').update(`${n}`).digest('hex');
    files[f]!.push({ ...e, uuid: `${uuid.slice(0, 8)}-${uuid.slice(8, 12)}-4${uuid.slice(13, 16)}-a${uuid.slice(17, 20)}-${uuid.slice(20, 32)}`, properties: { ...e.properties, n: n++ } } as Sent);
  };
  for (let u = 0; u < 30; u++) {
    for (let i = 0; i < perUser; i++) add(0, { event: 'pageview', distinct_id: `anon-${u}`, properties: { path: `/p${i}` }, timestamp: at(0, u * perUser + i) });
    add(1, { event: '$identify', distinct_id: `user-${u}`, properties: { $anon_distinct_id: `anon-${u}` }, timestamp: at(1, u) });
    if (u % 3 === 0) add(1, { event: '$create_alias', distinct_id: `user-${u}`, properties: { alias: `alias-${u}` }, timestamp: at(1, 100 + u) });
    if (u % 3 === 0) add(2, { event: 'purchase', distinct_id: `alias-${u}`, properties: {}, timestamp: at(2, u) });
    for (let i = 0; i < perUser; i++) add(2, { event: 'clicked', distinct_id: `user-${u}`, properties: { i }, timestamp: at(2, 100 + u * perUser + i) });
    add(2, { event: 'visit', distinct_id: `lone-${u}`, properties: {}, timestamp: at(2, 5000 + u) });
  }
  for (const [i, events] of files.entries()) await writeFile(path.join(dir, 'export', `part-${i}.jsonl`), jsonLines(events));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, ['id: linked', 'store: ./store', 'source: { type: posthog-files, location: ./export }', 'destination: { type: dry-run, batchMaxEvents: 25 }'].join('\n'));
  return { dir, file, events: files.flat() };
}

/** The documented rule: a person is in a p% sample when one of its ids' sha256("hogport.sample.v1:" + id) starts below p% of 2^32. */
function drawnBy(percent: number, events: readonly Sent[]): (id: string) => boolean {
  const person = personsOf(events);
  const drawn = (id: string) => createHash('sha256').update(`hogport.sample.v1:${id}`).digest().readUInt32BE(0) < (percent / 100) * 2 ** 32;
  const taken = new Set([...new Set(events.map((e) => e.distinct_id))].filter(drawn).map(person));
  for (const e of events) for (const id of [e.properties.$anon_distinct_id, e.properties.alias]) if (typeof id === 'string' && drawn(id)) taken.add(person(id));
  return (id) => taken.has(person(id));
}

test('a sampled dry run of a PostHog export takes the links its events carry, whatever file they are in, and counts the rest as notSampled', async () => {
  const ws = await linkedExport(4);
  const res = await runCli(['run', ws.file, '--sample', '40', '--skip-checks'], { env: {} });
  assert.equal(res.code, 0, res.stderr);
  const lane = path.join(ws.dir, 'store/linked/samples/p40');
  const wanted = drawnBy(40, ws.events);
  const expected = ws.events.filter((e) => wanted(e.distinct_id)).map((e) => e.properties.n as number).sort((a, b) => a - b);
  const got = (await outboxEvents(lane)).map((e) => e.properties.n as number).sort((a, b) => a - b);
  assert.deepEqual(got, expected);
  assert.ok(expected.length > 0 && expected.length < ws.events.length);
  assert.deepEqual((await walk(path.join(ws.dir, 'store/linked'))).filter((f) => f.startsWith('outbox/') || f.startsWith('manifests/load/')), [], 'the full load lane is untouched');

  let passedOver = 0;
  for (const f of await walk(path.join(lane, 'manifests/load'))) {
    const { counts } = await readJson(path.join(lane, 'manifests/load', f));
    assert.equal(counts.in, counts.out + counts.rejected + counts.dropped);
    passedOver += counts.droppedBy.notSampled ?? 0;
  }
  assert.equal(passedOver, ws.events.length - expected.length);
  const scope = await readJson(path.join(lane, 'scope.json'));
  assert.deepEqual([scope.percent, scope.rule, scope.clusters.total, scope.linkedIds.total], [40, 'any-id-sha256-v1', 30, 70]);

  const before = await walk(lane);
  const again = await runCli(['load', ws.file, '--sample', '40'], { env: {} });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual((await walk(lane)).filter((f) => f.startsWith('outbox/')), before.filter((f) => f.startsWith('outbox/')), 'a re-run writes nothing new');
});

test('a sampled load that stops mid-chunk resumes after what was acknowledged, passing over the same persons, and sends nothing twice', async (t) => {
  const ws = await linkedExport(60);
  let outage = true;
  // Capture fails for every request holding an event late in the first file, until it is back.
  const server = await startFakePostHog({ token: KEY, unavailableFor: (e) => outage && ((e.properties as { n: number }).n ?? 0) > 1200 });
  t.after(() => server.close());
  const text = (await readFile(ws.file, 'utf8')).replace('destination: { type: dry-run, batchMaxEvents: 25 }', `destination: { type: posthog, host: "${server.url}", batchMaxEvents: 25, concurrency: 1, maxAttempts: 1, retryBudget: 0 }`);
  await writeFile(ws.file, text);
  assert.equal((await runCli(['extract', ws.file], { env })).code, 0);
  assert.equal((await runCli(['transform', ws.file], { env })).code, 0);

  const stopped = await runCli(['load', ws.file, '--sample', '50', '--chunks', 'part-0.jsonl'], { env });
  assert.equal(stopped.code, 1, stopped.stderr);
  const acknowledged = server.events.length;
  assert.ok(acknowledged > 0, 'some batches were acknowledged before capture failed');
  assert.match((await runCli(['status', ws.file, '--sample', '50'])).stdout, /load part-0\.jsonl: \d+ events acknowledged so far; the next attempt resumes after them/);

  outage = false;
  const resumed = await runCli(['load', ws.file, '--sample', '50', '--chunks', 'part-0.jsonl'], { env });
  assert.equal(resumed.code, 0, resumed.stderr);
  const wanted = drawnBy(50, ws.events);
  const firstFile = ws.events.filter((e) => !['$identify', '$create_alias'].includes(e.event) && e.distinct_id.startsWith('anon-'));
  const expected = firstFile.filter((e) => wanted(e.distinct_id)).map((e) => e.uuid).sort();
  const sent = server.events.map((e) => e.uuid as string);
  assert.equal(new Set(sent).size, sent.length, 'nothing sent twice');
  assert.deepEqual([...sent].sort(), expected);
  const m = await readJson(path.join(ws.dir, 'store/linked/samples/p50/manifests/load/part-0.jsonl.json'));
  assert.deepEqual([m.counts.in, m.counts.out, m.counts.droppedBy.notSampled], [firstFile.length, expected.length, firstFile.length - expected.length]);
  assert.ok(m.stats.resumedAt > 0, 'the second attempt resumed from the checkpoint');
});
