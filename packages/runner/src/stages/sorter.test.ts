import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { compareByUuid, entriesOf, sortLine, type Entry } from './ledger.js';
import { LineSorter } from './sorter.js';

test('lines past one run are spilled to files, merged in order, readable twice, and the files removed after', async () => {
  // A folder of its own: other tests sort in the OS temp dir at the same time.
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-sorter-test-'));
  const sortDirs = async () => (await readdir(dir)).filter((d) => d.startsWith('hogport-sort-'));
  const before = new Set<string>();
  const sorter = new LineSorter(7, dir);
  const lines: string[] = [];
  let s = 42;
  for (let i = 0; i < 1000; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const line = `${(s % 5000).toString(36)}\t${i}`;
    lines.push(line);
    await sorter.add(line);
  }
  const mine = (await sortDirs()).filter((d) => !before.has(d));
  assert.equal(mine.length, 1, 'runs went to a temporary folder');
  const want = [...lines].sort();
  const read = async () => { const out: string[] = []; for await (const l of sorter.sorted()) out.push(l); return out; };
  assert.deepEqual(await read(), want);
  assert.deepEqual(await read(), want, 'a second reading gives the same');
  assert.equal(sorter.size, 1000);
  await sorter.dispose();
  assert.deepEqual((await sortDirs()).filter((d) => !before.has(d)), []);
});

test('a ledger and a chunk are compared by uuid whatever their order: loaded, new, changed and withdrawn', async () => {
  const e = (uuid: string, content: string, key = 'k'): Entry => ({ uuid, content, key });
  const ledger = [e('a', '1'), e('b', '2'), e('c', '3'), e('d', '4', 'k1')];
  const now = new LineSorter(2);
  // In another order, one new, one changed in content only, one changed in its dedup key, one gone.
  for (const [i, x] of [e('d', '9', 'k2'), e('e', '5'), e('a', '1'), e('b', '7')].entries()) await now.add(sortLine(x, i));
  const groups = [];
  for await (const g of compareByUuid((async function* () { yield* ledger; })(), entriesOf(now))) groups.push(g);
  await now.dispose();
  const verdicts = groups.map((g) => [g.uuid, g.now.map((x) => `${x.verdict}${x.keyChanged ? '+key' : ''}@${x.position}`).join(',')]);
  assert.deepEqual(verdicts, [['a', 'loaded@2'], ['b', 'changed@3'], ['c', ''], ['d', 'changed+key@0'], ['e', 'new@1']]);
});
