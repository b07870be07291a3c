#!/usr/bin/env node
// Transform benchmark: generates N source records (about 1 KB each) in one or more chunks, extracts
// them, then times `hogport transform` with each thread count beside a floor measured in the same run
// on the same raw files (gunzip, split lines, JSON.parse, JSON.stringify, gzip; no mapping; one
// process, so one core). Each runs in its own process; peak RSS is recorded for all. Several sizes
// show whether memory grows with the chunk.
//   amplitude: hours of an S3 export (.json.gz parts and a _complete marker per hour);
//   mixpanel: days from the Raw Event Export API stand-in (gzip, stored as it came).
//
//   npm run bench:transform -- [--source amplitude|mixpanel] [--records 200000] [--sizes 50000,1000000]
//                              [--chunks 1] [--threads 1,2] [--keep]
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { amplitudeExport, mixpanelExport, startMixpanelApi } from '../packages/testkit/dist/index.js';
import { hogport, int, mb, root, say, table, timed } from './bench/lib.mjs';

const { values } = parseArgs({ options: {
  source: { type: 'string', default: 'amplitude' }, records: { type: 'string', default: '200000' }, sizes: { type: 'string', default: '50000,1000000' },
  chunks: { type: 'string', default: '1' }, threads: { type: 'string', default: '1' }, keep: { type: 'boolean', default: false },
} });
const chunkCount = Number(values.chunks);
const threadCounts = values.threads.split(',').map(Number);

const hours = (n) => Array.from({ length: n }, (_, i) => `2024-03-01T${String(9 + i).padStart(2, '0')}`);
const days = (n) => Array.from({ length: n }, (_, i) => new Date(Date.UTC(2024, 2, 1 + i)).toISOString().slice(0, 10));
const split = (records) => Array.from({ length: chunkCount }, (_, i) => Math.floor(records / chunkCount) + (i < records % chunkCount ? 1 : 0));

async function stageAmplitude(dir, records) {
  const exportDir = path.join(dir, 'export');
  await mkdir(exportDir);
  const chunks = hours(chunkCount);
  for (const [c, hour] of chunks.entries()) {
    const inHour = split(records)[c];
    const h = Number(hour.slice(11));
    const parts = Math.max(1, Math.ceil(inHour / 50_000));
    for (let p = 0; p < parts; p++) {
      const n = Math.min(50_000, inHour - p * 50_000);
      const [recs] = amplitudeExport({ seed: 100 + c * 100 + p, hours: [hour], perHour: n }).values();
      await writeFile(path.join(exportDir, `187520_2024-03-01_${h}#${p}.json.gz`), gzipSync(recs.map((r) => JSON.stringify(r)).join('\n') + '\n'));
    }
    await writeFile(path.join(exportDir, `187520_2024-03-01_${h}_complete`), '');
  }
  await writeFile(path.join(dir, 'pipeline.yaml'), `id: bench\nstore: ./store\nsource: { type: amplitude, mode: files, location: ./export }\nconcurrency: 1\n`);
  return { chunks, close: async () => undefined, env: {} };
}

async function stageMixpanel(dir, records) {
  const chunks = days(chunkCount);
  const data = new Map();
  for (const [c, day] of chunks.entries()) {
    // Records padded to about 1 KB, like Amplitude's, so the two sources are measured alike.
    const [events] = mixpanelExport({ seed: 7 + c, days: [day], perDay: split(records)[c] }).values();
    for (const e of events) e.properties.$bench_padding = 'x'.repeat(Math.max(0, 1000 - JSON.stringify(e).length));
    data.set(day, events);
  }
  const api = await startMixpanelApi({ user: 'u', secret: 's', projectId: '1', data, limits: { perHour: 10_000, perSecond: 100 } });
  const end = new Date(Date.parse(chunks.at(-1)) + 86_400_000).toISOString().slice(0, 10);
  await writeFile(path.join(dir, 'pipeline.yaml'), `id: bench\nstore: ./store\nsource: { type: mixpanel, exportEndpoint: "${api.url}", queryEndpoint: "${api.url}", projectId: 1, start: "${chunks[0]}", end: "${end}" }\nconcurrency: 4\n`);
  return { chunks, close: () => api.close(), env: { MIXPANEL_SERVICE_ACCOUNT_USER: 'u', MIXPANEL_SERVICE_ACCOUNT_SECRET: 's' } };
}

async function measure(records) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bench-transform-'));
  say(`generating ${records.toLocaleString('en-US')} ${values.source} records in ${chunkCount} chunk(s) in ${dir}`);
  const staged = values.source === 'mixpanel' ? await stageMixpanel(dir, records) : await stageAmplitude(dir, records);
  Object.assign(process.env, staged.env);
  const pipeline = path.join(dir, 'pipeline.yaml');
  await timed([hogport, 'extract', pipeline, '--log-level', 'warn']);
  await staged.close();
  const transforms = [];
  for (const threads of threadCounts) {
    say(`transform with ${threads} thread(s)`);
    const t = await timed([hogport, 'transform', pipeline, '--log-level', 'warn', '--force', '--threads', String(threads)]);
    const counts = { events: 0, dropped: 0 };
    for (const chunk of staged.chunks) {
      const manifest = JSON.parse(await readFile(path.join(dir, `store/bench/manifests/transform/${chunk}.json`), 'utf8'));
      counts.events += manifest.counts.events;
      counts.dropped += manifest.counts.dropped;
    }
    transforms.push({ threads, ...t, counts });
  }
  const raw = [];
  for (const chunk of staged.chunks) {
    const extract = JSON.parse(await readFile(path.join(dir, `store/bench/manifests/extract/${chunk}.json`), 'utf8'));
    raw.push(...extract.outputs.map((o) => path.join(dir, 'store', o.key)));
  }
  say('floor');
  const floor = await timed([path.join(root, 'scripts/bench/transform-floor.mjs'), path.join(dir, 'floor.jsonl.gz'), ...raw]);
  if (!values.keep) await rm(dir, { recursive: true, force: true });
  return { records, transforms, floor };
}

const sizes = [...new Set([Number(values.records), ...values.sizes.split(',').map(Number)])].sort((a, b) => a - b);
const results = [];
for (const n of sizes) results.push(await measure(n));
const rows = [['records', 'chunks', 'threads', 'transform s', 'records/s', 'floor s', 'floor rec/s', 'ratio to floor', 'transform RSS MB', 'floor RSS MB', 'events out', 'dropped']];
for (const r of results) {
  for (const t of r.transforms) {
    rows.push([int(r.records), chunkCount, t.threads, t.seconds.toFixed(1), int(r.records / t.seconds), r.floor.seconds.toFixed(1),
      int(r.records / r.floor.seconds), `${(r.floor.seconds / t.seconds).toFixed(2)}x`, mb(t.rss), mb(r.floor.rss), t.counts.events, t.counts.dropped]);
  }
}
process.stdout.write(`\n${values.source} transform, ${cpus().length} cores, node ${process.version} (times include process start; the floor is one process)\n\n${table(rows)}\n`);
