import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { posthogInstance, runCli, startFakePostHog } from '@hogport/testkit';

const KEY = 'phc_cloud_destination';
const PERSONAL = 'phx_self_hosted_source';

test('moves a self-hosted PostHog project to another: every event once with its uuid, persons set, extra ids identified first', async (t) => {
  const { events, persons } = posthogInstance({ seed: 41, start: new Date(Date.UTC(2024, 4, 1)), days: 3, count: 2400, persons: 40 });
  // Many events on one instant, across page edges.
  for (let i = 0; i < 300; i++) events.push({ uuid: `0190d000-0000-7000-8000-${String(i).padStart(12, '0')}`, event: 'burst', distinct_id: 'person-1', properties: {}, timestamp: '2024-05-02T08:00:00.000000Z' });
  const source = await startFakePostHog({ token: 'unused', query: { projectId: '1', personalKey: PERSONAL }, source: { events, persons } });
  const cloud = await startFakePostHog({ token: KEY });
  t.after(async () => { await source.close(); await cloud.close(); });
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-ph-src-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, `id: ph\nstore: ./store\nsource: { type: posthog, host: "${source.url}", projectId: 1, start: "2024-05-01", end: "2024-05-04", pageSize: 250 }\ndestination: { type: posthog, host: "${cloud.url}", batchMaxEvents: 200 }\n`);
  const run = await runCli(['run', file], { env: { POSTHOG_PROJECT_API_KEY: KEY, SOURCE_POSTHOG_PERSONAL_API_KEY: PERSONAL } });
  assert.equal(run.code, 0, run.stderr);
  assert.ok(!run.stderr.includes(PERSONAL));

  const byUuid = new Map(cloud.events.map((e) => [e.uuid as string, e]));
  for (const e of events) {
    const got = byUuid.get(e.uuid);
    assert.ok(got, `${e.uuid} arrived`);
    assert.deepEqual([got.event, got.distinct_id, Date.parse(got.timestamp as string)], [e.event, e.distinct_id, Date.parse(e.timestamp)]);
    const props = got.properties as Record<string, unknown>;
    assert.equal(props.$elements_chain, e.elements_chain);
    assert.equal(props.person_id, undefined);
  }
  assert.equal(cloud.events.filter((e) => events.some((x) => x.uuid === e.uuid)).length, events.length, 'each exactly once');
  const sets = cloud.events.filter((e) => e.event === '$set' && (e.properties as Record<string, unknown>).$hogport_chunk === 'persons');
  assert.equal(sets.length, 40);
  const identifies = cloud.events.filter((e) => e.event === '$identify').map((e) => `${e.distinct_id} ${(e.properties as Record<string, string>).$anon_distinct_id}`);
  // A person's distinct ids come in order; the first carries the $set, the others are identified to it.
  assert.deepEqual(identifies.sort(), persons.filter((p) => p.distinct_ids.length > 1).map((p) => { const [a, b] = [...p.distinct_ids].sort(); return `${a} ${b}`; }).sort());
  assert.ok(cloud.events.findLastIndex((e) => e.event === '$identify') < cloud.events.findIndex((e) => byUuid.has(e.uuid as string) && events.some((x) => x.uuid === e.uuid)));
});

test('a personal key the source instance refuses stops the run at the first query with exit 3, not one failure per day', async (t) => {
  const { events } = posthogInstance({ seed: 43, start: new Date(Date.UTC(2024, 4, 1)), days: 5, count: 100, persons: 5 });
  const source = await startFakePostHog({ token: 'unused', query: { projectId: '1', personalKey: PERSONAL }, source: { events } });
  t.after(() => source.close());
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-ph-src-auth-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, `id: ph\nstore: ./store\nsource: { type: posthog, host: "${source.url}", projectId: 1, start: "2024-05-01", end: "2024-05-06", persons: false }\ndestination: { type: dry-run }\nconcurrency: 1\n`);
  const run = await runCli(['run', file], { env: { SOURCE_POSTHOG_PERSONAL_API_KEY: 'phx_not_this_one' } });
  assert.equal(run.code, 3, run.stderr);
  assert.match(run.stderr, /refused the personal API key \(HTTP 401\).*Query Read/);
  assert.ok(!run.stderr.includes('phx_not_this_one'));
  const status = JSON.parse((await runCli(['status', file, '--json'])).stdout) as { totals: Record<string, Record<string, number>> };
  assert.equal(status.totals.extract!.failed ?? 0, 0, 'no day is marked failed');
});
