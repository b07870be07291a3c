import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { mixpanelIdentityProject, runCli, startFakePostHog, startMixpanelApi, type MixpanelIdMerge } from '@hogport/testkit';

const KEY = 'phc_mixpanel_identities';
const env = { POSTHOG_PROJECT_API_KEY: KEY, MIXPANEL_SERVICE_ACCOUNT_USER: 'sa.user', MIXPANEL_SERVICE_ACCOUNT_SECRET: 'sa_secret' };
const days = ['2024-02-01', '2024-02-02', '2024-02-03'];
type Sent = { uuid: string; event: string; distinct_id: string; properties: Record<string, any> };

/** Migrates a generated project through the CLI: what PostHog received, and the transform counts of every chunk. */
async function migrate(t: { after(fn: () => Promise<void>): void }, idMerge: MixpanelIdMerge, transform = '', options: { shards?: number; steps?: string[][] } = {}) {
  const project = mixpanelIdentityProject({ seed: 7, days, perDay: 90, idMerge });
  const api = await startMixpanelApi({ user: env.MIXPANEL_SERVICE_ACCOUNT_USER, secret: env.MIXPANEL_SERVICE_ACCOUNT_SECRET, projectId: '77', data: project.data, profiles: project.profiles, pageSize: 4, limits: { perHour: 1000, perSecond: 1000 } });
  const posthog = await startFakePostHog({ token: KEY });
  t.after(async () => { await api.close(); await posthog.close(); });
  const dir = await mkdtemp(path.join(tmpdir(), `hogport-mp-ids-${idMerge}-`));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, [
    'id: mp-ids',
    'store: ./store',
    `source: { type: mixpanel, exportEndpoint: "${api.url}", queryEndpoint: "${api.url}", projectId: 77, start: "2024-02-01", end: "2024-02-04", profiles: true }`,
    ...(transform ? [`transform: ${transform}`] : []),
    ...(options.shards ? [`merge: { shards: ${options.shards} }`] : []),
    `destination: { type: posthog, host: "${posthog.url}", batchMaxEvents: 100 }`,
  ].join('\n'));
  // Steps run one after another; the commands of a step run at once, as separate processes.
  let stderr = '';
  for (const step of options.steps ?? [['run']]) {
    const done = await Promise.all(step.map((command) => runCli([...command.split(' ').slice(0, 1), file, ...command.split(' ').slice(1)], { env })));
    for (const r of done) assert.equal(r.code, 0, r.stderr);
    stderr += done.map((r) => r.stderr).join('');
  }
  const run = { stderr };
  // The transform manifests, as the store holds them: what was dropped and changed, by rule.
  const droppedBy: Record<string, number> = {};
  const changedBy: Record<string, number> = {};
  const manifests = path.join(dir, 'store', 'mp-ids', 'manifests', 'transform');
  for (const name of await readdir(manifests)) {
    const counts = (JSON.parse(await readFile(path.join(manifests, name), 'utf8')) as { counts: { droppedBy: Record<string, number>; changedBy?: Record<string, number> } }).counts;
    for (const [k, n] of Object.entries(counts.droppedBy)) droppedBy[k] = (droppedBy[k] ?? 0) + n;
    for (const [k, n] of Object.entries(counts.changedBy ?? {})) changedBy[k] = (changedBy[k] ?? 0) + n;
  }
  return { project, sent: posthog.events as Sent[], droppedBy, changedBy, stderr: run.stderr, file };
}

const IDENTITY = new Set(['$identify', '$create_alias']);
const linksOf = (sent: Sent[]) => sent.filter((e) => IDENTITY.has(e.event)).map((e) => ({ user: e.distinct_id, anon: e.event === '$identify' ? e.properties.$anon_distinct_id as string : e.properties.alias as string, ...(e.event === '$create_alias' ? { alias: true } : {}) }));
const key = (l: { user: string; anon: string }) => `${l.user} ${l.anon}`;
const sorted = <T extends { user: string; anon: string }>(ls: T[]) => [...ls].sort((a, b) => (key(a) < key(b) ? -1 : 1));

