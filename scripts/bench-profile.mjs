#!/usr/bin/env node
// Profile benchmark: generates Amplitude-shaped records (S3 export layout, 50,000 per part file, an
// hour's parts per chunk) with one user per 20 records and a device each, extracts them, then times `hogport profile --json` with its peak RSS at
// each size: memory must stay flat as records (and distinct users) grow.
//
//   npm run bench:profile -- [--sizes 100000,1000000] [--per-chunk 200000] [--keep]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { hogport, int, mb, say, table, timed } from './bench/lib.mjs';

const { values } = parseArgs({ options: {
  sizes: { type: 'string', default: '100000,1000000' }, 'per-chunk': { type: 'string', default: '200000' }, keep: { type: 'boolean', default: false },
} });
const perChunk = Number(values['per-chunk']);

const NAMES = ['Page Viewed', 'Signed Up', 'Purchase', 'Button Clicked', 'Search', '[Amplitude] Page Viewed'];
/** Record i of a migration of `total`: about 20 records a user, each user on a device of its own, half of them identified. */
function record(i, hour, total) {
  const user = i % Math.max(1, Math.floor(total / 20));
  return {
    event_type: NAMES[i % NAMES.length], uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    user_id: user % 2 === 0 ? `user-${user}` : null, device_id: `device-${user}`,
    event_time: `${hour}:${String(i % 60).padStart(2, '0')}:00.000000`, platform: 'Web', os_name: 'Chrome', device_family: 'Mac OS X',
    country: 'Germany', city: 'Berlin', session_id: 1709280000000 + user,
    event_properties: { path: `/page/${i % 500}`, query: `q${i % 10_000}`, value: i % 100, ...(i % 7 === 0 ? { plan: i % 2 ? 'pro' : 3 } : {}) },
    user_properties: { plan: user % 3 === 0 ? 'pro' : 'free', seats: user % 50 },
  };
}

async function measure(records) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bench-profile-'));
  const exportDir = path.join(dir, 'export');
  await mkdir(exportDir);
  say(`generating ${int(records)} amplitude records in ${dir}`);
  const chunks = Math.ceil(records / perChunk);
  for (let c = 0; c < chunks; c++) {
    const inHour = Math.min(perChunk, records - c * perChunk);
    const hour = `2024-03-01T${String(c).padStart(2, '0')}`;
    for (let p = 0; p * 50_000 < inHour; p++) {
      const n = Math.min(50_000, inHour - p * 50_000);
      const recs = Array.from({ length: n }, (_, i) => record(c * perChunk + p * 50_000 + i, hour, records));
      await writeFile(path.join(exportDir, `187520_2024-03-01_${c}#${p}.json.gz`), gzipSync(recs.map((r) => JSON.stringify(r)).join('\n') + '\n'));
    }
    await writeFile(path.join(exportDir, `187520_2024-03-01_${c}_complete`), '');
  }
  const pipeline = path.join(dir, 'pipeline.yaml');
  await writeFile(pipeline, 'id: bench\nstore: ./store\nsource: { type: amplitude, mode: files, location: ./export }\ndestination: { type: dry-run }\nconcurrency: 2\n');
  await timed([hogport, 'extract', pipeline, '--log-level', 'warn']);
  say('profile');
  const t = await timed([hogport, 'profile', pipeline, '--json', '--log-level', 'warn']);
  const p = JSON.parse(t.out);
  if (!values.keep) await rm(dir, { recursive: true, force: true });
  return { records, chunks, ...t, profile: p };
}

const rows = [['records', 'chunks', 'seconds', 'records/s', 'peak RSS MB', 'events', 'distinct ids', 'property keys']];
for (const n of values.sizes.split(',').map(Number)) {
  const r = await measure(n);
  rows.push([int(r.records), r.chunks, r.seconds.toFixed(1), int(r.records / r.seconds), mb(r.rss), int(r.profile.events), `${r.profile.distinctIds.exact ? '' : '~'}${int(r.profile.distinctIds.count)}`, int(r.profile.properties.keys)]);
}
process.stdout.write(`\nhogport profile, ${cpus().length} cores, node ${process.version} (times include process start)\n\n${table(rows)}\n`);
