import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layout, newAttemptId, isChunkId } from './index.js';

test('builds every key under the migration id', () => {
  const l = layout('acme-2024');
  assert.equal(l.manifest('transform', '2024-03-01T13'), 'acme-2024/manifests/transform/2024-03-01T13.json');
  assert.equal(l.events('c1', 'a1'), 'acme-2024/events/c1/a1.jsonl.gz');
  assert.equal(l.outbox('c1', 'a1', 7), 'acme-2024/outbox/c1/a1/000007.json.gz');
  assert.equal(l.report('report-20240301T093000Z'), 'acme-2024/reports/report-20240301T093000Z.html');
  assert.equal(l.verifyResult(), 'acme-2024/reports/verify.json');
  assert.equal(l.profileResult(), 'acme-2024/reports/profile.json');
});

test('parses a chunk id back out of a manifest key, and nothing else', () => {
  const l = layout('m');
  assert.equal(l.chunkOf('manifests', 'load', 'm/manifests/load/2024-01-01.json'), '2024-01-01');
  assert.equal(l.chunkOf('manifests', 'load', 'm/manifests/transform/2024-01-01.json'), undefined);
  assert.equal(l.chunkOf('claims', 'load', 'm/claims/load/x.tmp'), undefined);
});

test('refuses chunk ids that could escape their prefix', () => {
  const l = layout('m');
  assert.throws(() => l.manifest('load', '../x'));
  assert.throws(() => l.raw('a/b', 'x', 'f'));
  assert.equal(isChunkId('events-2024-01.jsonl.gz'), true);
});

test('refuses a migration id that is not a plain name', () => {
  assert.throws(() => layout('Bad Id'), /not a valid migration id/);
});

test('makes attempt ids that sort by time', () => {
  const a = newAttemptId(new Date('2024-01-01T00:00:00.001Z'), 'zzzzzz');
  const b = newAttemptId(new Date('2024-01-01T00:00:00.002Z'), 'aaaaaa');
  assert.ok(a < b);
  assert.equal(a, '20240101T000000001Z-zzzzzz');
});
