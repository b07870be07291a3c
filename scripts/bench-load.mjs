#!/usr/bin/env node
// Load benchmark: stages N events as transformed chunks, then sends them to a local PostHog
// stand-in twice in one run, with `hogport load` and with the official posthog-node SDK, each in
// its own process, and prints events/s and peak RSS for both. The stand-in runs in a third process
// and only counts, so neither client pays for it.
//
//   npm run bench -- [--events 500000] [--files 10] [--batch 1000] [--requests 4] [--keep]
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipText, jsonLines, posthogEvents } from '../packages/testkit/dist/index.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '500000' },
    files: { type: 'string', default: '10' },
    batch: { type: 'string', default: '1000' },
    requests: { type: 'string', default: '4' },
    keep: { type: 'boolean', default: false },
  },
});
const total = Number(values.events);
const files = Number(values.files);
const KEY = 'phc_bench_local';
const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bench-'));
const say = (s) => process.stderr.write(`${s}\n`);

say(`staging ${total.toLocaleString('en-US')} events in ${files} files under ${dir}`);
await mkdir(path.join(dir, 'export'));
for (let i = 0; i < files; i++) {
  const count = Math.floor(total / files) + (i < total % files ? 1 : 0);
  const records = posthogEvents({ seed: 7000 + i, count, start: new Date(Date.UTC(2023, 0, 1 + i * 3)), withoutUuid: 0.2 });
  await writeFile(path.join(dir, 'export', `part-${String(i).padStart(4, '0')}.jsonl.gz`), gzipText(jsonLines(records)));
}

const standIn = spawn(process.execPath, [path.join(root, 'scripts/posthog-stand-in.mjs'), '--token', KEY, '--count-only'], { stdio: ['pipe', 'pipe', 'inherit'] });
const replies = createInterface({ input: standIn.stdout })[Symbol.asyncIterator]();
const next = async () => JSON.parse((await replies.next()).value);
const { url } = await next();
const ask = async (command) => { standIn.stdin.write(`${command}\n`); return next(); };

const pipeline = path.join(dir, 'pipeline.yaml');
await writeFile(pipeline, [
  'id: bench',
  'store: ./store',
  'source: { type: posthog-files, location: ./export }',
  `destination: { type: posthog, host: "${url}", batchMaxEvents: ${values.batch}, concurrency: ${values.requests} }`,
  'concurrency: 2',
].join('\n'));
const env = { ...process.env, POSTHOG_PROJECT_API_KEY: KEY };
const hogport = path.join(root, 'packages/cli/bin/hogport.js');

async function run(args, { measure = false } = {}) {
  const rssFile = path.join(dir, `rss-${Math.random().toString(36).slice(2)}`);
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...(measure ? ['--import', path.join(root, 'scripts/bench/rss.mjs')] : []), ...args], {
    env: { ...env, HOGPORT_BENCH_RSS_FILE: rssFile }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => child.on('close', resolve));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}:\n${err.slice(-2000)}`);
  return { seconds, rss: measure ? Number(await readFile(rssFile, 'utf8')) : 0, out };
}

say('extract and transform (not timed)');
await run([hogport, 'extract', pipeline, '--log-level', 'warn']);
await run([hogport, 'transform', pipeline, '--log-level', 'warn']);

const results = [];
async function measure(name, args) {
  await ask('reset');
  say(`timing ${name}`);
  const r = await run(args, { measure: true });
  const stats = await ask('stats');
  results.push({ name, seconds: r.seconds, rate: total / r.seconds, rss: r.rss, delivered: stats.uuids, events: stats.events, requests: stats.requests });
}
await measure('hogport load', [hogport, 'load', pipeline, '--log-level', 'warn']);
const sdk = path.join(root, 'scripts/bench/posthog-node-load.mjs');
const store = path.join(dir, 'store');
await measure('posthog-node (defaults: flushAt 20, maxBatchSize 100)', [sdk, store, 'bench', url, '20', '100']);
await measure(`posthog-node (flushAt ${values.batch}, maxBatchSize ${values.batch})`, [sdk, store, 'bench', url, values.batch, values.batch]);
standIn.stdin.end();

const mb = (b) => (b / 1048576).toFixed(0);
const rows = [['client', 'seconds', 'events/s', 'peak RSS MB', 'uuids delivered', 'requests']];
for (const r of results) rows.push([r.name, r.seconds.toFixed(1), Math.round(r.rate).toLocaleString('en-US'), mb(r.rss), r.delivered.toLocaleString('en-US'), String(r.requests)]);
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
const table = rows.map((r) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ')).join('\n');
const [ours, ...sdks] = results;
const best = sdks.reduce((a, b) => (b.rate > a.rate ? b : a));
process.stdout.write(`\n${total.toLocaleString('en-US')} events, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}\n${table}\n\n`);
process.stdout.write(`hogport vs the faster posthog-node run: ${(ours.rate / best.rate).toFixed(2)}x the events/s at ${(ours.rss / best.rss * 100).toFixed(0)}% of its peak RSS\n`);
for (const r of results) if (r.delivered !== total) process.stdout.write(`WARNING: ${r.name} delivered ${r.delivered} of ${total} uuids\n`);
if (!values.keep) await rm(dir, { recursive: true, force: true });
