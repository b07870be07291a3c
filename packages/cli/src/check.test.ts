import assert from 'node:assert/strict';
import { mkdtemp, open, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { amplitudeExport, freePort, mixpanelExport, runCli, startAmplitudeExportApi, startFakePostHog, startMixpanelApi, startMoto } from '@hogport/testkit';
import { walk, workspace } from './e2e.helpers.js';

const KEY = 'phc_check_right_key';
const posthogAt = (url: string) => `{ type: posthog, host: "${url}" }`;
type Report = { ok: boolean; exitCode: number; checks: Array<{ name: string; status: string; detail: string; fix?: string }> };
const checks = (stdout: string) => JSON.parse(stdout) as Report;
const line = (r: Report, name: string) => r.checks.find((c) => c.name === name)!;

async function definition(lines: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-check-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, lines.join('\n'));
  return file;
}

test('every check passes for a right key, and the key is proved without sending an event', async (t) => {
  const posthog = await startFakePostHog({ token: KEY });
  t.after(() => posthog.close());
  const ws = await workspace({ files: 2, perFile: 10, destination: posthogAt(posthog.url) });
  const res = await runCli(['check', ws.pipeline], { env: { POSTHOG_PROJECT_API_KEY: KEY } });
  assert.equal(res.code, 0, res.stdout + res.stderr);
  for (const name of ['definition', 'secrets', 'source', 'plan', 'store', 'destination', 'disk']) assert.match(res.stdout, new RegExp(`^ok +${name} `, 'm'));
  assert.match(res.stdout, /accepted the project API key/);
  assert.match(res.stdout, /POSTHOG_PROJECT_API_KEY \(destination.apiKeyEnv\)/);
  assert.ok(!res.stdout.includes(KEY) && !res.stderr.includes(KEY), 'the key is never printed');
  assert.equal(posthog.requests.length, 0, 'nothing reached capture');
  assert.deepEqual(posthog.flagRequests.map((r) => r.status), [200]);
  assert.deepEqual((await walk(ws.storeDir)).filter((f) => f.includes('/checks/')), [], 'the store probe is deleted');
});

