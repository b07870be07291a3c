#!/usr/bin/env node
// Identity merge benchmark: a migration's transform summaries for N persons (each a user with about
// four devices, Amplitude-shaped: a pair per device, person facts for the user and each device),
// written to a local store as the transform stage commits them; then the merge, in a process of its
// own, timed with its peak RSS. Memory should stay flat as persons grow, and time grow linearly.
//
//   npm run bench:merge -- [--persons 100000,1000000,5000000] [--chunks 240] [--shards 1]
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { createHash } from 'node:crypto';
import { layout as makeLayout } from '@hogport/layout';
import { encodeControl, Manifest } from '@hogport/manifest';
import { seeded } from '@hogport/testkit';
import { hogportFlags, root, say, table, timed, mb, int } from './bench/lib.mjs';

const { values } = parseArgs({ options: { persons: { type: 'string', default: '100000,1000000,5000000' }, chunks: { type: 'string', default: '240' }, shards: { type: 'string', default: '1' }, keep: { type: 'boolean', default: false } } });
const L = makeLayout('bench-merge');
const chunkCount = Number(values.chunks);
const rows = [['persons', 'pairs', 'summary lines', 'summaries MB (gzip)', 'merge s', 'persons/s', 'peak RSS MB']];

const T0 = Date.UTC(2024, 0, 1);
const tk = (ms) => `${new Date(ms).toISOString().slice(0, 23)}000Z`.replace(/Z$/, 'Z');

async function generate(dir, persons) {
  const rand = seeded(persons);
  const store = path.join(dir, 'store');
  const chunks = Array.from({ length: chunkCount }, (_, i) => new Date(T0 + i * 3600_000).toISOString().slice(0, 13));
  const writers = await Promise.all(chunks.map(async (chunk) => {
    const key = L.summary(chunk, 'a0');
    await mkdir(path.dirname(path.join(store, key)), { recursive: true });
    const gz = createGzip({ level: 1 });
    const file = createWriteStream(path.join(store, key));
    gz.pipe(file);
    return { chunk, key, gz, file, content: createHash('sha256'), lines: 0 };
  }));
  let lines = 0;
  let pairs = 0;
  const write = async (w, o) => {
    const line = `${JSON.stringify(o)}\n`;
    w.content.update(line);
    w.lines += 1;
    lines += 1;
    if (!w.gz.write(line)) await once(w.gz, 'drain');
  };
  for (let p = 0; p < persons; p++) {
    const user = `user-${p}@example.com`;
    const c = Math.floor(rand() * chunkCount);
    const w = writers[c];
    const at = T0 + c * 3600_000 + Math.floor(rand() * 3600_000);
    const devices = 2 + Math.floor(rand() * 5);
    for (let d = 0; d < devices; d++) {
      const device = `${p.toString(16)}-${d}-${Math.floor(rand() * 1e9).toString(36)}`;
      pairs += 1;
      await write(w, { pair: [user, device, new Date(at + d).toISOString()], props: { $amplitude_user_id: user, $amplitude_device_id: device } });
      await write(w, { person: device, facts: { last: new Date(at + d).toISOString(), set: { $os: [tk(at + d), 'iOS'], $browser: [tk(at + d), 'Safari'] }, once: { $initial_os: [tk(at + d), 'iOS'] }, carried: true } });
    }
    await write(w, { person: user, facts: {
      last: new Date(at + 10).toISOString(),
      set: { email: [tk(at), user], plan: [tk(at), ['free', 'pro', 'team'][p % 3]], country: [tk(at), 'Germany'], city: [tk(at), 'Berlin'], $os: [tk(at), 'iOS'], $browser: [tk(at), 'Safari'], logins: [tk(at), p % 97] },
      once: { $initial_referrer: [tk(at), 'https://example.com/'], signup: [tk(at), new Date(at).toISOString()] }, carried: true,
    } });
  }
  let bytes = 0;
  for (const w of writers) {
    w.gz.end();
    await once(w.file, 'finish');
    const size = (await stat(path.join(store, w.key))).size;
    w.sha = w.content.digest('hex');
    bytes += size;
    const now = new Date().toISOString();
    const manifest = {
      kind: 'hogport.manifest', version: 1, stage: 'transform', migration: L.migration, chunk: w.chunk, attempt: 'a0', attemptNumber: 1, worker: 'bench',
      hogportVersion: '0', configHash: 'h', inputDigest: 'd', inputs: [], outputs: [{ key: w.key, role: 'summary', bytes: size, sha256: w.sha, contentSha256: w.sha, records: w.lines }],
      counts: { unit: 'records', in: 0, out: 0, rejected: 0, dropped: 0, droppedBy: {} }, bytes: { in: 0, out: size }, startedAt: now, finishedAt: now, durationMs: 0, stats: {},
    };
    await mkdir(path.dirname(path.join(store, L.manifest('transform', w.chunk))), { recursive: true });
    await writeFile(path.join(store, L.manifest('transform', w.chunk)), encodeControl(Manifest, manifest));
  }
  return { store, chunks, lines, pairs, bytes };
}

for (const persons of values.persons.split(',').map(Number)) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bench-merge-'));
  try {
    say(`generating the summaries of ${int(persons)} persons in ${chunkCount} chunks`);
    const g = await generate(dir, persons);
    say(`${int(g.lines)} summary lines, ${mb(g.bytes)} MB gzipped; merging`);
    // With the node flags hogport's bin runs with, as `hogport merge` would.
    const r = await timed([...hogportFlags, path.join(root, 'scripts/bench/merge-child.mjs'), g.store, String(values.shards), ...g.chunks], { ...process.env, TMPDIR: dir });
    say(r.out.trim());
    rows.push([int(persons), int(g.pairs), int(g.lines), mb(g.bytes), r.seconds.toFixed(1), int(persons / r.seconds), mb(r.rss)]);
    say(table(rows));
  } finally {
    if (!values.keep) await rm(dir, { recursive: true, force: true });
  }
}
console.log(table(rows));
