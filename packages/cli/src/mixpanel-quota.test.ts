import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { mixpanelExport, startCli, startMixpanelApi } from '@hogport/testkit';

const env = { MIXPANEL_SERVICE_ACCOUNT_USER: 'sa.quota', MIXPANEL_SERVICE_ACCOUNT_SECRET: 'sa_quota_secret' };

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('extract processes share a Mixpanel project\'s query quota through the store, and a process started after a kill counts the queries made before it', async (t) => {
  const days = Array.from({ length: 12 }, (_, i) => `2024-05-${String(i + 1).padStart(2, '0')}`);
  const data = mixpanelExport({ seed: 61, days, perDay: 5 });
  // Mixpanel's quotas, scaled down: 6 queries an hour, 2 a second, per project. The definition holds
  // to 1 a second, so requests that reach the stand-in late on a busy machine still fit its second.
  const api = await startMixpanelApi({ user: env.MIXPANEL_SERVICE_ACCOUNT_USER, secret: env.MIXPANEL_SERVICE_ACCOUNT_SECRET, projectId: '515', data, limits: { perHour: 6, perSecond: 2 } });
  const children: Array<ReturnType<typeof startCli>> = [];
  t.after(async () => { for (const c of children) c.child.kill('SIGKILL'); await api.close(); });
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-mp-quota-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, [
    'id: mpq',
    'store: ./store',
    `source: { type: mixpanel, exportEndpoint: "${api.url}", queryEndpoint: "${api.url}", projectId: 515, start: "2024-05-01", end: "2024-05-13", maxQueriesPerHour: 6, maxQueriesPerSecond: 1 }`,
    'concurrency: 2',
  ].join('\n'));
  const extract = () => { const c = startCli(['extract', file], { env, cwd: dir }); children.push(c); return c; };

  // Two processes at once: alone, each would make its own 6 queries in the hour.
  const a = extract();
  const b = extract();
  await until('the hour\'s six queries', () => api.requests.length >= 6, 30_000);
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(api.requests.length, 6, `the two processes made ${api.requests.length} requests together, not more than the hour's 6`);
  assert.equal(api.overQuota, 0, 'no request went over 2 a second or 6 an hour');
  const exports = api.requests.filter((r) => r.path === '/api/2.0/export' && r.status === 200).length;
  assert.ok(exports >= 4, `${exports} days were exported within the quota`);
  a.child.kill('SIGKILL');
  b.child.kill('SIGKILL');
  await Promise.all([a.done, b.done]);

  // The record of the hour's queries is in the store, where the next process finds it.
  const recordPath = path.join(dir, 'store', 'mpq', 'quotas', 'mixpanel', '515.json');
  const record = JSON.parse(await readFile(recordPath, 'utf8')) as { queries: number[] };
  assert.equal(record.queries.length, 6);

  // A process started right after the kill has days left to export, and makes no query: the hour's are spent.
  const c = extract();
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(api.requests.length, 6, 'the restarted process counted the queries made before the kill');
  c.child.kill('SIGKILL');
  const stopped = await c.done;
  assert.match(stopped.stderr, /query quota is used up/, 'it says why it waits');

  // Without that record the same restart queries at once (and Mixpanel refuses it): the record is what held it.
  await rm(recordPath);
  const d = extract();
  await until('a query once the record is gone', () => api.requests.length > 6, 15_000);
  d.child.kill('SIGKILL');
  await d.done;
  assert.ok(api.overQuota > 0, 'the stand-in does refuse queries past the hour\'s');
});
