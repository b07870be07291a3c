#!/usr/bin/env node
// An Amplitude-shaped migration end to end: N generated export records (Amplitude's S3 export: hours of
// .json.gz parts with a _complete marker), spread over D devices and about 5/8 as many users, moved by
// one `hogport run` (extract, transform in threads, the identity merge, load identities, events and
// persons) into the PostHog stand-in on 127.0.0.1, which counts what arrives. Peak RSS of the run.
//
//   npm run bench:amplitude -- [--events 10000000] [--hours 240] [--devices 400000] [--keep]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { amplitudeExport } from '@hogport/testkit';
import { hogport, int, mb, say, standIn, table, timed } from './bench/lib.mjs';

const { values } = parseArgs({ options: {
  events: { type: 'string', default: '10000000' }, hours: { type: 'string', default: '240' }, devices: { type: 'string', default: '400000' }, keep: { type: 'boolean', default: false },
} });
const total = Number(values.events);
const hourCount = Number(values.hours);
const KEY = 'phc_bench_amplitude';
const PART = 50_000;

const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bench-amplitude-'));
const exportDir = path.join(dir, 'export');
await mkdir(exportDir);
const hours = Array.from({ length: hourCount }, (_, i) => new Date(Date.UTC(2024, 2, 1) + i * 3600_000).toISOString().slice(0, 13));
say(`generating ${int(total)} Amplitude records over ${hourCount} hours and ${int(Number(values.devices))} devices in ${exportDir}`);
const started = Date.now();
for (const [h, hour] of hours.entries()) {
  const inHour = Math.floor(total / hourCount) + (h < total % hourCount ? 1 : 0);
  // One fixture per hour: the same devices every hour (the seed fixes them), records of its own.
  const [records] = amplitudeExport({ seed: 1, hours: [hour], perHour: inHour, devices: Number(values.devices) }).values();
  // The same seed makes the same insert ids every hour: each hour's are made its own.
  for (const r of records) { r.$insert_id = `${r.$insert_id}-${h}`; if (r.uuid) r.uuid = randomUUID(); }
  const [day, hh] = [hour.slice(0, 10), Number(hour.slice(11))];
  for (let p = 0; p * PART < records.length; p++) {
    const gz = createGzip({ level: 1 });
    const out = createWriteStream(path.join(exportDir, `187520_${day}_${hh}#${p}.json.gz`));
    gz.pipe(out);
    for (const r of records.slice(p * PART, (p + 1) * PART)) if (!gz.write(`${JSON.stringify(r)}\n`)) await once(gz, 'drain');
    gz.end();
    await once(out, 'finish');
  }
  await writeFile(path.join(exportDir, `187520_${day}_${hh}_complete`), '');
}
say(`generated in ${((Date.now() - started) / 1000).toFixed(0)} s`);

const posthog = await standIn(KEY);
try {
  await writeFile(path.join(dir, 'pipeline.yaml'), [
    'id: bench-amplitude', 'store: ./store', 'source: { type: amplitude, mode: files, location: ./export }',
    `destination: { type: posthog, host: "${posthog.url}", batchMaxEvents: 1000, maxEventsPerMinute: none }`,
  ].join('\n'));
  const run = await timed([hogport, 'run', path.join(dir, 'pipeline.yaml'), '--skip-checks'], { ...process.env, POSTHOG_PROJECT_API_KEY: KEY, HOGPORT_PROGRESS: 'never', TMPDIR: dir });
  const got = await posthog.stats();
  say(run.err.split('\n').slice(-25).join('\n'));
  console.log(table([
    ['hogport run, Amplitude export (files)', 'records', 'hours', 'devices', 'seconds', 'records/s', 'peak RSS MB', 'events arrived', 'distinct uuids'],
    ['extract, transform, merge, load', int(total), hourCount, int(Number(values.devices)), run.seconds.toFixed(0), int(total / run.seconds), mb(run.rss), int(got.events), int(got.uuids)],
  ]));
} finally {
  posthog.stop();
  if (!values.keep) await rm(dir, { recursive: true, force: true });
}
