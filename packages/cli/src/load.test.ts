import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { runCli, startFakePostHog } from '@hogport/testkit';
import { walk, workspace } from './e2e.helpers.js';

const KEY = 'phc_cli_load_test_key';
const PERSONAL = 'phx_cli_personal_key';
const env = { POSTHOG_PROJECT_API_KEY: KEY, POSTHOG_PERSONAL_API_KEY: PERSONAL };
const posthogAt = (url: string, more = '') => `{ type: posthog, host: "${url}", batchMaxEvents: 50, maxAttempts: 3${more} }`;
const planOf = async (pipeline: string) => (JSON.parse((await runCli(['plan', pipeline, '--json'])).stdout) as { chunks: Array<{ id: string }> }).chunks.map((c) => c.id);

test('verify reports a chunk PostHog dropped and a chunk sent twice, and exits 1', async (t) => {
  const server = await startFakePostHog({ token: KEY, query: { projectId: '42', personalKey: PERSONAL } });
  t.after(() => server.close());
  const ws = await workspace({ files: 4, perFile: 150, destination: posthogAt(server.url) });
  const [c0, c1, c2, c3] = await planOf(ws.pipeline);
  for (const stage of ['extract', 'transform']) assert.equal((await runCli([stage, ws.pipeline], { env })).code, 0);

  // A billing-limited project answers 200 and keeps nothing.
  server.billingLimited = true;
  assert.equal((await runCli(['load', ws.pipeline, '--chunks', c0!], { env })).code, 0);
  server.billingLimited = false;
  assert.equal((await runCli(['load', ws.pipeline], { env })).code, 0);
  const clean = await runCli(['verify', ws.pipeline, '--project-id', '42', '--host', server.url, '--chunks', `${c1},${c2},${c3}`], { env });
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);

  assert.equal((await runCli(['load', ws.pipeline, '--force', '--chunks', c1!], { env })).code, 0);
  const res = await runCli(['verify', ws.pipeline, '--project-id', '42', '--host', server.url, '--json'], { env });
  assert.equal(res.code, 1, res.stderr);
  const report = JSON.parse(res.stdout) as { ok: boolean; chunks: Array<{ chunk: string; expected: number; found: number; uuids: number; duplicates: number; missing: number; verdict: string }> };
  const by = new Map(report.chunks.map((c) => [c.chunk, c]));
  assert.equal(report.ok, false);
  assert.deepEqual([by.get(c0!)!.verdict, by.get(c0!)!.found, by.get(c0!)!.missing], ['missing', 0, by.get(c0!)!.expected]);
  assert.deepEqual([by.get(c1!)!.verdict, by.get(c1!)!.duplicates, by.get(c1!)!.missing], ['duplicated', by.get(c1!)!.expected, 0]);
  for (const c of [c2, c3]) assert.deepEqual([by.get(c!)!.verdict, by.get(c!)!.found], ['ok', by.get(c!)!.expected]);
  assert.ok(server.queries.every((q) => /timestamp >= toDateTime\(/.test(q) && /LIMIT \d+/.test(q)), 'queries are bounded in time and rows');

  const table = await runCli(['verify', ws.pipeline, '--project-id', '42', '--host', server.url], { env });
  assert.match(table.stdout, /total .* MISMATCH/);
  assert.match(table.stdout, /missing: events PostHog acknowledged/);
  const denied = await runCli(['verify', ws.pipeline, '--project-id', '42', '--host', server.url], { env: { ...env, POSTHOG_PERSONAL_API_KEY: 'phx_wrong' } });
  assert.equal(denied.code, 3);
  assert.match(denied.stderr, /Query Read/);
  assert.ok(!denied.stderr.includes('phx_wrong'));
});

test('a refused project key stops the load with exit 3 and says what to check, marking no chunk failed', async (t) => {
  const server = await startFakePostHog({ token: 'phc_the_right_key' });
  t.after(() => server.close());
  const ws = await workspace({ files: 3, perFile: 50, destination: posthogAt(server.url) });
  // Past the checks (which refuse the key before any work): load's own answer to a key revoked mid-run.
  const res = await runCli(['run', ws.pipeline, '--skip-checks'], { env });
  assert.equal(res.code, 3, res.stderr);
  assert.match(res.stderr, /PostHog refused the project API key \(HTTP 401\).*check the project API key/);
  assert.ok(!res.stderr.includes(KEY));
  assert.deepEqual((await walk(ws.storeDir)).filter((f) => f.includes('/failures/load/')), []);
  const status = JSON.parse((await runCli(['status', ws.pipeline, '--json'])).stdout) as { totals: Record<string, Record<string, number>> };
  assert.equal(status.totals.load!.failed ?? 0, 0);
});

