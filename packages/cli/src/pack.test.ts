import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { crashIn } from '@hogport/testkit';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function run(cmd: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, encoding: 'utf8', timeout: 240_000 });
}

/** Whether npm's registry answers: the install fetches the third-party dependencies from it. */
function registryAnswers(cwd: string): boolean {
  return run('npm', ['ping', '--fetch-retries=1', '--fetch-timeout=15000'], { cwd }).status === 0;
}

test('the packed hogport installs on its own and runs a dry-run migration outside the repository', { timeout: 480_000 }, async () => {
  const away = await mkdtemp(path.join(tmpdir(), 'hogport-pack-'));
  // The install fetches the third-party dependencies: without the registry this test cannot say anything, and says so.
  assert.ok(registryAnswers(away), 'npm\'s registry does not answer (npm ping failed): the packed install cannot fetch its dependencies');
  const packed = run(process.execPath, [path.join(ROOT, 'scripts/pack.mjs'), '--out', path.join(away, 'out')], { cwd: ROOT });
  assert.equal(packed.status, 0, packed.stderr);
  const tgz = packed.stdout.trim();
  assert.match(path.basename(tgz), /^hogport-\d+\.\d+\.\d+\.tgz$/);
  const listed = run('tar', ['-tzf', tgz], { cwd: away });
  assert.equal(listed.status, 0, listed.stderr);
  const files = listed.stdout.split('\n').filter(Boolean);
  assert.ok(files.includes('package/node_modules/@hogport/runner/dist/thread-entry.js'), 'the workspace packages are bundled');
  assert.deepEqual(files.filter((f) => /\.test\.|\.map$|\/testkit\/|\/src\//.test(f)), [], 'no tests, source maps, test kit or sources ship');

  const prefix = path.join(away, 'prefix');
  const installed = run('npm', ['i', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tgz], { cwd: away });
  assert.equal(installed.status, 0, installed.stderr);

  // Another folder, and an environment with nothing of the repository in it: only node and the prefix's bin.
  const work = await mkdtemp(path.join(tmpdir(), 'hogport-installed-'));
  const env = { PATH: [path.join(prefix, 'bin'), path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter), HOME: work };
  const hogport = (...args: string[]): SpawnSyncReturns<string> => {
    const r = run('hogport', args, { cwd: work, env });
    const crash = crashIn(`${r.stderr}\n${r.stdout}`);
    assert.equal(crash, undefined, `hogport ${args.join(' ')} printed ${crash}:\n${r.stderr}`);
    return r;
  };

  const help = hogport('--help');
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: hogport /);
  const version = JSON.parse(await readFile(path.join(ROOT, 'packages/cli/package.json'), 'utf8')) as { version: string };
  assert.equal(hogport('--version').stdout.trim(), version.version);

  // The templates ship with it: init writes a valid definition.
  assert.equal(hogport('init', 'files', '--out', 'files.yaml').status, 0);
  assert.match(await readFile(path.join(work, 'files.yaml'), 'utf8'), /type: files/);

  // A tiny migration on a local store, through every stage (transform in worker threads) into the dry-run outbox.
  await mkdir(path.join(work, 'export'));
  const events = [1, 2, 3].map((i) => ({ event: 'signed_up', distinct_id: `user-${i}`, timestamp: `2024-01-0${i}T00:00:00.000Z`, properties: { plan: 'pro' }, uuid: `00000000-0000-4000-8000-00000000000${i}` }));
  await writeFile(path.join(work, 'export', 'events.jsonl'), `${events.map((e) => JSON.stringify(e)).join('\n')}\n{ not json\n`);
  await writeFile(path.join(work, 'migration.yaml'), [
    'version: 1', 'id: installed', 'store: ./hogport-data',
    'source:', '  type: posthog-files', '  location: ./export', '  pattern: "*.jsonl"',
    'destination:', '  type: dry-run', 'threads: 2', '',
  ].join('\n'));
  const migrated = hogport('run', 'migration.yaml');
  assert.equal(migrated.status, 0, migrated.stderr);
  const outbox = path.join(work, 'hogport-data', 'installed', 'outbox');
  const sent: Array<{ uuid: string }> = [];
  for (const file of await readdir(outbox, { recursive: true })) {
    if (!file.endsWith('.json.gz')) continue;
    sent.push(...(JSON.parse(gunzipSync(await readFile(path.join(outbox, file))).toString()) as { batch: Array<{ uuid: string }> }).batch);
  }
  assert.deepEqual(sent.map((e) => e.uuid).sort(), events.map((e) => e.uuid));
  const status = hogport('status', 'migration.yaml', '--json');
  assert.equal(status.status, 0, status.stderr);
  const chunks = (JSON.parse(status.stdout) as { chunks: Array<{ chunk: string; transform: { counts: { in: number; rejected: number } } }> }).chunks;
  assert.deepEqual(chunks.map((c) => [c.chunk, c.transform.counts.in, c.transform.counts.rejected]), [['events.jsonl', 4, 1]], 'the bad line is a reject, not lost');
});
