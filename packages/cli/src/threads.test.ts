import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '@hogport/testkit';
import { readJson, workspace } from './e2e.helpers.js';

const transformManifests = async (storeDir: string, chunks: string[]) => Promise.all(chunks.map((c) => readJson(path.join(storeDir, `e2e/manifests/transform/${c}.json`))));

test('transforms in threads exactly what it transforms in one: same events, same counts, every chunk once', async () => {
  const { pipeline, storeDir } = await workspace({ files: 6, perFile: 400, badLines: ['{"event": "no distinct id"}', 'not json'] });
  assert.equal((await runCli(['extract', pipeline])).code, 0);
  const one = await runCli(['transform', pipeline, '--threads', '1']);
  assert.equal(one.code, 0, one.stderr);
  const chunks = (await runCli(['plan', pipeline, '--json'])).stdout;
  const ids = (JSON.parse(chunks) as { chunks: Array<{ id: string }> }).chunks.map((c) => c.id);
  const before = await transformManifests(storeDir, ids);

  const three = await runCli(['transform', pipeline, '--threads', '3', '--force']);
  assert.equal(three.code, 0, three.stderr);
  assert.match(three.stderr, /transform: 6 done/);
  const after = await transformManifests(storeDir, ids);
  for (let i = 0; i < ids.length; i++) {
    assert.notEqual(after[i].attempt, before[i].attempt, 'redone');
    assert.deepEqual(after[i].counts, before[i].counts);
    assert.deepEqual(after[i].outputs.map((o: { contentSha256: string }) => o.contentSha256), before[i].outputs.map((o: { contentSha256: string }) => o.contentSha256), `chunk ${ids[i]} has the same events`);
  }
  assert.deepEqual(after[0].counts.rejected, 2);
});

test('a chunk that fails in a thread is failed with its reason, and the others commit', async () => {
  const { pipeline, storeDir } = await workspace({ files: 4, perFile: 200 });
  assert.equal((await runCli(['extract', pipeline])).code, 0);
  // Damage every raw file of one chunk after extract: transform must notice, whatever thread reads it.
  const extract = await readJson(path.join(storeDir, 'e2e/manifests/extract/part-002.jsonl.gz.json'));
  for (const o of extract.outputs) {
    const file = path.join(storeDir, o.key);
    const data = await readFile(file);
    data.writeUInt8(data.readUInt8(data.length - 10) ^ 0xff, data.length - 10);
    await writeFile(file, data);
  }
  // As many threads as chunks: all but one chunk run in worker threads.
  const run = await runCli(['transform', pipeline, '--threads', '4']);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /transform: 3 done, 0 already done, 1 failed/);
  const failure = await readJson(path.join(storeDir, 'e2e/failures/transform/part-002.jsonl.gz.json'));
  assert.equal(failure.error.code, 'E_RAW_CORRUPT');
  assert.match(run.stderr, /transform part-002\.jsonl\.gz: E_RAW_CORRUPT raw file .* does not match its extract manifest/);
});

test('refuses a thread count that is not a positive whole number', async () => {
  const { pipeline } = await workspace({ files: 1, perFile: 10 });
  const run = await runCli(['transform', pipeline, '--threads', 'many']);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /--threads takes a positive whole number/);
});