test('a wrong project key exits 3 with the fix, and run refuses to start, sending nothing and claiming no chunk', async (t) => {
  const posthog = await startFakePostHog({ token: KEY });
  t.after(() => posthog.close());
  const ws = await workspace({ files: 2, perFile: 10, destination: posthogAt(posthog.url) });
  const env = { POSTHOG_PROJECT_API_KEY: 'phc_another_project_key' };
  const res = await runCli(['check', ws.pipeline], { env });
  assert.equal(res.code, 3, res.stdout);
  assert.match(res.stdout, /^FAILED +destination +PostHog at .* refused the project API key \(HTTP 401\)\. Set POSTHOG_PROJECT_API_KEY to the project API key/m);
  assert.ok(!res.stdout.includes('phc_another_project_key'));
  const run = await runCli(['run', ws.pipeline], { env });
  assert.equal(run.code, 3, run.stderr);
  assert.match(run.stderr, /FAILED +destination .*refused the project API key/);
  assert.match(run.stderr, /run did not start/);
  assert.equal(posthog.requests.length, 0, 'nothing was sent');
  assert.deepEqual((await walk(ws.storeDir)).filter((f) => /\/(claims|manifests|raw)\//.test(f)), [], 'no work began');
});

test('a host that is not PostHog capture (an HTML page, a 404, other JSON) exits 3, as load does, naming destination.host', async (t) => {
  const web = await startFakePostHog({ token: KEY, notCapture: true });
  const old = await startFakePostHog({ token: KEY, decideOnly: true });
  t.after(async () => { await web.close(); await old.close(); });
  const env = { POSTHOG_PROJECT_API_KEY: KEY };
  const html = await workspace({ files: 1, perFile: 5, destination: posthogAt(web.url) });
  const res = await runCli(['check', html.pipeline, '--json'], { env });
  assert.equal(res.code, 3, res.stdout);
  assert.match(line(checks(res.stdout), 'destination').detail, /is not PostHog capture: .*not JSON.*Check destination.host/);
  // An instance from before /flags/ is still PostHog: /decide/ proves the key.
  const older = await workspace({ files: 1, perFile: 5, destination: posthogAt(old.url) });
  const ok = await runCli(['check', older.pipeline], { env });
  assert.equal(ok.code, 0, ok.stdout);
  assert.match(ok.stdout, /checked with \/decide\//);
  // A JSON API that is not PostHog: the fake's own query API path space answers 404 JSON elsewhere.
  const amplitude = await startAmplitudeExportApi({ apiKey: 'a', secretKey: 'b', data: new Map() });
  t.after(() => amplitude.close());
  const other = await workspace({ files: 1, perFile: 5, destination: posthogAt(amplitude.url) });
  const no = await runCli(['check', other.pipeline], { env });
  assert.equal(no.code, 3, no.stdout);
  assert.match(no.stdout, /FAILED +destination .*neither \/flags\/ nor \/decide\/ exists there/);
  const nobody = await workspace({ files: 1, perFile: 5, destination: posthogAt(`http://127.0.0.1:${await freePort()}`) });
  const down = await runCli(['check', nobody.pipeline], { env });
  assert.equal(down.code, 2, down.stdout);
  assert.match(down.stdout, /FAILED +destination /);
});

test('a missing environment variable exits 2 naming the variable, never a value; a dry run passes with a note that nothing is sent', async (t) => {
  const posthog = await startFakePostHog({ token: KEY });
  t.after(() => posthog.close());
  const ws = await workspace({ files: 1, perFile: 5, destination: `{ type: posthog, host: "${posthog.url}", apiKeyEnv: HOGPORT_CHECK_KEY }`, extra: 'verify: { projectId: 7, personalApiKeyEnv: HOGPORT_CHECK_PERSONAL }' });
  const res = await runCli(['check', ws.pipeline, '--json'], { env: { HOGPORT_CHECK_PERSONAL: 'phx_present_value_never_printed' } });
  assert.equal(res.code, 2, res.stdout);
  const r = checks(res.stdout);
  assert.match(line(r, 'secrets').detail, /not set: HOGPORT_CHECK_KEY \(destination.apiKeyEnv\)/);
  assert.match(line(r, 'secrets').fix!, /export HOGPORT_CHECK_KEY/);
  assert.equal(line(r, 'destination').status, 'skipped');
  assert.ok(!res.stdout.includes('phx_present_value_never_printed'));
  const both = await runCli(['check', ws.pipeline], { env: { HOGPORT_CHECK_KEY: KEY } });
  assert.equal(both.code, 2);
  assert.match(both.stdout, /not set: HOGPORT_CHECK_PERSONAL \(verify.personalApiKeyEnv\)/);
  const dry = await workspace({ files: 1, perFile: 5 });
  const d = await runCli(['check', dry.pipeline]);
  assert.equal(d.code, 0, d.stdout);
  assert.match(d.stdout, /^ok +destination +dry-run: nothing will be sent/m);
  const broken = await definition(['id: Not Valid', 'source: { type: files }']);
  const b = await runCli(['check', broken]);
  assert.equal(b.code, 2);
  assert.match(b.stdout, /^FAILED +definition +.*is not a valid pipeline definition:\n +- id: must be lower-case/m);
});

test('an unwritable store exits 2 with the fix; an S3 store passes its create-if-absent probe against moto, a missing bucket fails it', async (t) => {
  const moto = await startMoto();
  t.after(() => moto.stop());
  const ws = await workspace({ files: 1, perFile: 5 });
  const blocker = path.join(ws.dir, 'a-file');
  await writeFile(blocker, 'not a directory');
  const res = await runCli(['check', ws.pipeline, '--store', path.join(blocker, 'store')]);
  assert.equal(res.code, 2, res.stdout);
  assert.match(res.stdout, /^FAILED +store +/m);
  assert.match(res.stdout, /fix: make .* writable by this process/);
  const uri = await moto.bucket('hogport-check', 'migrations');
  const s3 = await runCli(['check', ws.pipeline, '--store', uri]);
  assert.equal(s3.code, 0, s3.stdout + s3.stderr);
  assert.match(s3.stdout, /^ok +store +s3:\/\/hogport-check\/migrations.* takes conditional writes and deletes/m);
  const missing = uri.replace('s3://hogport-check/', 's3://hogport-no-such-bucket/');
  const m = await runCli(['check', ws.pipeline, '--store', missing]);
  assert.equal(m.code, 2, m.stdout);
  assert.match(m.stdout, /^FAILED +store +/m);
});

test('Amplitude credentials: right ones pass with one request for an empty hour, wrong ones exit 3; a location source checks it can be listed', async (t) => {
  const data = amplitudeExport({ seed: 3, hours: ['2024-03-01T00'], perHour: 5 });
  const api = await startAmplitudeExportApi({ apiKey: 'amp_key', secretKey: 'amp_secret_value', data });
  t.after(() => api.close());
  const file = await definition(['id: amp', 'store: ./store', 'threads: 1', 'concurrency: 1', `source: { type: amplitude, endpoint: "${api.url}", start: "2024-03-01T00", end: "2024-03-01T02" }`]);
  const right = await runCli(['check', file], { env: { AMPLITUDE_API_KEY: 'amp_key', AMPLITUDE_SECRET_KEY: 'amp_secret_value' } });
  assert.equal(right.code, 0, right.stdout + right.stderr);
  assert.match(right.stdout, /^ok +source +Amplitude's Export API at .* accepted the API key and secret key/m);
  assert.match(right.stdout, /^ok +disk +.*spooling needs 3\.7 GiB \(what one amplitude chunk may spool, 3\.7 GiB, for each of 1 chunk\(s\) transformed at once\)/m);
  assert.deepEqual(api.requests, [{ start: '20100101T00', end: '20100101T00', status: 404 }], 'one request, for an hour that holds nothing');
  const wrong = await runCli(['check', file], { env: { AMPLITUDE_API_KEY: 'amp_key', AMPLITUDE_SECRET_KEY: 'amp_wrong_secret' } });
  assert.equal(wrong.code, 3, wrong.stdout);
  assert.match(wrong.stdout, /^FAILED +source +Amplitude refused the API key and secret \(HTTP 401\)/m);
  assert.ok(!wrong.stdout.includes('amp_wrong_secret') && !wrong.stderr.includes('amp_wrong_secret'));
  const none = await runCli(['check', file]);
  assert.equal(none.code, 2);
  assert.match(none.stdout, /not set: AMPLITUDE_API_KEY and AMPLITUDE_SECRET_KEY \(source \(amplitude\)\)/);
  const files = await definition(['id: amp-files', 'store: ./store', 'source: { type: amplitude, mode: files, location: ./nowhere }']);
  const listed = await runCli(['check', files]);
  assert.equal(listed.code, 2, listed.stdout);
  assert.match(listed.stdout, /^ok +source +file:\/\/.*nowhere can be listed \(nothing there yet\)/m);
  assert.match(listed.stdout, /^FAILED +plan +no complete Amplitude export hour/m);
});

test('Mixpanel service account: right ones pass through /api/app/me, a wrong secret or a project it cannot reach exit 3', async (t) => {
  const data = mixpanelExport({ seed: 5, days: ['2024-02-01'], perDay: 5 });
  const api = await startMixpanelApi({ user: 'sa.user', secret: 'sa_secret_value', projectId: '4242', data });
  t.after(() => api.close());
  const source = (project: number) => `source: { type: mixpanel, exportEndpoint: "${api.url}", queryEndpoint: "${api.url}", projectId: ${project}, start: "2024-02-01", end: "2024-02-02" }`;
  const file = await definition(['id: mp', 'store: ./store', source(4242)]);
  const env = { MIXPANEL_SERVICE_ACCOUNT_USER: 'sa.user', MIXPANEL_SERVICE_ACCOUNT_SECRET: 'sa_secret_value' };
  const right = await runCli(['check', file], { env });
  assert.equal(right.code, 0, right.stdout + right.stderr);
  assert.match(right.stdout, /^ok +source +Mixpanel at .* accepted the service account for project 4242/m);
  assert.deepEqual(api.requests.map((r) => [r.path, r.status]), [['/api/app/me', 200]]);
  assert.equal(api.overQuota, 0);
  const wrong = await runCli(['check', file], { env: { ...env, MIXPANEL_SERVICE_ACCOUNT_SECRET: 'sa_wrong_secret' } });
  assert.equal(wrong.code, 3, wrong.stdout);
  assert.match(wrong.stdout, /^FAILED +source +Mixpanel refused the credentials \(HTTP 401/m);
  assert.ok(!wrong.stdout.includes('sa_wrong_secret'));
  const elsewhere = await runCli(['check', await definition(['id: mp', 'store: ./store', source(999)])], { env });
  assert.equal(elsewhere.code, 3, elsewhere.stdout);
  assert.match(elsewhere.stdout, /has no access to project 999/);
});

test('too little free space for the largest zip or Parquet input exits 2 with the fix', async () => {
  const ws = await workspace({ files: 1, perFile: 5 });
  // A sparse file: planned at its size, taking no space.
  const big = await open(path.join(ws.dir, 'export', 'huge.parquet'), 'w');
  try { await big.truncate(2 ** 40); } finally { await big.close(); }
  const res = await runCli(['check', ws.pipeline]);
  assert.equal(res.code, 2, res.stdout);
  // Every chunk transformed at once spools its own.
  const [, need, n] = /^FAILED +disk +.* free in .*; spooling needs (\d+\.\d) GiB \(the largest planned zip or Parquet input, 1024\.0 GiB, for each of (\d+) chunk\(s\) transformed at once\)/m.exec(res.stdout) ?? [];
  assert.ok(n, res.stdout);
  assert.equal(Number(need), 1024 * Number(n));
  assert.match(res.stdout, /fix: free space there, or point TMPDIR at a disk/);
});

test('the README demo passes every check offline, and run --skip-checks starts without them', async () => {
  const repo = path.resolve(import.meta.dirname, '../../..');
  const store = await mkdtemp(path.join(tmpdir(), 'hogport-demo-check-'));
  const res = await runCli(['check', path.join(repo, 'pipelines/demo.yaml'), '--store', store]);
  assert.equal(res.code, 0, res.stdout + res.stderr);
  assert.match(res.stdout, /all checks passed \(7 ok\)/);
  const ws = await workspace({ files: 1, perFile: 5 });
  const checked = await runCli(['run', ws.pipeline]);
  assert.equal(checked.code, 0, checked.stderr);
  assert.match(checked.stderr, /^ok +store +/m);
  const again = await runCli(['run', ws.pipeline, '--skip-checks', '--force']);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /^ok +store +/m);
  assert.match(again.stderr, /extract: 1 done/);
});
