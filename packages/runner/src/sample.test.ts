import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { seeded } from '@hogport/testkit';
import { Components, drawMembers } from './index.js';

/** The clusters as a plain in-memory union-find has them: the reference the disk version must match. */
function reference(links: Array<[string, string]>): Map<string, string> {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    while (parent.get(x) !== x) x = parent.get(x)!;
    return x;
  };
  for (const [a, b] of links) {
    if (a === b) continue;
    for (const x of [a, b]) if (!parent.has(x)) parent.set(x, x);
    const [ra, rb] = [find(a), find(b)];
    // The least id is the root, so roots are the labels Components gives.
    if (ra !== rb) { if (ra < rb) parent.set(rb, ra); else parent.set(ra, rb); }
  }
  return new Map([...parent.keys()].map((id) => [id, find(id)]));
}

/** Stars of devices around users, devices shared between users, long alias chains, and odd ids. */
function identityGraph(seed: number): Array<[string, string]> {
  const rand = seeded(seed);
  const odd = ['"', '\\', '\n', '\t', '\u2028', '😀', 'é', ' '];
  const id = (kind: string, n: number) => `${kind}${n}${n % 7 === 0 ? odd[n % odd.length] : ''}`;
  const links: Array<[string, string]> = [];
  for (let u = 0; u < 1_000; u++) {
    const devices = 1 + Math.floor(rand() * 5);
    for (let d = 0; d < devices; d++) links.push([id('user', u), id('device', Math.floor(rand() * 3_000))]);
  }
  // A long chain of aliases whose ids are in no order is the slow case for label propagation.
  const alias = (c: number) => id('alias', (c * 7919) % 10_007);
  for (let c = 0; c < 500; c++) links.push([alias(c), alias(c + 1)]);
  links.push(['same', 'same']);
  return links;
}

test('components found on disk are the clusters an in-memory union-find finds, labelled by their least id, and leave nothing behind', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-components-'));
  const links = identityGraph(3);
  const components = new Components({ dir, maxChars: 4_000 });
  for (const [a, b] of links) await components.link(a, b);
  const labels = await components.label();
  const got = new Map<string, string>();
  let last = '';
  for await (const [id, label] of (async function* () { for await (const b of labels.batches()) yield* b; })()) {
    assert.ok(id > last, 'labels come by id, each once');
    last = id;
    got.set(id, label);
  }
  assert.deepEqual(got, reference(links));
  assert.ok(labels.rounds <= 16, `a chain of 500 links takes a few rounds, not one a link (${labels.rounds})`);
  assert.ok((await readdir(dir)).length > 0, 'it spilled');
  await labels.close();
  assert.deepEqual(await readdir(dir), [], 'nothing is left on disk');
});

test('a sample holds whole clusters: an id is in it exactly when some id of its cluster is drawn, counted as the scope records it', async () => {
  const links = identityGraph(11);
  const clusters = reference(links);
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-draw-'));
  const drawn = await drawMembers(10, (async function* () { yield* links; })(), { dir, maxChars: 4_000 });
  assert.deepEqual(await readdir(dir), [], 'the draw leaves nothing on disk');
  const roots = new Set([...clusters].filter(([id]) => drawn.members.drawn(id)).map(([, root]) => root));
  const members = [...clusters].filter(([, root]) => roots.has(root));
  assert.deepEqual(drawn.clusters, { total: new Set(clusters.values()).size, sampled: roots.size });
  assert.deepEqual(drawn.linkedIds, { total: clusters.size, sampled: members.length });
  for (const [id, root] of clusters) assert.equal(drawn.members.has(id), roots.has(root), id);
  assert.ok(drawn.clusters.sampled > 0 && drawn.clusters.sampled < drawn.clusters.total, 'the draw takes some clusters, not all');
  assert.equal(drawn.members.held, members.filter(([id]) => !drawn.members.drawn(id)).length, 'only ids in through their cluster are held');
  // An id never linked stands for itself.
  for (let i = 0; i < 2_000; i++) assert.equal(drawn.members.has(`lonely${i}`), drawn.members.drawn(`lonely${i}`));
});

test('a sample is the same whatever order its links come in', async () => {
  const links = identityGraph(5);
  const rand = seeded(9);
  const shuffled = links.map((l) => [rand(), l] as const).sort((a, b) => a[0] - b[0]).map(([, [a, b]]) => (rand() < 0.5 ? [b, a] : [a, b]) as [string, string]);
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-draw-'));
  const one = await drawMembers(25, (async function* () { yield* links; })(), { dir });
  const two = await drawMembers(25, (async function* () { yield* shuffled; })(), { dir, maxChars: 2_000 });
  assert.deepEqual([two.clusters, two.linkedIds], [one.clusters, one.linkedIds]);
  for (const id of reference(links).keys()) assert.equal(two.members.has(id), one.members.has(id), id);
});
