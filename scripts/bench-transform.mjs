#!/usr/bin/env node
// Transform benchmark: generates one chunk of N source records (about 1 KB each), extracts it, then
// times `hogport transform` beside a floor measured in the same run on the same raw files (gunzip,
// split lines, JSON.parse, JSON.stringify, gzip; no mapping). Each runs in its own process; peak RSS
// is recorded for both. Several sizes show whether memory grows with the chunk.
//   amplitude: one hour of an S3 export (.json.gz parts and a _complete marker);
//   mixpanel: one day from the Raw Event Export API stand-in (gzip, stored as it came).
//
//   npm run bench:transform -- [--source amplitude|mixpanel] [--records 200000] [--sizes 50000,1000000] [--keep]
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { amplitudeExport, mixpanelExport, startMixpanelApi } from '../packages/testkit/dist/index.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({ options: { source: { type: 'string', default: 'amplitude' }, records: { type: 'string', default: '200000' }, sizes: { type: 'string', default: '50000,1000000' }, keep: { type: 'boolean', default: false } } });
const say = (s) => process.stderr.write(`${s}\n`);
const hogport = path.join(root, 'packages/cli/bin/hogport.js');

async function run(args, rssFile) {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, ['--import', path.join(root, 'scripts/bench/rss.mjs'), ...args], { env: { ...process.env, HOGPORT_BENCH_RSS_FILE: rssFile }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}: ${err.slice(-1500)}`);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, rss: Number(await readFile(rssFile, 'utf8')), out };
}

async function stageAmplitude(dir, records) {
  const exportDir = path.join(dir, 'export');
  await mkdir(exportDir);
  const parts = Math.max(1, Math.ceil(records / 50_000));
  for (let p = 0; p < parts; p++) {
    const n = Math.min(50_000, records - p * 50_000);
    const [recs] = amplitudeExport({ seed: 100 + p, hours: ['2024-03-01T09'], perHour: n }).values();
    await writeFile(path.join(exportDir, `187520_2024-03-01_9#${p}.json.gz`), gzipSync(recs.map((r) => JSON.stringify(r)).join('\n') + '\n'));
  }
  await writeFile(path.join(exportDir, '187520_2024-03-01_9_complete'), '');
  await writeFile(path.join(dir, 'pipeline.yaml'), 'id: bench\nstore: ./store\nsource: { type: amplitude, mode: files, location: ./export }\nconcurrency: 1\n');
  return { chunk: '2024-03-01T09', close: async () => undefined, env: {} };
}

async function stageMixpanel(dir, records) {
  // Records padded to about 1 KB, like Amplitude's, so the two sources are measured alike.
  const [events] = mixpanelExport({ seed: 7, days: ['2024-03-01'], perDay: records }).values();
  for (const e of events) e.properties.$bench_padding = 'x'.repeat(Math.max(0, 1000 - JSON.stringify(e).length));
  const api = await startMixpanelApi({ user: 'u', secret: 's', projectId: '1', data: new Map([['2024-03-01', events]]), limits: { perHour: 10_000, perSecond: 100 } });
  await writeFile(path.join(dir, 'pipeline.yaml'), `id: bench\nstore: ./store\nsource: { type: mixpanel, exportEndpoint: "${api.url}", queryEndpoint: "${api.url}", projectId: 1, start: "2024-03-01", end: "2024-03-02" }\nconcurrency: 1\n`);
  return { chunk: '2024-03-01', close: () => api.close(), env: { MIXPANEL_SERVICE_ACCOUNT_USER: 'u', MIXPANEL_SERVICE_ACCOUNT_SECRET: 's' } };
}

async function measure(records) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bench-transform-'));
  say(`generating ${records.toLocaleString('en-US')} ${values.source} records in ${dir}`);
  const staged = values.source === 'mixpanel' ? await stageMixpanel(dir, records) : await stageAmplitude(dir, records);
  Object.assign(process.env, staged.env);
  const pipeline = path.join(dir, 'pipeline.yaml');
  await run([hogport, 'extract', pipeline, '--log-level', 'warn'], path.join(dir, 'rss-x'));
  await staged.close();
  const t = await run([hogport, 'transform', pipeline, '--log-level', 'warn'], path.join(dir, 'rss-t'));
  const manifest = JSON.parse(await readFile(path.join(dir, `store/bench/manifests/transform/${staged.chunk}.json`), 'utf8'));
  const extract = JSON.parse(await readFile(path.join(dir, `store/bench/manifests/extract/${staged.chunk}.json`), 'utf8'));
  const raw = extract.outputs.map((o) => path.join(dir, 'store', o.key));
  const floor = await run([path.join(root, 'scripts/bench/transform-floor.mjs'), path.join(dir, 'floor.jsonl.gz'), ...raw], path.join(dir, 'rss-f'));
  if (!values.keep) await rm(dir, { recursive: true, force: true });
  return { records, transform: t, floor, counts: manifest.counts };
}

const sizes = [...new Set([Number(values.records), ...values.sizes.split(',').map(Number)])].sort((a, b) => a - b);
const results = [];
for (const n of sizes) results.push(await measure(n));
const mb = (b) => (b / 1048576).toFixed(0);
const rows = [['records', 'transform s', 'records/s', 'floor s', 'floor rec/s', 'ratio', 'transform RSS MB', 'floor RSS MB', 'events out', 'dropped']];
for (const r of results) {
  rows.push([r.records.toLocaleString('en-US'), r.transform.seconds.toFixed(1), Math.round(r.records / r.transform.seconds).toLocaleString('en-US'), r.floor.seconds.toFixed(1),
    Math.round(r.records / r.floor.seconds).toLocaleString('en-US'), (r.floor.seconds / r.transform.seconds).toFixed(2), mb(r.transform.rss), mb(r.floor.rss), String(r.counts.events), String(r.counts.dropped)]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
process.stdout.write(`\n${values.source} transform, ${cpus().length} cores, node ${process.version} (times include process start)\n${rows.map((r) => r.map((v, i) => v.padStart(widths[i])).join('  ')).join('\n')}\n`);
