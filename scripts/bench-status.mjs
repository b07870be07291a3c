#!/usr/bin/env node
// Status benchmark: a migration of N chunks done in every stage on an S3 store (moto_server), its
// state read two ways: chunk by chunk (each stage's manifest, failure and claim, and the upstream
// manifest for the expectation: how status read the store before snapshots), and as one snapshot
// from listings. Prints requests and seconds for each; requests are what an S3 bill and a far
// region's latency multiply.
//
//   npm run bench:status -- [--chunks 2000] [--latency-ms 0]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import { layout as makeLayout, STAGES } from '@hogport/layout';
import { encodeControl, Manifest } from '@hogport/manifest';
import { inspectChunk, takeSnapshot } from '@hogport/state';
import { openStore } from '@hogport/store';
import { startMoto } from '@hogport/testkit';
import { int, say, table } from './bench/lib.mjs';

const { values } = parseArgs({ options: { chunks: { type: 'string', default: '2000' }, 'latency-ms': { type: 'string', default: '0' } } });
const n = Number(values.chunks);
const latency = Number(values['latency-ms']);
const L = makeLayout('bench-status');

const moto = await startMoto();
try {
  const base = openStore(await moto.bucket(`bench-status-${Date.now()}`));
  const manifest = (stage, chunk, inputDigest) => ({
    kind: 'hogport.manifest', version: 1, stage, migration: L.migration, chunk, attempt: `${stage}-${chunk}`, attemptNumber: 1, worker: 'w',
    hogportVersion: '0', configHash: 'h', inputDigest, inputs: [], outputs: [],
    counts: { unit: 'records', in: 100, out: 98, rejected: 1, dropped: 1, droppedBy: { rule: 1 } }, bytes: { in: 1, out: 1 },
    startedAt: '2024-01-01T00:00:00.000Z', finishedAt: '2024-01-01T00:00:01.000Z', durationMs: 1000, stats: {},
  });
  const chunks = Array.from({ length: n }, (_, i) => new Date(Date.UTC(2024, 0, 1) + i * 3600_000).toISOString().slice(0, 13));
  say(`writing ${int(n * 3)} manifests to ${moto.endpoint}`);
  const limit = pLimit(32);
  await Promise.all(chunks.map((chunk) => limit(async () => {
    let input = `plan:${chunk}`;
    for (const stage of STAGES) { await base.write(L.manifest(stage, chunk), encodeControl(Manifest, manifest(stage, chunk, input))); input = `${stage}-${chunk}`; }
  })));

  let requests = 0;
  const wait = () => (latency ? new Promise((r) => setTimeout(r, latency)) : undefined);
  const counted = (fn) => async (...a) => { requests += 1; await wait(); return fn(...a); };
  const store = {
    url: base.url, read: counted((k) => base.read(k)), head: counted((k) => base.head(k)), write: (k, b) => base.write(k, b), writeIf: (k, b, c) => base.writeIf(k, b, c),
    delete: (k) => base.delete(k), close: () => base.close(),
    list: (p, o) => { requests += 1; return base.list(p, o); },
  };
  const expect = (stage, chunk, up) => (stage === 'extract' ? { inputDigest: `plan:${chunk}`, configHash: 'h' } : up ? { inputDigest: up.attempt, configHash: 'h' } : undefined);
  const upstream = { transform: 'extract', load: 'transform' };

  const rows = [];
  {
    requests = 0;
    const t = performance.now();
    const one = pLimit(16);
    let done = 0;
    await Promise.all(chunks.map((chunk) => one(async () => {
      for (const stage of STAGES) {
        const up = upstream[stage] ? (await inspectChunk(store, L, upstream[stage], chunk, undefined)).manifest?.value : undefined;
        if ((await inspectChunk(store, L, stage, chunk, expect(stage, chunk, up))).status === 'done') done += 1;
      }
    })));
    rows.push(['chunk by chunk', int(done), int(requests), ((performance.now() - t) / 1000).toFixed(1)]);
  }
  {
    requests = 0;
    const t = performance.now();
    const snapshot = await takeSnapshot({ store, layout: L, planned: chunks, expect });
    const done = STAGES.reduce((a, s) => a + snapshot.totals()[s].done, 0);
    rows.push(['one snapshot', int(done), int(requests), ((performance.now() - t) / 1000).toFixed(1)]);
  }
  say(`\n${int(n)} chunks done in 3 stages, 16 requests at once${latency ? `, ${latency} ms added to each read` : ''}:`);
  say(table([['read as', 'chunk-stages done', 'requests', 'seconds'], ...rows]));
} finally {
  await moto.stop();
}
