import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { jsonLines, posthogEvents, runCli } from '@hogport/testkit';
import { readJson, workspace } from './e2e.helpers.js';

type Status = { chunks: Array<{ chunk: string; extract: { status: string; reason?: string }; transform: { status: string; error?: { code: string } }; load: { status: string } }>; totals: Record<string, Record<string, number>> };
const statusOf = async (pipeline: string) => JSON.parse((await runCli(['status', pipeline, '--json'])).stdout) as Status;
const extractManifest = (storeDir: string, chunk: string) => readJson(path.join(storeDir, 'e2e', 'manifests', 'extract', `${chunk}.json`)) as Promise<{ attempt: string; attemptNumber: number; outputs: Array<{ key: string }> }>;

test('a raw file damaged in the store makes the next run fetch it again without --force, and the migration completes', async () => {
  const ws = await workspace({ files: 3, perFile: 40 });
  assert.equal((await runCli(['extract', ws.pipeline])).code, 0);
  const chunk = (await statusOf(ws.pipeline)).chunks[0]!.chunk;
  const before = await extractManifest(ws.storeDir, chunk);
  const raw = path.join(ws.storeDir, before.outputs[0]!.key);
  const bytes = await readFile(raw);
  await writeFile(raw, bytes.subarray(0, Math.floor(bytes.length / 2)));

  const first = await runCli(['run', ws.pipeline]);
  assert.equal(first.code, 1, first.stderr);
  assert.match(first.stderr, new RegExp(`transform ${chunk}: (E_RAW_UNREADABLE|E_RAW_CORRUPT) .*the next run or extract fetches chunk ${chunk} again \\(1 of 3\\), without --force`));
  const status = await statusOf(ws.pipeline);
  const row = status.chunks.find((c) => c.chunk === chunk)!;
  assert.equal(row.extract.status, 'stale');
  assert.match(row.extract.reason!, /could not read its raw data .*fetched again \(1 of 3\)/);
  assert.equal(status.totals.load!.done, 2, 'the other chunks went on');

  const second = await runCli(['run', ws.pipeline]);
  assert.equal(second.code, 0, second.stderr);
  const after = await extractManifest(ws.storeDir, chunk);
  assert.equal(after.attemptNumber, before.attemptNumber + 1, 'fetched again once');
  assert.notEqual(after.attempt, before.attempt);
  const done = await statusOf(ws.pipeline);
  assert.deepEqual(done.totals.load, { done: 3, stale: 0, failed: 0, running: 0, pending: 0, waiting: 0 });
  assert.deepEqual(done.totals.extract, { done: 3, stale: 0, failed: 0, running: 0, pending: 0, waiting: 0 });
});

test('a source file that is damaged at the source is fetched again at most three times, then stays failed with what to do', async () => {
  const ws = await workspace({ files: 2, perFile: 40 });
  const source = path.join(ws.dir, 'export', 'part-000.jsonl.gz');
  const whole = gzipSync(jsonLines(posthogEvents({ seed: 7, count: 40, start: new Date(Date.UTC(2024, 0, 1)) })));
  await writeFile(source, whole.subarray(0, whole.length - 9));
  const chunk = (await statusOf(ws.pipeline)).chunks[0]!.chunk;

  const attempts: number[] = [];
  let last = '';
  for (let run = 1; run <= 5; run++) {
    const res = await runCli(['run', ws.pipeline]);
    assert.equal(res.code, 1, res.stderr);
    attempts.push((await extractManifest(ws.storeDir, chunk)).attemptNumber);
    last = res.stderr;
    if (run === 4) assert.match(res.stderr, new RegExp(`fetched 3 times more and is still unreadable: the source serves it damaged.*extract --force --chunks ${chunk}`));
  }
  assert.deepEqual(attempts, [1, 2, 3, 4, 4], 'the first fetch and three more, then no more');
  assert.match(last, new RegExp(`transform ${chunk}: E_RAW_UNREADABLE`));
  const row = (await statusOf(ws.pipeline)).chunks.find((c) => c.chunk === chunk)!;
  assert.deepEqual([row.extract.status, row.transform.status, row.transform.error?.code], ['done', 'failed', 'E_RAW_UNREADABLE']);
});
