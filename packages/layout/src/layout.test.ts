import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layout, newAttemptId, isChunkId, sampleIdOf } from './index.js';

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

test('a sampled layout moves every load key into its lane and leaves extract and transform keys where they are', () => {
  const full = layout('m');
  const s = full.sampled('p30');
  assert.equal(s.sample, 'p30');
  assert.equal(s.manifest('load', 'c'), 'm/samples/p30/manifests/load/c.json');
  assert.equal(s.claim('load', 'c'), 'm/samples/p30/claims/load/c.json');
  assert.equal(s.failure('load', 'c'), 'm/samples/p30/failures/load/c.json');
  assert.equal(s.checkpoint('load', 'c'), 'm/samples/p30/checkpoints/load/c.json');
  assert.equal(s.worker('load', 'w'), 'm/samples/p30/workers/load/w.json');
  assert.equal(s.loadRejects('c', 'a', 1), 'm/samples/p30/rejects/load/c/a/000001.jsonl.gz');
  assert.equal(s.outbox('c', 'a', 1), 'm/samples/p30/outbox/c/a/000001.json.gz');
  for (const key of ['manifest', 'claim', 'failure', 'checkpoint'] as const) {
    assert.equal(s[key]('transform', 'c'), full[key]('transform', 'c'));
    assert.equal(s[key]('extract', 'c'), full[key]('extract', 'c'));
  }
  assert.equal(s.events('c', 'a'), full.events('c', 'a'));
  assert.equal(s.rejects('transform', 'c', 'a'), full.rejects('transform', 'c', 'a'));
  assert.equal(s.chunkOf('manifests', 'load', 'm/samples/p30/manifests/load/c.json'), 'c');
  assert.equal(s.chunkOf('manifests', 'load', 'm/manifests/load/c.json'), undefined, 'the full load is not the sample\'s');
  assert.equal(full.chunkOf('manifests', 'load', 'm/samples/p30/manifests/load/c.json'), undefined);
  assert.equal(full.scope('p0.5'), 'm/samples/p0.5/scope.json');
  assert.equal(full.sampleOf('m/samples/p0.5/manifests/load/c.json'), 'p0.5');
  assert.throws(() => full.sampled('../x'), /not a valid sample id/);
});

test('names a sample by its percent, one lane per percent however it is written, and none outside (0, 100]', () => {
  assert.equal(sampleIdOf(30), 'p30');
  assert.equal(sampleIdOf(30.0), 'p30');
  assert.equal(sampleIdOf(0.5), 'p0.5');
  assert.equal(sampleIdOf(100), 'p100');
  for (const bad of [0, -1, 100.5, Number.NaN, 1e-9, Infinity]) assert.equal(sampleIdOf(bad), undefined, String(bad));
});
