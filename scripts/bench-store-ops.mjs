#!/usr/bin/env node
// Store operations per chunk: runs `hogport run` (files → s3:// store on moto_server → PostHog
// stand-in) over N chunks and counts the S3 requests moto answered, by kind. The figures feed the
// cost estimate in BENCHMARKS.md ("A billion events, on paper").
//
//   node scripts/bench-store-ops.mjs [--chunks 20] [--per-chunk 50000]
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { gzipText, jsonLines, posthogEvents } from '../packages/testkit/dist/index.js';
import { hogport, int, say, standIn, table, timed } from './bench/lib.mjs';

const { values } = parseArgs({ options: { chunks: { type: 'string', default: '20' }, 'per-chunk': { type: 'string', default: '50000' } } });
const chunks = Number(values.chunks);
const perChunk = Number(values['per-chunk']);
const KEY = 'phc_bench_ops';

const port = await new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
const requests = [];
createInterface({ input: moto.stderr }).on('line', (line) => {
  const m = /"(GET|PUT|HEAD|POST|DELETE) (\S+) HTTP/.exec(line);
  if (m) requests.push({ method: m[1], url: m[2] });
});
const endpoint = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try { await fetch(endpoint); break; } catch { if (i > 100) throw new Error('moto_server did not start'); await new Promise((r) => setTimeout(r, 200)); }
}
await fetch(`${endpoint}/hogport-ops`, { method: 'PUT' });
const posthog = await standIn(KEY);
const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bench-ops-'));
try {
  await mkdir(path.join(dir, 'export'));
  for (let i = 0; i < chunks; i++) {
    const records = posthogEvents({ seed: 300 + i, count: perChunk, start: new Date(Date.UTC(2023, 0, 1 + i)) });
    await writeFile(path.join(dir, 'export', `part-${String(i).padStart(4, '0')}.jsonl.gz`), gzipText(jsonLines(records)));
  }
  await writeFile(path.join(dir, 'pipeline.yaml'), `id: ops\nstore: "s3://hogport-ops/m?endpoint=${encodeURIComponent(endpoint)}&path_style=true&region=us-east-1"\nsource: { type: posthog-files, location: ./export }\ndestination: { type: posthog, host: "${posthog.url}" }\n`);
  const before = requests.length;
  say(`hogport run: ${chunks} chunks of ${int(perChunk)} events on s3:// (moto)`);
  const r = await timed([hogport, 'run', path.join(dir, 'pipeline.yaml'), '--log-level', 'warn'], { ...process.env, POSTHOG_PROJECT_API_KEY: KEY, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
  await new Promise((res) => setTimeout(res, 500));
  const kinds = new Map();
  for (const { method, url } of requests.slice(before)) {
    const q = url.includes('?') ? url.slice(url.indexOf('?')) : '';
    const kind = method === 'GET' && /[?&](list-type|prefix)=/.test(q) ? 'LIST'
      : method === 'POST' || (method === 'PUT' && /uploadId=/.test(q)) ? 'multipart (create, part, complete)'
        : method;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  const total = [...kinds.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`\n${int(chunks)} chunks of ${int(perChunk)} events, hogport run on s3:// (moto), ${r.seconds.toFixed(1)} s\n\n`);
  process.stdout.write(`${table([['S3 request', 'count', 'per chunk'], ...[...kinds.entries()].sort().map(([k, n]) => [k, n, (n / chunks).toFixed(1)]), ['all', total, (total / chunks).toFixed(1)]])}\n`);
} finally {
  posthog.stop();
  moto.kill();
  await rm(dir, { recursive: true, force: true });
}
