import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { mapMixpanelRecord } from '@hogport/source-mixpanel';
import { mixpanelExport, mixpanelProfiles, runCli, startFakePostHog, startMixpanelApi } from '@hogport/testkit';

const KEY = 'phc_mixpanel_e2e';
const env = { POSTHOG_PROJECT_API_KEY: KEY, MIXPANEL_SERVICE_ACCOUNT_USER: 'sa.user', MIXPANEL_SERVICE_ACCOUNT_SECRET: 'sa_secret_never_logged' };

test('migrates a Mixpanel project: each $insert_id once, mapped, identities once, profiles once in the persons loaded last, through a 429 storm within the quotas', async (t) => {
  const days = ['2024-02-01', '2024-02-02', '2024-02-03', '2024-02-04'];
  const data = mixpanelExport({ seed: 31, days, perDay: 150 });
  const profiles = mixpanelProfiles(32, 25);
  const api = await startMixpanelApi({ user: env.MIXPANEL_SERVICE_ACCOUNT_USER, secret: env.MIXPANEL_SERVICE_ACCOUNT_SECRET, projectId: '4242', data, profiles, pageSize: 10, faults: { seed: 9, rate429: 0.4, retryAfterSeconds: 0 } });
  const posthog = await startFakePostHog({ token: KEY });
  t.after(async () => { await api.close(); await posthog.close(); });
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-mp-e2e-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, [
    'id: mp',
    'store: ./store',
    `source: { type: mixpanel, exportEndpoint: "${api.url}", queryEndpoint: "${api.url}", projectId: 4242, start: "2024-02-01", end: "2024-02-05", profiles: true }`,
    `destination: { type: posthog, host: "${posthog.url}", batchMaxEvents: 100 }`,
    'concurrency: 4',
  ].join('\n'));

  const run = await runCli(['run', file], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.ok(!run.stderr.includes(env.MIXPANEL_SERVICE_ACCOUNT_SECRET));
  assert.ok(api.requests.filter((r) => r.status === 429).length >= 3, 'the storm happened');
  assert.equal(api.overQuota, 0, 'no request went over 3 a second or 60 an hour');

  const want = new Map<string, { event: string; distinct_id: string }>();
  const links: Array<{ user: string; forms: string[] }> = [];
  for (const events of data.values()) {
    for (const e of events) {
      const m = mapMixpanelRecord(e, { renameEvents: {}, dropProperties: [] });
      assert.ok('events' in m);
      want.set(m.events[0]!.uuid, { event: m.events[0]!.event, distinct_id: m.events[0]!.distinct_id });
      for (const p of m.identify ?? []) links.push({ user: p.distinctId, forms: [p.anonId, ...(p.anonForms ?? [])] });
    }
  }
  // Each anonymous id is linked in the forms events carried, else in its own.
  const carried = new Set([...want.values()].map((e) => e.distinct_id));
  const pairs = new Set(links.flatMap((l) => {
    const used = l.forms.filter((f) => carried.has(f));
    return (used.length ? used : [l.forms[0]!]).map((f) => `${l.user} ${f}`);
  }));
  const repeated = [...data.values()].flat().length - want.size;
  assert.ok(repeated > 5, `the export repeats ${repeated} $insert_ids`);
  const sourceEvents = posthog.events.filter((e) => want.has(e.uuid as string));
  assert.equal(sourceEvents.length, want.size, 'every $insert_id arrives exactly once');
  assert.equal(new Set(sourceEvents.map((e) => e.uuid)).size, want.size);
  for (const e of sourceEvents) assert.deepEqual([e.event, e.distinct_id], [want.get(e.uuid as string)!.event, want.get(e.uuid as string)!.distinct_id]);
  assert.ok(sourceEvents.some((e) => e.event === '$pageview'));
  assert.ok(sourceEvents.every((e) => (e.properties as Record<string, unknown>).$mp_api_endpoint === undefined));

  const identifies = posthog.events.filter((e) => e.event === '$identify').map((e) => `${e.distinct_id} ${(e.properties as Record<string, string>).$anon_distinct_id}`);
  assert.deepEqual(new Set(identifies), pairs);
  assert.equal(identifies.length, pairs.size);
  assert.ok(posthog.events.every((e) => (e.properties as Record<string, unknown>).$hogport_chunk !== 'profiles'), 'profiles are not sent as events of their own');
  const personSets = posthog.events.filter((e) => e.event === '$set' && (e.properties as Record<string, unknown>).$hogport_chunk === '~persons');
  for (const p of profiles) {
    const mine = personSets.filter((e) => e.distinct_id === p.$distinct_id);
    assert.equal(mine.length, 1, `${p.$distinct_id}: one $set`);
    assert.equal((mine[0]!.properties as { $set: Record<string, unknown> }).$set.email, p.$properties.$email);
  }
  const lastEvent = posthog.events.findLastIndex((e) => want.has(e.uuid as string));
  assert.ok(posthog.events.findIndex((e) => personSets.includes(e)) > lastEvent, 'profiles load after every event');
  assert.ok(posthog.events.findLastIndex((e) => e.event === '$identify') < posthog.events.findIndex((e) => want.has(e.uuid as string)), 'identities load before the events');

  const status = JSON.parse((await runCli(['status', file, '--json'], { env })).stdout) as { chunks: Array<{ chunk: string; transform: { counts?: { dropped: number } } }> };
  assert.equal(status.chunks.reduce((a, c) => a + (c.transform.counts?.dropped ?? 0), 0), repeated, 'the repeats are counted as dropped');
});