test('refuses to send without historical_migration unless the user opts out on the command line', async (t) => {
  const server = await startFakePostHog({ token: KEY });
  t.after(() => server.close());
  const ws = await workspace({ files: 1, perFile: 20, destination: posthogAt(server.url, ', historicalMigration: false') });
  const refused = await runCli(['run', ws.pipeline], { env });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--without-historical-migration/);
  assert.equal(server.requests.length, 0);
  const sent = await runCli(['run', ws.pipeline, '--without-historical-migration'], { env });
  assert.equal(sent.code, 0, sent.stderr);
  assert.match(sent.stderr, /WITHOUT historical_migration/);
  assert.ok(server.requests.length > 0 && server.requests.every((r) => r.historical_migration === undefined));
});

test('warns before loading events less than 48 hours old', async (t) => {
  const server = await startFakePostHog({ token: KEY });
  t.after(() => server.close());
  const ws = await workspace({ files: 1, perFile: 20, start: new Date(Date.now() - 3 * 3600_000), destination: posthogAt(server.url) });
  const res = await runCli(['run', ws.pipeline], { env });
  assert.equal(res.code, 0, res.stderr);
  const old = await workspace({ files: 1, perFile: 20, destination: posthogAt(server.url) });
  const quiet = await runCli(['run', old.pipeline], { env });
  assert.doesNotMatch(quiet.stderr, /48 hours/);
  // run transforms and loads chunk by chunk, so the warning comes from a load-only pass over transformed chunks.
  const again = await runCli(['load', ws.pipeline, '--force'], { env });
  assert.match(again.stderr, /warning: 1 chunk\(s\) hold events less than 48 hours old/);
});

test('loads every chunk again when the destination changes from the dry run to PostHog', async (t) => {
  const server = await startFakePostHog({ token: KEY });
  t.after(() => server.close());
  const ws = await workspace({ files: 2, perFile: 40 });
  assert.equal((await runCli(['run', ws.pipeline])).code, 0);
  const text = await readFile(ws.pipeline, 'utf8');
  await writeFile(ws.pipeline, text.replace(/destination: .*/, `destination: ${posthogAt(server.url)}`));
  const res = await runCli(['load', ws.pipeline], { env });
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /load: 2 done/);
  assert.equal(new Set(server.events.map((e) => e.uuid)).size, 80);
});

test('a load to PostHog holds to 10,000 events a minute unless told otherwise, and "none" lifts the cap', async (t) => {
  const server = await startFakePostHog({ token: KEY });
  t.after(() => server.close());
  const ws = await workspace({ files: 1, perFile: 400, destination: `{ type: posthog, host: "${server.url}", batchMaxEvents: 1000, maxAttempts: 3 }` });
  const paced = await runCli(['run', ws.pipeline], { env });
  assert.equal(paced.code, 0, paced.stderr);
  // Under a rate a request holds at most a second's worth: 10,000 a minute is 166 a second.
  assert.equal(Math.max(...server.requests.map((r) => r.events)), 166);
  assert.equal(server.accepted.uuids.size, 400);

  server.requests.length = 0;
  const free = await runCli(['load', ws.pipeline, '--force', '--max-events-per-minute', 'none'], { env });
  assert.equal(free.code, 0, free.stderr);
  assert.equal(Math.max(...server.requests.map((r) => r.events)), 400, 'with no cap, the definition\'s batches');

  server.requests.length = 0;
  const faster = await runCli(['load', ws.pipeline, '--force', '--max-events-per-minute', '12000'], { env });
  assert.equal(faster.code, 0, faster.stderr);
  assert.equal(Math.max(...server.requests.map((r) => r.events)), 200);
  assert.match(faster.stderr, /above 10,000: PostHog asks for approval/);

  const bad = await runCli(['load', ws.pipeline, '--force', '--max-events-per-minute', 'fast'], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /or "none" for no cap/);
});
