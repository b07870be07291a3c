import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import puppeteer from 'puppeteer-core';
import { readAll } from '@hogport/common';
import { openStore } from '@hogport/store';
import { randomBucket, runCli, startFakePostHog, startMoto } from '@hogport/testkit';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = fileURLToPath(new URL('../../../test-output/', import.meta.url));

/** Three days of orders in three files, with records transform rejects and events it drops. */
async function fixture(destination = '{ type: dry-run, batchMaxEvents: 7 }'): Promise<{ file: string; store: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-report-'));
  await mkdir(path.join(dir, 'in'));
  const kinds = ['signup', 'purchase', 'view', 'refund'];
  for (let f = 0; f < 3; f++) {
    const lines = Array.from({ length: 40 + f * 10 }, (_, i) => JSON.stringify({ id: `o${f}-${i}`, kind: kinds[(i + f) % kinds.length], user: `u${i % 9}`, at: new Date(Date.UTC(2024, 2, 1 + f, 8, i)).toISOString(), amount: i }));
    if (f === 0) lines.push(JSON.stringify({ id: 'bad-1', kind: 'view', user: 'u1', at: 'yesterday-ish' }), JSON.stringify({ id: 'bad-2', kind: 'view', user: 'u1', at: '<script>alert("x")</script>' }));
    if (f === 1) lines.push(JSON.stringify({ id: 'bad-3', kind: 'signup', user: 'u2', at: 'soon' }));
    await writeFile(path.join(dir, 'in', `orders-${f}.jsonl`), `${lines.join('\n')}\n`);
  }
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, [
    'id: rpt', 'store: ./store',
    'source: { type: files, location: ./in, mapping: { event: kind, distinctId: user, timestamp: { field: at }, uuid: id } }',
    `destination: ${destination}`,
    'transform: { dropEvents: [refund] }',
  ].join('\n'));
  return { file, store: path.join(dir, 'store', 'rpt') };
}

async function manifests(store: string, stage: string): Promise<Array<Record<string, any>>> {
  const dir = path.join(store, 'manifests', stage);
  return Promise.all((await readdir(dir)).sort().map(async (f) => JSON.parse(await readFile(path.join(dir, f), 'utf8'))));
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
function tally(maps: Array<Record<string, number> | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of maps) for (const [k, n] of Object.entries(m ?? {})) out[k] = (out[k] ?? 0) + n;
  return out;
}

