#!/usr/bin/env node
// Load benchmark: stages N events as transformed chunks, then sends them to a local PostHog
// stand-in twice in one run, with `hogport load` and with the official posthog-node SDK, each in
// its own process, and prints events/s and peak RSS for both. The stand-in runs in a third process
// and only counts, so neither client pays for it.
//
//   npm run bench:load -- [--events 500000] [--files 10] [--batch 1000] [--requests 4] [--keep]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipText, jsonLines, posthogEvents } from '../packages/testkit/dist/index.js';
import { hogport, int, mb, root, say, standIn, table, timed } from './bench/lib.mjs';

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

say(`staging ${total.toLocaleString('en-US')} events in ${files} files under ${dir}`);
await mkdir(path.join(dir, 'export'));
for (let i = 0; i < files; i++) {
  const count = Math.floor(total / files) + (i < total % files ? 1 : 0);
  const records = posthogEvents({ seed: 7000 + i, count, start: new Date(Date.UTC(2023, 0, 1 + i * 3)), withoutUuid: 0.2 });
  await writeFile(path.join(dir, 'export', `part-${String(i).padStart(4, '0')}.jsonl.gz`), gzipText(jsonLines(records)));
}

const posthog = await standIn(KEY);
const { url } = posthog;

const pipeline = path.join(dir, 'pipeline.yaml');
await writeFile(pipeline, [
  'id: bench',
  'store: ./store',
  'source: { type: posthog-files, location: ./export }',
  `destination: { type: posthog, host: "${url}", batchMaxEvents: ${values.batch}, concurrency: ${values.requests}, maxEventsPerMinute: none }`,
  'concurrency: 2',
].join('\n'));
const env = { ...process.env, POSTHOG_PROJECT_API_KEY: KEY };
say('extract and transform (not timed)');
await timed([hogport, 'extract', pipeline, '--log-level', 'warn'], env);
await timed([hogport, 'transform', pipeline, '--log-level', 'warn'], env);

const results = [];
async function measure(name, args) {
  await posthog.reset();
  say(`timing ${name}`);
  const r = await timed(args, env);
  const stats = await posthog.stats();
  results.push({ name, seconds: r.seconds, rate: total / r.seconds, rss: r.rss, delivered: stats.uuids, events: stats.events, requests: stats.requests });
}
await measure('hogport load', [hogport, 'load', pipeline, '--log-level', 'warn']);
const sdk = path.join(root, 'scripts/bench/posthog-node-load.mjs');
const store = path.join(dir, 'store');
await measure('posthog-node (defaults: flushAt 20, maxBatchSize 100)', [sdk, store, 'bench', url, '20', '100']);
await measure(`posthog-node (flushAt ${values.batch}, maxBatchSize ${values.batch})`, [sdk, store, 'bench', url, values.batch, values.batch]);
posthog.stop();

const rows = [['client', 'seconds', 'events/s', 'peak RSS MB', 'uuids delivered', 'requests']];
for (const r of results) rows.push([r.name, r.seconds.toFixed(1), int(r.rate), mb(r.rss), int(r.delivered), String(r.requests)]);
const [ours, ...sdks] = results;
const best = sdks.reduce((a, b) => (b.rate > a.rate ? b : a));
process.stdout.write(`\n${int(total)} events, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}\n\n${table(rows)}\n\n`);
process.stdout.write(`hogport vs the faster posthog-node run: ${(ours.rate / best.rate).toFixed(2)}x the events/s at ${(ours.rss / best.rss * 100).toFixed(0)}% of its peak RSS\n`);
for (const r of results) if (r.delivered !== total) process.stdout.write(`WARNING: ${r.name} delivered ${r.delivered} of ${total} uuids\n`);
if (!values.keep) await rm(dir, { recursive: true, force: true });
