import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { readAll } from '@hogport/common';
import { openStore } from './open.js';
import { storeContract } from './store.contract.js';

let dir: string;
storeContract('file', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hogport-store-'));
  return openStore(dir);
}, async () => { await rm(dir, { recursive: true, force: true }); });

const keysOf = async (root: string, prefix = '') => {
  const keys: string[] = [];
  for await (const o of openStore(root).list(prefix)) keys.push(o.key);
  return keys;
};

test('symlinked files and folders in a source directory are listed and read like their targets', async (t) => {
  const base = await mkdtemp(path.join(tmpdir(), 'hogport-links-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  await mkdir(path.join(base, 'exports', 'day2'), { recursive: true });
  await writeFile(path.join(base, 'exports', 'a.jsonl'), 'a\n');
  await writeFile(path.join(base, 'exports', 'day2', 'b.jsonl'), 'bb\n');
  const source = path.join(base, 'source');
  await mkdir(source);
  await symlink(path.join(base, 'exports', 'a.jsonl'), path.join(source, 'a.jsonl'));
  await symlink(path.join(base, 'exports', 'day2'), path.join(source, 'day2'));
  // A link back up the tree would make the walk endless.
  await symlink(source, path.join(source, 'day2-loop'));
  await symlink('.', path.join(base, 'exports', 'day2', 'self'));
  assert.deepEqual(await keysOf(source), ['a.jsonl', 'day2/b.jsonl']);
  const store = openStore(source);
  assert.equal((await readAll(await store.read('day2/b.jsonl'))).toString(), 'bb\n');
  assert.equal((await store.head('a.jsonl'))?.size, 2);
});

test('a symlink to nothing in a listed directory is an error naming it, not a silent skip', async (t) => {
  const base = await mkdtemp(path.join(tmpdir(), 'hogport-links-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  await writeFile(path.join(base, 'kept.jsonl'), 'x\n');
  await symlink(path.join(base, 'moved-away.jsonl'), path.join(base, 'gone.jsonl'));
  await assert.rejects(keysOf(base), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_DANGLING_LINK');
    assert.match(err.message, /gone\.jsonl is a symbolic link to .*moved-away\.jsonl, which does not exist/);
    return true;
  });
  assert.deepEqual(await keysOf(base, 'kept'), ['kept.jsonl'], 'a listing that does not reach the link is unaffected');
});

/** A process writing to the store from a stream that never ends, until it is killed. */
async function startWriter(root: string): Promise<ChildProcess> {
  const entry = new URL('./index.js', import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import { openStore } from ${JSON.stringify(entry)};
    import { PassThrough } from 'node:stream';
    const body = new PassThrough();
    openStore(${JSON.stringify(root)}).write('big/object', body).catch(() => process.exit(3));
    body.write(Buffer.alloc(1024, 1));
    setInterval(() => body.write('x'), 50);
    setTimeout(() => console.log('writing'), 300);
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return child;
}

test('temp files of killed writers are cleaned up by the next write; a live writer\'s never', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'hogport-tmp-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const tmp = path.join(root, '.hogport-tmp');
  const killed = await startWriter(root);
  const live = await startWriter(root);
  t.after(() => { live.kill('SIGKILL'); });
  const files = async () => (await readdir(tmp)).sort();
  const before = await files();
  assert.equal(before.length, 2, 'each writer has its temp file');
  const killedFile = before.find((f) => f.startsWith(`${killed.pid}-`))!;
  const liveFile = before.find((f) => f.startsWith(`${live.pid}-`))!;
  killed.kill('SIGKILL');
  await new Promise((r) => killed.once('exit', r));
  // Left by an older version (no host in the name): judged by age alone.
  const oldLegacy = `999999-${'a'.repeat(16)}`;
  const freshLegacy = `999998-${'b'.repeat(16)}`;
  await writeFile(path.join(tmp, oldLegacy), 'old');
  await writeFile(path.join(tmp, freshLegacy), 'fresh');
  const hoursAgo = new Date(Date.now() - 7 * 3600_000);
  await utimes(path.join(tmp, oldLegacy), hoursAgo, hoursAgo);
  await mkdir(path.join(tmp, 'lock-0123456789abcdef01234567'));
  await utimes(path.join(tmp, 'lock-0123456789abcdef01234567'), hoursAgo, hoursAgo);

  await openStore(root).write('next/object', 'hello');
  const after = await files();
  assert.deepEqual(after, [freshLegacy, liveFile].sort());
  assert.ok(!after.includes(killedFile));
});
