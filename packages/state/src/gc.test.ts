import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layout as makeLayout, newAttemptId } from '@hogport/layout';
import { parseMergeKey, parseOutputKey } from './gc.js';

const at = new Date(Date.UTC(2024, 2, 1, 9, 30, 15, 123));
const attempt = newAttemptId(at, 'ab12cd');

test('every stage output the layout builds is one gc knows, with its stage, chunk, attempt and lane', () => {
  const l = makeLayout('m');
  const s = l.sampled('p30');
  const cases: Array<[string, string, string, string | undefined]> = [
    [l.raw('c1', attempt, 'page-000001.json'), 'raw', 'extract', undefined],
    [l.raw('c1', attempt, 'nested/dir/file.csv.gz'), 'raw', 'extract', undefined],
    [l.events('~identities', attempt), 'events', 'transform', undefined],
    [l.summary('c1', attempt), 'summary', 'transform', undefined],
    [l.rejects('transform', 'c1', attempt), 'rejects', 'transform', undefined],
    [l.loadRejects('c1', attempt, 7), 'rejects', 'load', undefined],
    [l.outbox('c1', attempt, 0), 'outbox', 'load', undefined],
    [s.outbox('c1', attempt, 3), 'outbox', 'load', 'p30'],
    [s.loadRejects('c1', attempt, 3), 'rejects', 'load', 'p30'],
    [l.loadLedger('c1', attempt), 'ledger', 'load', undefined],
    [l.loadChanged('c1', attempt), 'changed', 'load', undefined],
    [s.loadLedger('c1', attempt), 'ledger', 'load', 'p30'],
  ];
  for (const [key, kind, stage, sample] of cases) {
    const got = parseOutputKey(l, key);
    assert.ok(got, key);
    assert.deepEqual([got.kind, got.stage, got.attempt, got.sample, got.startedAt], [kind, stage, attempt, sample, at.getTime()], key);
  }
});

test('control objects, reports, scopes and keys of unknown shape are never outputs', () => {
  const l = makeLayout('m');
  const keys = [
    l.manifest('extract', 'c1'), l.claim('load', 'c1'), l.failure('transform', 'c1'), l.checkpoint('load', 'c1'),
    l.unreadable('c1'), l.worker('load', 'w1'), l.report('report-20240301T093000Z'), l.verifyResult(), l.profileResult(),
    l.probe('x'), l.scope('p30'), l.sampled('p30').manifest('load', 'c1'), l.sampled('p30').checkpoint('load', 'c1'),
    `m/events/c1/not-an-attempt.jsonl.gz`, `m/events/c1/${attempt}.jsonl`, `m/outbox/c1/${attempt}/notes.txt`,
    `m/raw/c1/${attempt}/`, `m/samples/p30/events/c1/${attempt}.jsonl.gz`, `other/events/c1/${attempt}.jsonl.gz`, `m/mine/${attempt}`,
  ];
  for (const key of keys) assert.equal(parseOutputKey(l, key), undefined, key);
});

test('the merge objects the layout builds are ones gc knows, with their group or shard and digest; its indexes and records are not', () => {
  const l = makeLayout('m');
  assert.deepEqual(parseMergeKey(l, l.mergePart('g07', 'd1gest', 'users-1')), { kind: 'merge-part', of: 'g07', digest: 'd1gest', to: 'users-1' });
  assert.deepEqual(parseMergeKey(l, l.mergeAnswers('ids-3', 'd2', 'users-0')), { kind: 'merge-answers', of: 'ids-3', digest: 'd2', to: 'users-0' });
  for (const key of [l.mergePartIndex('g07'), l.mergeShard('ids-3'), 'm/merge/parts/g07/d1/users-1.json', 'm/merge/other/g07/d1/users-1.jsonl.gz', 'm/merge/parts/g07/users-1.jsonl.gz', 'x/merge/parts/g07/d1/users-1.jsonl.gz', 'm/samples/p30/merge/parts/g07/d1/users-1.jsonl.gz']) {
    assert.equal(parseMergeKey(l, key), undefined, key);
  }
  // A ledger of another stage, or not of an attempt, is nothing gc knows.
  for (const key of [`m/ledgers/transform/c1/${attempt}.tsv.gz`, 'm/ledgers/load/c1/latest.tsv.gz', `m/changed/load/c1/${attempt}.json`]) assert.equal(parseOutputKey(l, key), undefined, key);
});
