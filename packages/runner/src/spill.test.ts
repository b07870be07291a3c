import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { seeded } from '@hogport/testkit';
import { ExternalSorter } from './index.js';

async function collect(sorter: ExternalSorter): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const pair of sorter.sorted()) out.push(pair);
  return out;
}

test('pairs far past the memory bound come out by key, then value, as an in-memory sort gives them, and the runs are removed', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-spill-test-'));
  const rand = seeded(7);
  // Keys with the characters ids hold: quotes, newlines, tabs, astral symbols, and many repeats.
  const alphabet = ['a', 'b', '"', '\n', '\r', '\t', '\\', 'é', '😀', '\u0000', '\u2028', '\ud800', '\udfff', 'Z'];
  const pairs: Array<[string, string]> = Array.from({ length: 20_000 }, () => {
    const word = () => Array.from({ length: 1 + Math.floor(rand() * 4) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    return [word(), word()];
  });
  const sorter = new ExternalSorter({ dir, maxChars: 20_000 });
  for (const [k, v] of pairs) await sorter.add(k, v);
  const expected = [...pairs].sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  assert.deepEqual(await collect(sorter), expected);
  assert.ok((await readdir(dir)).length > 0, 'it spilled');
  assert.deepEqual(await collect(sorter), expected, 'and can be read again');
  await sorter.close();
  assert.deepEqual(await readdir(dir), [], 'nothing is left on disk');
});

test('more runs than are merged at once are merged in rounds, to the same order', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-spill-rounds-'));
  const sorter = new ExternalSorter({ dir, maxChars: 200 });
  const keys = Array.from({ length: 3_000 }, (_, i) => String((i * 7919) % 3_000).padStart(5, '0'));
  for (const k of keys) await sorter.add(k, `v${k}`);
  const got = await collect(sorter);
  assert.deepEqual(got.map(([k]) => k), [...keys].sort());
  assert.ok(got.every(([k, v]) => v === `v${k}`));
  await sorter.close();
});

test('batches hand out the pairs sorted() gives, in order, a bounded number at a time, lines longer than a read included', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-spill-batches-'));
  const rand = seeded(11);
  // Values far longer than one read of a run file, so lines are cut between reads.
  const pairs: Array<[string, string]> = Array.from({ length: 3_000 }, (_, i) => [`k${Math.floor(rand() * 500)}`, i % 100 === 0 ? `{"long":"${'x'.repeat(150_000 + i)}"}` : `v${i}`]);
  const sorter = new ExternalSorter({ dir, maxChars: 400_000 });
  for (const [k, v] of pairs) await sorter.add(k, v);
  const batches: Array<Array<[string, string]>> = [];
  for await (const batch of sorter.batches()) batches.push(batch);
  assert.ok(batches.length > 2 && batches.every((b) => b.length > 0 && b.length <= 1024), `${batches.length} batches`);
  assert.deepEqual(batches.flat(), await collect(sorter));
  assert.deepEqual(batches.flat().map(([k, v]) => `${k} ${v.length}`).sort(), pairs.map(([k, v]) => `${k} ${v.length}`).sort(), 'every pair, whole');
  await sorter.close();
});

test('an id kept from a spilled sort holds only its own bytes, not the piece of the run it was read in', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-spill-hold-'));
  const sorter = new ExternalSorter({ dir, maxChars: 1_000_000 });
  for (let i = 0; i < 200_000; i++) await sorter.add(`device-${i.toString(16).padStart(12, '0')}-${'x'.repeat(20)}`, `user-${i % 5000}@example.com`);
  gc();
  const before = process.memoryUsage().heapUsed;
  // One id kept from every thousand pairs, as a sparse sort's pairs or a held label are.
  const kept: string[] = [];
  let seen = 0;
  for await (const batch of sorter.batches()) for (const [id] of batch) if (seen++ % 1000 === 0) kept.push(id);
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  assert.equal(kept.length, 200);
  // 200 ids of 40 characters; a 64 KiB piece held for each would be 13 MB.
  assert.ok(grown < 2_000_000, `200 kept ids hold ${grown} bytes`);
  await sorter.close();
});