/** The checks every kind of project must pass: each anonymous id linked to its user once, in the form its events carry, profiles once, no refused id linked. */
function checkIdentities(r: Awaited<ReturnType<typeof migrate>>): void {
  const links = linksOf(r.sent);
  assert.equal(new Set(links.map(key)).size, links.length, 'each pair linked exactly once');
  assert.deepEqual(sorted(links), sorted(r.project.links));
  const carried = new Set(r.sent.filter((e) => !IDENTITY.has(e.event) && e.event !== '$set').map((e) => e.distinct_id));
  for (const l of links) {
    const bare = l.anon.replace(/^\$device:/, '');
    if (carried.has(bare) || carried.has(`$device:${bare}`)) assert.ok(carried.has(l.anon), `${l.anon} is linked in a form no event carries`);
  }
  for (const id of r.project.refused) assert.ok(links.every((l) => l.user !== id && l.anon !== id), `${id} is in a link`);
  // An event on an id PostHog refuses to merge is sent (PostHog ingests it), counted and flagged.
  assert.equal(r.sent.filter((e) => e.distinct_id === 'anonymous').length, 1);
  assert.equal(r.changedBy.non_mergeable_distinct_id, 1);
  assert.match(r.stderr, /refuses to merge/);
  // Profiles once: in the person's one final $set, never as $set events of their own.
  const sets = r.sent.filter((e) => e.event === '$set');
  assert.ok(sets.every((e) => /^~persons(-\d{3})?$/.test(e.properties.$hogport_chunk)), 'every $set comes from the persons chunks');
  for (const p of r.project.profiles) {
    const mine = sets.filter((e) => e.distinct_id === p.$distinct_id);
    assert.equal(mine.length, 1, `${p.$distinct_id} is set once`);
    assert.deepEqual([mine[0]!.properties.$set.email, mine[0]!.properties.$set.plan], [p.$properties.$email, p.$properties.plan]);
  }
}

test('a Simplified ID Merge project: $device: ids linked in the form anonymous events carry, a broken "anonymous" device never linked', async (t) => {
  const r = await migrate(t, 'simplified');
  checkIdentities(r);
  const linked = linksOf(r.sent);
  assert.ok(linked.some((l) => l.anon.startsWith('$device:')), 'anonymous events carried $device: ids');
  assert.ok(linked.some((l) => !l.anon.startsWith('$device:')), 'a device no anonymous event carried is linked bare, as PostHog\'s importer links it');
  assert.ok(r.changedBy.non_mergeable_id_link! >= 1, 'the refused link is counted');
  const identify = r.sent.find((e) => e.event === '$identify')!;
  assert.equal(identify.properties.$mixpanel_user_id, identify.distinct_id);
  assert.equal(typeof identify.properties.$mixpanel_device_id, 'string');
  assert.ok(r.sent.some((e) => e.properties.$geoip_country_name === 'United States'));
  // The report counts the pairs and persons the merge step made, as they were sent.
  const report = await runCli(['report', r.file, '--json'], { env });
  assert.equal(report.code, 0, report.stderr);
  const { identities } = JSON.parse(report.stdout) as { identities: { pairs: number; chunks: Array<{ loaded: boolean }>; persons: { persons: number; loaded: boolean } } };
  assert.equal(identities.pairs, linked.length);
  assert.equal(identities.persons.persons, r.sent.filter((e) => e.event === '$set').length);
  assert.ok(identities.chunks.length > 0 && identities.chunks.every((c) => c.loaded) && identities.persons.loaded);
});

