#!/usr/bin/env node
// Large-file benchmark for the files source: writes one JSON array and one CSV of about --mb MB
// each (records of about 1 KB), then runs `hogport transform` on each in its own process and prints
// records/s and peak RSS. The array is streamed element by element and the CSV row by row, so
// memory must not follow the file size.
//
//   npm run bench:files -- [--mb 1024] [--keep]
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { hogport, say, timed } from './bench/lib.mjs';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '1024' }, keep: { type: 'boolean', default: false } } });
const bytes = Number(values.mb) * 1024 * 1024;
const pad = 'x'.repeat(800);
const row = (i) => ({ id: `r-${i}`, kind: i % 7 === 0 ? 'refund' : 'order', customer: `c${i % 5000}`, at: new Date(Date.UTC(2023, 0, 1) + i * 1000).toISOString(), amount: (i % 1000) / 10, note: `${pad} ${i}` });

async function write(file, kind) {
  const out = createWriteStream(file);
  let written = 0;
  let i = 0;
  const put = async (s) => { written += Buffer.byteLength(s); if (!out.write(s)) await once(out, 'drain'); };
  if (kind === 'json') await put('[\n');
  else await put('id,kind,customer,at,amount,note\n');
  while (written < bytes) {
    const r = row(i);
    await put(kind === 'json' ? `${i ? ',\n' : ''}${JSON.stringify(r)}` : `${r.id},${r.kind},${r.customer},${r.at},${r.amount},"${r.note}"\n`);
    i += 1;
  }
  if (kind === 'json') await put('\n]\n');
  out.end();
  await once(out, 'finish');
  return i;
}

const results = [];
for (const kind of ['json', 'csv']) {
  const dir = await mkdtemp(path.join(tmpdir(), `hogport-bench-files-${kind}-`));
  await mkdir(path.join(dir, 'data'));
  const file = path.join(dir, 'data', `dump.${kind}`);
  say(`writing ${values.mb} MB of ${kind} under ${dir}`);
  const records = await write(file, kind);
  await writeFile(path.join(dir, 'pipeline.yaml'), 'id: bench\nstore: ./store\nsource: { type: files, location: ./data, mapping: { event: kind, distinctId: customer, timestamp: { field: at }, uuid: id } }\nconcurrency: 1\n');
  await timed([hogport, 'extract', path.join(dir, 'pipeline.yaml'), '--log-level', 'warn']);
  say(`transforming ${records.toLocaleString('en-US')} ${kind} records`);
  const t = await timed([hogport, 'transform', path.join(dir, 'pipeline.yaml'), '--log-level', 'warn']);
  const manifest = JSON.parse(await readFile(path.join(dir, 'store/bench/manifests/transform/dump.' + kind + '.json'), 'utf8'));
  results.push({ kind, mb: values.mb, records, ...t, out: manifest.counts.out, rejected: manifest.counts.rejected });
  if (!values.keep) await rm(dir, { recursive: true, force: true });
}
process.stdout.write(`\nfiles source, ${cpus().length} cores, node ${process.version}\n`);
process.stdout.write('format  size MB    records  transform s  records/s  peak RSS MB  events  rejected\n');
for (const r of results) {
  process.stdout.write(`${r.kind.padEnd(6)}  ${String(r.mb).padStart(7)}  ${r.records.toLocaleString('en-US').padStart(9)}  ${r.seconds.toFixed(1).padStart(11)}  ${Math.round(r.records / r.seconds).toLocaleString('en-US').padStart(9)}  ${(r.rss / 1048576).toFixed(0).padStart(11)}  ${String(r.out).padStart(6)}  ${String(r.rejected).padStart(8)}\n`);
}
