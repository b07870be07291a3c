import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileChunkId, loadPipeline, planWindows, selectChunks } from './index.js';

test('plans one chunk per UTC hour, end exclusive', () => {
  assert.deepEqual(planWindows(new Date('2024-03-01T22:30:00Z'), new Date('2024-03-02T01:00:00Z'), 'hour'),
    ['2024-03-01T22', '2024-03-01T23', '2024-03-02T00']);
  assert.deepEqual(planWindows(new Date('2024-02-28T00:00:00Z'), new Date('2024-03-01T00:00:00Z'), 'day'), ['2024-02-28', '2024-02-29']);
});

test('derives readable, collision-free chunk ids from file paths', () => {
  assert.equal(fileChunkId('2024/01/events.jsonl.gz'), '2024~01~events.jsonl.gz');
  const a = fileChunkId('exports/a b.json');
  const b = fileChunkId('exports/a_b.json');
  assert.notEqual(a, b);
  assert.match(a, /^exports~a_b\.json-[0-9a-f]{10}$/);
});

test('selects chunks by id and glob, and refuses a selector that matches nothing', () => {
  const ids = ['2024-03-01T00', '2024-03-01T01', '2024-03-02T00'];
  assert.deepEqual(selectChunks(ids, '2024-03-01T*'), ['2024-03-01T00', '2024-03-01T01']);
  assert.deepEqual(selectChunks(ids, '2024-03-02T00,2024-03-01T00'), ['2024-03-01T00', '2024-03-02T00']);
  assert.throws(() => selectChunks(ids, '2025-*'), { code: 'E_NO_SUCH_CHUNK' });
});

test('fills defaults and keeps the source options for the source to validate', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-def-'));
  const file = path.join(dir, 'p.yaml');
  await writeFile(file, 'id: acme\nsource:\n  type: posthog-files\n  location: ./export\n');
  const { definition, baseDir } = await loadPipeline(file);
  assert.equal(definition.store, './hogport-data');
  assert.equal(definition.destination.type, 'dry-run');
  assert.equal(definition.transform.geoipDisable, true);
  assert.equal((definition.source as Record<string, unknown>).location, './export');
  assert.equal(baseDir, dir);
});

test('names every problem of a malformed definition on its own line', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-def-'));
  const file = path.join(dir, 'bad.yaml');
  await writeFile(file, 'id: Not Valid\nsource: {}\ndestination:\n  type: posthog\n  host: nope\nconcurrency: 0\nextra: 1\n');
  await assert.rejects(loadPipeline(file), (err: Error & { code?: string; exitCode?: number; details?: { problems: string[] } }) => {
    assert.equal(err.code, 'E_PIPELINE_INVALID');
    assert.equal(err.exitCode, 2);
    const problems = err.details!.problems;
    for (const field of ['id', 'source.type', 'destination.host', 'concurrency', '(top level)']) {
      assert.ok(problems.some((p) => p.startsWith(`${field}:`)), `no line for ${field} in ${problems.join(' | ')}`);
    }
    return true;
  });
});
