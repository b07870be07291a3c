#!/usr/bin/env node
// End-to-end benchmark: N generated warehouse-dump records (JSON lines, gzip, about 600 bytes and
// 20 fields each) as files → `hogport run` (extract into a local store, transform through a
// declared mapping, load) → the PostHog stand-in on 127.0.0.1, counting what arrives. Runs once
// per chunk layout, then each stage on its own (transform with 1 thread and with one per core),
// and the transform floor on the same raw files. Every process's peak RSS is recorded.
//
//   npm run bench:e2e -- [--events 1000000] [--chunks 20,2] [--no-stages] [--keep]
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { hogport, int, mb, root, say, standIn, table, timed } from './bench/lib.mjs';

const { values } = parseArgs({ options: {
  events: { type: 'string', default: '1000000' }, chunks: { type: 'string', default: '20,2' },
  'no-stages': { type: 'boolean', default: false }, keep: { type: 'boolean', default: false },
} });
const total = Number(values.events);
const layouts = values.chunks.split(',').map(Number);
const KEY = 'phc_bench_e2e';
const env = { ...process.env, POSTHOG_PROJECT_API_KEY: KEY };

function prng(seed) {
  let a = seed >>> 0;
  return () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}
const pick = (r, list) => list[Math.floor(r() * list.length)];
const EVENTS = ['page_viewed', 'signed_up', 'order_completed', 'search', 'item_added', 'checkout_started', 'settings_changed'];
const PATHS = ['/', '/pricing', '/docs/getting-started', '/blog/launch', '/app/dashboard', '/app/settings/billing', '/checkout'];

/** One file of records, written as it is generated. */
async function writeRecords(file, count, seed, startMs) {
  const r = prng(seed);
  const gzip = createGzip({ level: 1 });
  const done = once(gzip.pipe(createWriteStream(file)), 'finish');
  let piece = '';
  for (let i = 0; i < count; i++) {
    const user = Math.floor(r() * 50_000);
    const record = {
      event_id: `evt-${seed}-${i}`, event_name: pick(r, EVENTS), user_id: r() < 0.8 ? `user-${user}` : null, anonymous_id: `anon-${user}-${Math.floor(r() * 3)}`,
      occurred_at: new Date(startMs + i * 250 + Math.floor(r() * 250)).toISOString(),
      page_url: `https://shop.example.com${pick(r, PATHS)}?ref=${Math.floor(r() * 100)}`, referrer: pick(r, ['https://www.google.com/', 'https://news.ycombinator.com/', '', 'https://twitter.com/']),
      browser: pick(r, ['Chrome', 'Firefox', 'Safari', 'Edge']), browser_version: `${100 + Math.floor(r() * 30)}.0`, os: pick(r, ['Mac OS X', 'Windows', 'Linux', 'iOS', 'Android']),
      device_type: pick(r, ['Desktop', 'Mobile', 'Tablet']), country: pick(r, ['US', 'DE', 'FR', 'JP', 'BR', 'IN']), city: pick(r, ['Berlin', 'Austin', 'Paris', 'Tokyo', 'Recife', 'Pune']),
      plan: pick(r, ['free', 'pro', 'team', 'enterprise']), revenue: r() < 0.1 ? Math.round(r() * 50_000) / 100 : null, currency: 'USD',
      session_id: `s-${user}-${Math.floor(i / 40)}`, utm_source: pick(r, ['google', 'newsletter', 'twitter', null]), utm_campaign: pick(r, ['spring_sale', 'launch', null]),
      app_version: `3.${Math.floor(r() * 20)}.${Math.floor(r() * 10)}`, experiment: { name: 'new_checkout', variant: pick(r, ['control', 'test']) },
    };
    piece += `${JSON.stringify(record)}\n`;
    if (piece.length > 65536) { if (!gzip.write(piece)) await once(gzip, 'drain'); piece = ''; }
  }
  gzip.end(piece);
  await done;
}

async function stage(dir, chunks) {
  await mkdir(path.join(dir, 'export'), { recursive: true });
  const start = Date.UTC(2023, 0, 1);
  let bytes = 0;
  for (let c = 0; c < chunks; c++) {
    const count = Math.floor(total / chunks) + (c < total % chunks ? 1 : 0);
    const file = path.join(dir, 'export', `events-${String(c).padStart(4, '0')}.jsonl.gz`);
    await writeRecords(file, count, 1000 + c, start + c * (total / chunks) * 250);
  }
  for (const f of await readdir(path.join(dir, 'export'))) bytes += (await readFile(path.join(dir, 'export', f))).length;
  return bytes;
}