test('a merge cut into shards and shared by two processes sends what one merge sends: every link once, in the form its events carry, every person once', async (t) => {
  const whole = await migrate(t, 'simplified');
  const shared = await migrate(t, 'simplified', '', { shards: 4, steps: [['extract'], ['transform'], ['merge --part 0/2', 'merge --part 1/2'], ['load']] });
  checkIdentities(shared);
  const bare = (sent: Sent[]) => sent.map(({ properties: { $hogport_chunk: _, ...properties }, ...e }) => JSON.stringify({ ...e, properties })).sort();
  assert.deepEqual(bare(shared.sent), bare(whole.sent));
  assert.ok(new Set(shared.sent.filter((e) => e.event === '$set').map((e) => e.properties.$hogport_chunk)).size > 1, 'persons come from several shards');
});

test('a project of bare device ids: the bare $device_id is linked, since that is what its anonymous events carry', async (t) => {
  const r = await migrate(t, 'bare');
  checkIdentities(r);
  assert.ok(linksOf(r.sent).every((l) => !l.anon.startsWith('$device:')));
});

test('an Original ID Merge project: its $identify and $create_alias calls linked once per pair, a $merge of two users and a link from "[object Object]" left out, counted', async (t) => {
  const r = await migrate(t, 'original');
  checkIdentities(r);
  const links = linksOf(r.sent);
  assert.ok(links.some((l) => l.alias) && links.some((l) => !l.alias), 'both aliases and identifies');
  const calls = [...r.project.data.values()].flat().filter((e) => IDENTITY.has(e.event)).length;
  assert.ok(calls > links.length * 2, `Mixpanel repeated its calls (${calls} for ${links.length} pairs)`);
  assert.equal(r.droppedBy.mixpanel_merge_unsafe, 1);
  assert.equal(r.droppedBy.non_mergeable_id_link, 1);
  assert.equal(r.droppedBy.mixpanel_identity_event, undefined);
  const alias = r.sent.find((e) => e.event === '$create_alias')!;
  assert.deepEqual([alias.properties.$mixpanel_alias, alias.properties.$mixpanel_distinct_id], [alias.distinct_id, alias.properties.alias]);
});

test('with identifyEvents: false only the identity calls a project recorded are linked', async (t) => {
  const simplified = await migrate(t, 'simplified', '{ identifyEvents: false }');
  assert.equal(linksOf(simplified.sent).length, 0, 'nothing inferred from ids seen together');
  const original = await migrate(t, 'original', '{ identifyEvents: false }');
  assert.deepEqual(sorted(linksOf(original.sent)), sorted(original.project.links));
});

test('an identities-only import (importEvents: false) sends every link and person of a full import, and no event, each record counted as dropped', async (t) => {
  const full = await migrate(t, 'simplified');
  const only = await migrate(t, 'simplified', '{ importEvents: false }');
  const activity = (sent: Sent[]) => sent.filter((e) => !IDENTITY.has(e.event) && e.event !== '$set');
  assert.equal(activity(only.sent).length, 0, 'no event of the source is sent');
  assert.ok(activity(full.sent).length > 0);
  assert.deepEqual(sorted(linksOf(only.sent)), sorted(linksOf(full.sent)));
  const persons = (sent: Sent[]) => sent.filter((e) => e.event === '$set').map((e) => [e.distinct_id, e.properties.$set, e.properties.$set_once]).sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1));
  assert.deepEqual(persons(only.sent), persons(full.sent), 'each person gets the same properties, events or not');
  assert.equal(only.droppedBy.importEvents, activity(full.sent).length - (full.droppedBy.dropEvents ?? 0), 'every record whose events were left out is counted');
});

test('importEvents: false on a source without identities is refused before anything runs', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-import-events-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, ['id: only', 'store: ./store', 'source: { type: files, location: ./in, mapping: { event: kind, distinctId: user, timestamp: { field: at } } }', 'transform: { importEvents: false }', 'destination: { type: dry-run }'].join('\n'));
  const run = await runCli(['run', file], { env: {} });
  assert.equal(run.code, 2);
  assert.match(run.stderr, /importEvents: false imports only identities and persons, and the files source has none/);
});
