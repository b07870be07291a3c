#!/usr/bin/env node
// Transform benchmark on Amplitude exports: generates one hour of N records (about 1 KB each, as an
// S3 export: .json.gz parts and a _complete marker), extracts it, then times `hogport transform`
// beside a floor measured in the same run on the same files (gunzip, split lines, JSON.parse,
// JSON.stringify, gzip; no mapping). Each runs in its own process; peak RSS is recorded for both.
// Several sizes show whether memory grows with the chunk.
//
//   npm run bench:transform -- [--records 200000] [--sizes 50000,1000000] [--keep]
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { amplitudeExport } from '../packages/testkit/dist/index.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({ options: { records: { type: 'string', default: '200000' }, sizes: { type: 'string', default: '50000,1000000' }, keep: { type: 'boolean', default: false } } });
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

async function measure(records) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bench-transform-'));
  const exportDir = path.join(dir, 'export');
  await mkdir(exportDir);
  say(`generating ${records.toLocaleString('en-US')} Amplitude records in ${dir}`);
  const parts = Math.max(1, Math.ceil(records / 50_000));
  for (let p = 0; p < parts; p++) {
    const n = Math.min(50_000, records - p * 50_000);
    const [recs] = amplitudeExport({ seed: 100 + p, hours: ['2024-03-01T09'], perHour: n }).values();
    await writeFile(path.join(exportDir, `187520_2024-03-01_9#${p}.json.gz`), gzipSync(recs.map((r) => JSON.stringify(r)).join('\n') + '\n'));
  }
  await writeFile(path.join(exportDir, '187520_2024-03-01_9_complete'), '');
  const pipeline = path.join(dir, 'pipeline.yaml');
  await writeFile(pipeline, 'id: bench\nstore: ./store\nsource: { type: amplitude, mode: files, location: ./export }\nconcurrency: 1\n');
  await run([hogport, 'extract', pipeline, '--log-level', 'warn'], path.join(dir, 'rss-x'));
  const t = await run([hogport, 'transform', pipeline, '--log-level', 'warn'], path.join(dir, 'rss-t'));
  const manifest = JSON.parse(await readFile(path.join(dir, 'store/bench/manifests/transform/2024-03-01T09.json'), 'utf8'));
  const raw = (await readdir(exportDir)).filter((f) => f.endsWith('.gz')).map((f) => path.join(exportDir, f));
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
process.stdout.write(`\nAmplitude transform, ${cpus().length} cores, node ${process.version} (times include process start)\n${rows.map((r) => r.map((v, i) => v.padStart(widths[i])).join('  ')).join('\n')}\n`);
