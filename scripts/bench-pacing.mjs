#!/usr/bin/env node
// Load pacing benchmark: several `hogport load` processes share one --max-events-per-minute cap
// through the store, against the PostHog stand-in (its own process), which answers every request
// 429 for a while part of the way through. Prints what capture accepted second by second, the
// largest 60-second window against the cap, the windows before and after the storm, and how long
// the rate took to come back.
//
//   npm run bench:pacing -- [--cap 300000] [--workers 4] [--seconds 200] [--storm-at 80] [--storm-for 20] [--retry-after 2] [--keep]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipText, jsonLines, posthogEvents } from '../packages/testkit/dist/index.js';
import { hogport, int, say, standIn, table, timed } from './bench/lib.mjs';

const { values } = parseArgs({
  options: {
    cap: { type: 'string', default: '300000' },
    workers: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '200' },
    'storm-at': { type: 'string', default: '80' },
    'storm-for': { type: 'string', default: '20' },
    'retry-after': { type: 'string', default: '2' },
    keep: { type: 'boolean', default: false },
  },
});
const cap = Number(values.cap);
const workers = Number(values.workers);
const seconds = Number(values.seconds);
const stormAt = Number(values['storm-at']);
const stormFor = Number(values['storm-for']);
const perSecond = cap / 60;
// Enough events to keep every worker busy for the whole run, the storm's lost time included.
const total = Math.round(perSecond * (seconds - stormFor));
const files = workers * 12;
const KEY = 'phc_bench_local';
const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bench-pacing-'));

say(`staging ${int(total)} events in ${files} files under ${dir}`);
await mkdir(path.join(dir, 'export'));
for (let i = 0; i < files; i++) {
  const count = Math.floor(total / files) + (i < total % files ? 1 : 0);
  const records = posthogEvents({ seed: 9100 + i, count, start: new Date(Date.UTC(2023, 0, 1 + i * 3)) });
  await writeFile(path.join(dir, 'export', `part-${String(i).padStart(4, '0')}.jsonl.gz`), gzipText(jsonLines(records)));
}
const posthog = await standIn(KEY, { timeline: true });
const pipeline = path.join(dir, 'pipeline.yaml');
await writeFile(pipeline, [
  'id: bench-pacing',
  'store: ./store',
  'source: { type: posthog-files, location: ./export }',
  // Attempts and budget enough to ride out the storm: a request answered 429 waits for the Retry-After and the cut rate.
  `destination: { type: posthog, host: "${posthog.url}", batchMaxEvents: 1000, concurrency: 4, maxAttempts: 40, retryBudget: 5000, maxEventsPerMinute: ${cap} }`,
  'concurrency: 2',
].join('\n'));
const env = { ...process.env, POSTHOG_PROJECT_API_KEY: KEY };
say('extract and transform (not timed)');
await timed([hogport, 'extract', pipeline, '--log-level', 'warn'], env);
await timed([hogport, 'transform', pipeline, '--log-level', 'warn'], env);

say(`${workers} load processes under ${int(cap)} events a minute; a 429 storm from ${stormAt}s for ${stormFor}s`);
const started = Date.now();
const loads = Array.from({ length: workers }, () => timed([hogport, 'load', pipeline, '--log-level', 'warn', '--concurrency', '1'], env));
const storm = (async () => {
  await new Promise((r) => setTimeout(r, stormAt * 1000));
  await posthog.storm(Number(values['retry-after']));
  const at = Date.now();
  await new Promise((r) => setTimeout(r, stormFor * 1000));
  await posthog.calm();
  return { from: at, to: Date.now() };
})();
const results = await Promise.all(loads);
const { from: stormFrom, to: stormTo } = await storm;
const timeline = await posthog.timeline();
const stats = await posthog.stats();
posthog.stop();