const definition = (url) => [
  'id: bench',
  'store: ./store',
  'source:',
  '  type: files',
  '  location: ./export',
  '  mapping:',
  '    event: event_name',
  '    distinctId: [user_id, anonymous_id]',
  '    timestamp: { field: occurred_at }',
  '    uuid: event_id',
  // As fast as the stand-in takes them: the benchmark measures hogport, not the default cap.
  `destination: { type: posthog, host: "${url}", maxEventsPerMinute: none }`,
  'concurrency: 4',
].join('\n');

/** Objects and bytes under each top-level prefix of the store (raw, events, manifests, …). */
async function usage(dir) {
  const out = {};
  const walk = async (d, top) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full, top ?? e.name);
      else { const u = (out[top ?? '.'] ??= { objects: 0, bytes: 0 }); u.objects += 1; u.bytes += (await stat(full)).size; }
    }
  };
  await walk(dir);
  return out;
}

const posthog = await standIn(KEY);
const results = [];
const stages = [];
let floor;
const dirs = [];
try {
  for (const chunks of layouts) {
    const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bench-e2e-'));
    dirs.push(dir);
    say(`generating ${int(total)} records in ${chunks} files under ${dir}`);
    const bytes = await stage(dir, chunks);
    const pipeline = path.join(dir, 'pipeline.yaml');
    await writeFile(pipeline, definition(posthog.url));
    await posthog.reset();
    say(`hogport run (${chunks} chunks of ${int(total / chunks)})`);
    const r = await timed([hogport, 'run', pipeline, '--log-level', 'warn'], env);
    const got = await posthog.stats();
    results.push({ chunks, bytes, ...r, got, store: await usage(path.join(dir, 'store', 'bench')) });

    if (chunks === layouts[0] && !values['no-stages']) {
      // Each stage on its own, into a second store, so every figure is one stage's.
      const store = path.join(dir, 'store-stages');
      const stageRun = async (name, args) => {
        say(name);
        const s = await timed([hogport, ...args, pipeline, '--store', store, '--log-level', 'warn'], env);
        stages.push({ name, ...s, got: args[0] === 'load' ? await posthog.stats() : undefined });
      };
      await stageRun('extract', ['extract']);
      await stageRun('transform, 1 thread', ['transform', '--threads', '1']);
      await stageRun(`transform, ${availableParallelism()} threads (one per core)`, ['transform', '--threads', String(availableParallelism()), '--force']);
      await posthog.reset();
      await stageRun('load', ['load']);
      say('transform floor');
      const raw = [];
      for (const f of await readdir(path.join(store, 'bench/manifests/extract'))) {
        const m = JSON.parse(await readFile(path.join(store, 'bench/manifests/extract', f), 'utf8'));
        raw.push(...m.outputs.map((o) => path.join(store, o.key)));
      }
      floor = await timed([path.join(root, 'scripts/bench/transform-floor.mjs'), path.join(dir, 'floor.jsonl.gz'), ...raw]);
    }
  }
} finally {
  posthog.stop();
  if (!values.keep) for (const d of dirs) await rm(d, { recursive: true, force: true });
}

const out = [];
out.push(`${int(total)} records, ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; times include process start`);
out.push('');
out.push(table([
  ['hogport run (files → store → PostHog stand-in)', 'chunks', 'input MB (gzip)', 'seconds', 'events/s', 'peak RSS MB', 'events arrived', 'distinct uuids'],
  ...results.map((r) => [`${int(total / r.chunks)} records per chunk`, r.chunks, mb(r.bytes), r.seconds.toFixed(1), int(total / r.seconds), mb(r.rss), int(r.got.events), int(r.got.uuids)]),
]));
if (stages.length > 0) {
  out.push('');
  out.push(table([
    [`stage alone (${layouts[0]} chunks)`, 'seconds', 'records/s', 'peak RSS MB', 'vs transform floor'],
    ...stages.map((s) => [s.name, s.seconds.toFixed(1), int(total / s.seconds), mb(s.rss), s.name.startsWith('transform') ? `${(floor.seconds / s.seconds).toFixed(2)}x` : '']),
    ['transform floor (parse + stringify + gzip, one process)', floor.seconds.toFixed(1), int(total / floor.seconds), mb(floor.rss), '1.00x'],
  ]));
}
out.push('');
out.push(table([
  ['store after the run, by prefix', ...results.map((r) => `${r.chunks} chunks: objects`), ...results.map((r) => `${r.chunks} chunks: MB`), 'bytes per record'],
  ...Object.keys(results[0].store).sort().map((k) => [k, ...results.map((r) => r.store[k]?.objects ?? 0), ...results.map((r) => mb(r.store[k]?.bytes ?? 0)), ((results[0].store[k]?.bytes ?? 0) / total).toFixed(1)]),
]));
for (const r of results) if (r.got.uuids !== total) out.push(`\nWARNING: ${r.chunks} chunks: ${r.got.uuids} of ${total} uuids arrived`);
process.stdout.write(`${out.join('\n')}\n`);