test('the report a dry run writes shows, in a real browser and without a single request, the figures the manifests hold', async (t) => {
  assert.ok(existsSync(CHROMIUM), `the report's browser test needs Chromium at ${CHROMIUM}: apt-get install chromium`);
  const { file, store } = await fixture();
  const run = await runCli(['run', file]);
  assert.equal(run.code, 0, run.stderr);
  const atEnd = /^report: (.+\.html)$/m.exec(run.stderr);
  assert.ok(atEnd, `the end of the run names its report:\n${run.stderr}`);
  assert.ok(existsSync(atEnd[1]!), 'the run wrote the report it names');
  assert.equal((await runCli(['profile', file])).code, 0);

  const out = path.join(path.dirname(file), 'copy.html');
  const r = await runCli(['report', file, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const location = r.stdout.trim();
  assert.match(location, /^\/.*\/rpt\/reports\/report-\d{8}T\d{6}Z\.html$/, 'a local store names a plain file path');
  const html = await readFile(location, 'utf8');
  assert.equal(await readFile(out, 'utf8'), html, '--out writes the same report');

  const [transform, load] = [await manifests(store, 'transform'), await manifests(store, 'load')];
  const status = JSON.parse((await runCli(['status', file, '--json'])).stdout) as { totals: Record<string, Record<string, number>> };
  const profile = JSON.parse(await readFile(path.join(store, 'reports', 'profile.json'), 'utf8')) as { takenAt: string; result: { problems: Record<string, { count: number }> } };

  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${dir}`],
  });
  t.after(async () => { await browser.close(); await rm(dir, { recursive: true, force: true }); });
  const page = await browser.newPage();
  const url = pathToFileURL(location).href;
  const requests: string[] = [];
  page.on('request', (req) => { requests.push(req.url()); });
  const dialogs: string[] = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  await page.setViewport({ width: 1200, height: 900 });
  await page.goto(url, { waitUntil: 'load' });
  const figures = await page.$$eval('[data-figure]', (els) => els.map((e) => [e.getAttribute('data-figure')!, e.textContent ?? '']));
  const shown = new Map(figures.map(([k, v]) => [k!, v!]));
  const number = (name: string) => {
    const text = shown.get(name);
    assert.ok(text !== undefined, `the report shows ${name}`);
    return Number(text.replace(/,/g, ''));
  };

  for (const stage of ['extract', 'transform', 'load']) {
    for (const state of ['done', 'stale', 'failed', 'running', 'pending', 'waiting']) assert.equal(number(`chunks.${stage}.${state}`), status.totals[stage]![state], `${stage} ${state}`);
  }
  assert.equal(number('chunks.total'), 3);
  for (const [stage, ms] of [['transform', transform], ['load', load]] as const) {
    for (const k of ['in', 'out', 'rejected', 'dropped']) assert.equal(number(`stage.${stage}.${k}`), sum(ms.map((m) => m.counts[k])), `${stage} ${k}`);
  }
  const rejectedBy = tally(transform.map((m) => m.counts.rejectedBy));
  assert.deepEqual(Object.keys(rejectedBy), ['bad_timestamp']);
  assert.equal(number('rejectedBy.transform.bad_timestamp'), 3);
  assert.equal(number('reject.count.transform.bad_timestamp'), 3);
  assert.equal(await page.$eval('[data-figure="reject.examples.transform.bad_timestamp"]', (e) => e.querySelectorAll('li').length), 3, 'each reject, the first few of its code');
  assert.equal(number('droppedBy.transform.dropEvents'), sum(transform.map((m) => m.counts.droppedBy.dropEvents ?? 0)));
  const days = tally(transform.map((m) => m.eventDays));
  assert.deepEqual(Object.keys(days).sort(), ['2024-03-01', '2024-03-02', '2024-03-03']);
  for (const [day, n] of Object.entries(days)) {
    assert.equal(number(`day.source.${day}`), n, day);
    assert.equal(number(`day.loaded.${day}`), n, `${day}: every chunk is loaded`);
  }
  const names = tally(transform.map((m) => m.eventNames));
  assert.deepEqual(Object.keys(names).sort(), ['purchase', 'signup', 'view'], 'dropped events are not among the names');
  for (const [name, n] of Object.entries(names)) assert.equal(number(`name.source.${name}`), n, name);
  assert.equal(number('load.events'), sum(load.map((m) => m.counts.out)));
  assert.equal(number('load.batches'), sum(load.map((m) => m.stats.batches)));
  assert.equal(number('summary.loaded'), sum(load.map((m) => m.counts.out)));
  for (const [problem, p] of Object.entries(profile.result.problems)) assert.equal(number(`profile.problem.${problem}`), p.count, problem);
  assert.equal(shown.get('profile.takenAt'), profile.takenAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'));

  const text = await page.$eval('body', (b) => b.innerText);
  assert.match(text, /"at":"<script>alert\(\\"x\\"\)<\/script>"/, 'a record\'s markup is shown as text');
  assert.deepEqual(dialogs, [], 'nothing in a record runs');
  assert.deepEqual(requests, [url], 'the page requested nothing but itself');
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i, 'the file links to nothing');

  await mkdir(OUTPUT, { recursive: true });
  const shot = path.join(OUTPUT, 'report.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.diagnostic(`screenshot: ${shot}`);
});

test('the report says which chunks an older hogport transformed, whose manifests have no per-day figures, and still reads them', async () => {
  const { file, store } = await fixture();
  assert.equal((await runCli(['run', file])).code, 0);
  const key = path.join(store, 'manifests', 'transform', 'orders-1.jsonl.json');
  const old = JSON.parse(await readFile(key, 'utf8')) as Record<string, unknown>;
  delete old.eventDays;
  delete old.eventNames;
  await writeFile(key, JSON.stringify(old));
  const r = await runCli(['report', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const data = JSON.parse(r.stdout) as { withoutFigures: string[]; stages: Record<string, { chunks: number }>; days: Array<{ day: string }> };
  assert.deepEqual(data.withoutFigures, ['orders-1.jsonl']);
  assert.equal(data.stages.transform!.chunks, 3, 'the old manifest still counts');
  assert.deepEqual(data.days.map((d) => d.day), ['2024-03-01', '2024-03-03']);
  const html = await readFile((await runCli(['report', file])).stdout.trim(), 'utf8');
  assert.match(html, /data-figure="days\.withoutFigures">1</);
  assert.match(html, /transformed by an older hogport/);
});

test('what verify found is in the report, per day, with when it was taken', async (t) => {
  const KEY = 'phc_report_key';
  const PERSONAL = 'phx_report_personal';
  const server = await startFakePostHog({ token: KEY, query: { projectId: '7', personalKey: PERSONAL } });
  t.after(() => server.close());
  const env = { POSTHOG_PROJECT_API_KEY: KEY, POSTHOG_PERSONAL_API_KEY: PERSONAL };
  const { file, store } = await fixture(`{ type: posthog, host: "${server.url}", batchMaxEvents: 20 }`);
  assert.equal((await runCli(['run', file], { env })).code, 0);
  const verified = await runCli(['verify', file, '--project-id', '7', '--host', server.url], { env });
  assert.equal(verified.code, 0, verified.stderr);
  const saved = JSON.parse(await readFile(path.join(store, 'reports', 'verify.json'), 'utf8')) as { kind: string; takenAt: string; result: { ok: boolean } };
  assert.deepEqual([saved.kind, saved.result.ok], ['hogport.verify', true]);
  const data = JSON.parse((await runCli(['report', file, '--json'], { env })).stdout) as { verify: { takenAt: string; ok: boolean }; days: Array<{ source: number; loaded: number; verified: number }>; destination: unknown };
  assert.deepEqual([data.verify.takenAt, data.verify.ok], [saved.takenAt, true]);
  assert.ok(data.days.length === 3 && data.days.every((d) => d.verified === d.source && d.loaded === d.source), 'every loaded chunk verified');
  assert.deepEqual(data.destination, { type: 'posthog', host: server.url });
  assert.ok(!JSON.stringify(data).includes(KEY) && !JSON.stringify(data).includes(PERSONAL));
});

test('a report the store refuses costs the run nothing: the run ends as it would, and says the report was not written', async () => {
  const { file, store } = await fixture();
  await mkdir(store, { recursive: true });
  // A file where the reports folder goes: every write under it fails.
  await writeFile(path.join(store, 'reports'), 'not a folder');
  const run = await runCli(['run', file]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /^report: not written \(.+\); the run is not affected, and hogport report .+ tries again$/m);
  const r = await runCli(['report', file]);
  assert.notEqual(r.code, 0, 'hogport report itself says it failed');
  assert.match(r.stderr, /^hogport: /m);
});

test('a report in an s3:// store is named by the store\'s URL and its key, and is there', async (t) => {
  const moto = await startMoto();
  t.after(() => moto.stop());
  const location = await moto.bucket(randomBucket(), 'migrations');
  const { file } = await fixture();
  assert.equal((await runCli(['run', file, '--store', location])).code, 0);
  const r = await runCli(['report', file, '--store', location]);
  assert.equal(r.code, 0, r.stderr);
  const store = openStore(location);
  t.after(() => store.close());
  const printed = r.stdout.trim();
  const key = printed.slice(store.url.replace(/\/+$/, '').length + 1);
  assert.ok(printed.startsWith(`${store.url.replace(/\/+$/, '')}/rpt/reports/report-`), printed);
  assert.match((await readAll(await store.read(key))).toString('utf8'), /^<!doctype html>/);
});