// Events accepted in each second since the loads started.
const end = Math.max(...timeline.map(([at]) => at));
const secs = Math.ceil((end - started) / 1000);
const per = new Array(secs + 1).fill(0);
for (const [at, n] of timeline) per[Math.floor((at - started) / 1000)] += n;
// Exact sliding 60-second windows, one starting at every accepted request.
const windowOf = (from) => timeline.reduce((s, [at, n]) => (at >= from && at < from + 60_000 ? s + n : s), 0);
let maxWindow = 0;
let maxWindowAt = 0;
let j = 0;
let sum = 0;
for (let i = 0; i < timeline.length; i++) {
  while (j < timeline.length && timeline[j][0] < timeline[i][0] + 60_000) sum += timeline[j++][1];
  if (sum > maxWindow) { maxWindow = sum; maxWindowAt = timeline[i][0]; }
  sum -= timeline[i][1];
}
const s0 = (stormFrom - started) / 1000;
const s1 = (stormTo - started) / 1000;
const mean = (a) => a.reduce((x, y) => x + y, 0) / Math.max(1, a.length);
// Before the storm: from when every worker was sending (five seconds after the first events) to the storm.
const first = per.findIndex((n) => n > 0);
const before = per.slice(first + 5, Math.floor(s0));
const beforeWindow = windowOf(stormFrom - 60_000);
// After: the first second from which ten seconds in a row average at least 95% of the cap's pace.
let recovered;
for (let i = Math.ceil(s1); i + 10 <= secs; i++) if (mean(per.slice(i, i + 10)) >= 0.95 * perSecond) { recovered = i; break; }
const afterFrom = recovered !== undefined ? started + recovered * 1000 : undefined;
const afterWindow = afterFrom !== undefined && afterFrom + 60_000 <= started + fullEndOf() * 1000 ? windowOf(afterFrom) : undefined;
function fullEndOf() { return Math.min(Math.floor((end - started) / 1000), Math.floor(Math.min(...results.map((r) => r.seconds))) - 2); }
// Steady state ends when the first worker ran out of chunks.
const fullEnd = Math.min(Math.floor((end - started) / 1000), Math.floor(Math.min(...results.map((r) => r.seconds))) - 2);
const after = recovered !== undefined ? per.slice(recovered, fullEnd - 1) : [];

const pct = (x) => `${(x * 100).toFixed(1)}%`;
const rows = [['measure', 'events', 'of the cap']];
rows.push(['largest 60 s window, whole run', int(maxWindow), pct(maxWindow / cap)]);
rows.push([`60 s window before the storm (${Math.round(s0 - 60)}–${Math.round(s0)} s)`, int(beforeWindow), pct(beforeWindow / cap)]);
rows.push([`mean per second, ${first + 5}–${Math.round(s0)} s`, int(mean(before)), pct(mean(before) / perSecond)]);
rows.push([`lowest second, ${first + 5}–${Math.round(s0)} s`, int(Math.min(...before)), pct(Math.min(...before) / perSecond)]);
rows.push([`highest second, whole run`, int(Math.max(...per)), pct(Math.max(...per) / perSecond)]);
rows.push([`during the storm (${Math.round(s0)}–${Math.round(s1)} s)`, int(per.slice(Math.floor(s0), Math.ceil(s1)).reduce((a, b) => a + b, 0)), '—']);
if (recovered !== undefined) {
  rows.push([`back at ≥ 95% of the cap's pace`, `${recovered - Math.round(s1)} s after the storm`, '—']);
  rows.push([`mean per second, ${recovered}–${fullEnd - 1} s`, int(mean(after)), pct(mean(after) / perSecond)]);
  if (afterWindow !== undefined) rows.push([`60 s window from ${recovered} s`, int(afterWindow), pct(afterWindow / cap)]);
}
const requests = stats.requests;
process.stdout.write(`\n${workers} workers, cap ${int(cap)}/min (${int(perSecond)}/s), ${int(total)} events, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}\n`);
process.stdout.write(`storm: every request answered 429 (Retry-After ${values['retry-after']} s) from ${s0.toFixed(0)} s to ${s1.toFixed(0)} s; loads took ${results.map((r) => r.seconds.toFixed(0)).join(', ')} s; ${requests} requests\n\n`);
process.stdout.write(`${table(rows)}\n\n`);
process.stdout.write(`events accepted per second (from the loads' start):\n${per.map((n, i) => `${String(i).padStart(3)} ${String(n).padStart(5)}`).join('\n')}\n`);
if (maxWindow > cap) process.stdout.write(`WARNING: a 60 s window from ${((maxWindowAt - started) / 1000).toFixed(1)} s held ${maxWindow} events, above the cap\n`);
if (stats.uuids !== total) process.stdout.write(`WARNING: ${stats.uuids} of ${total} uuids delivered\n`);
if (!values.keep) await rm(dir, { recursive: true, force: true });
