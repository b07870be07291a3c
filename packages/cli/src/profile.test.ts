import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '@hogport/testkit';

/** Two files of known content: what profile must find in them. */
async function fixture(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-profile-'));
  await mkdir(path.join(dir, 'in'));
  const day1 = [
    { id: 'e1', kind: 'signup', user: 'u1', at: '2024-03-01T10:00:00Z', plan: 'pro' },
    { id: 'e2', kind: 'purchase', user: 'u1', at: '2024-03-01T11:00:00Z', plan: 7, amount: 10 },
    { id: 'e3', kind: 'purchase', user: 'anonymous', at: '2024-03-01T12:00:00Z', amount: 12 },
    { id: 'e4', kind: 'signup', user: 'u2', at: 'not a time' },
  ];
  const day2 = [
    { id: 'e5', kind: 'purchase', user: 'u3', at: '2024-03-02T09:00:00Z', amount: 3, note: 'x'.repeat(5000) },
    { id: 'e6', kind: 'view', user: 'u2', at: '2030-01-01T00:00:00Z' },
  ];
  await writeFile(path.join(dir, 'in', 'a.jsonl'), `${day1.map((r) => JSON.stringify(r)).join('\n')}\n`);
  // A numeric id beyond 2^53, as an export writes it: digits a double cannot hold.
  await writeFile(path.join(dir, 'in', 'b.jsonl'), `${day2.map((r) => JSON.stringify(r)).join('\n')}\n{"id":"e7","kind":"view","user":12345678901234567890,"at":"2024-03-02T10:00:00Z"}\n`);
  await writeFile(path.join(dir, 'pipeline.yaml'), [
    'id: prof', 'store: ./store',
    'source: { type: files, location: ./in, mapping: { event: kind, distinctId: user, timestamp: { field: at }, uuid: id } }',
    'destination: { type: dry-run }',
  ].join('\n'));
  return path.join(dir, 'pipeline.yaml');
}

test('profile reports what the extracted chunks hold, as the fixture has it, before anything is transformed or loaded', async () => {
  const file = await fixture();
  const none = await runCli(['profile', file]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /nothing is extracted yet: run hogport extract/);
  assert.equal((await runCli(['extract', file])).code, 0);
  const r = await runCli(['profile', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout);
  assert.equal(p.records, 7);
  assert.equal(p.events, 6);
  assert.deepEqual(p.eventNames, { purchase: 3, view: 2, signup: 1 });
  assert.deepEqual(p.days, { '2024-03-01': 3, '2024-03-02': 2, '2030-01-01': 1 });
  assert.deepEqual(p.distinctIds, { count: 5, exact: true });
  assert.deepEqual(Object.keys(p.rejected), ['bad_timestamp']);
  assert.equal(p.rejected.bad_timestamp.count, 1);
  assert.equal(p.problems.non_mergeable_distinct_id.count, 1);
  assert.deepEqual(p.problems.non_mergeable_distinct_id.examples, ['anonymous']);
  assert.deepEqual(p.problems.numeric_id_beyond_2_53.examples, ['12345678901234567890']);
  assert.equal(p.problems.event_in_the_future.count, 1);
  assert.deepEqual([p.timestamps.min, p.timestamps.future], ['2024-03-01T10:00:00.000Z', 1]);
  assert.equal(p.largest[0].uuid.length, 36);
  assert.ok(p.largest[0].bytes > 5000, 'the event with the long note is the largest');
  assert.deepEqual(p.properties.typeConflicts, [{ key: 'plan', types: ['string', 'number'] }]);
  assert.deepEqual(p.chunks, { profiled: 2, of: 2 });
  // With no rate in the definition the estimate uses PostHog's importer's pace, which is past the 10k a minute PostHog asks to hear of.
  assert.deepEqual([p.load.events, p.load.rateFrom, p.load.needsApproval], [6, 'posthog-importer', ['over 10,000 events a minute']]);
  // Profile only reads: no stage but extract has written anything to the store; it keeps its profile for hogport report.
  assert.deepEqual((await readdir(path.join(path.dirname(file), 'store', 'prof', 'manifests'))).sort(), ['extract']);
  const saved = JSON.parse(await readFile(path.join(path.dirname(file), 'store', 'prof', 'reports', 'profile.json'), 'utf8'));
  assert.deepEqual([saved.kind, saved.result], ['hogport.profile', p]);
  assert.ok(Date.now() - Date.parse(saved.takenAt) < 60_000, 'it says when it was taken');
  assert.ok(!(await readdir(path.join(path.dirname(file), 'store', 'prof'))).includes('outbox'));
  const text = await runCli(['profile', file]);
  assert.match(text.stdout, /7 records in 2 of 2 extracted chunks/);
  assert.match(text.stdout, /transform would reject:\n\s+1  bad_timestamp/);
  assert.match(text.stdout, /non_mergeable_distinct_id\s+e\.g\. "anonymous"/);
});

test('a sampled profile reads the same chunks on every run and scales the load estimate to all of them', async () => {
  const file = await fixture();
  assert.equal((await runCli(['extract', file])).code, 0);
  const a = JSON.parse((await runCli(['profile', file, '--json', '--sample-chunks', '1'])).stdout);
  const b = JSON.parse((await runCli(['profile', file, '--json', '--sample-chunks', '1'])).stdout);
  assert.deepEqual(a, b);
  assert.deepEqual(a.chunks, { profiled: 1, of: 2 });
  assert.equal(a.load.events, a.events * 2);
  const bad = await runCli(['profile', file, '--sample-chunks', 'many']);
  assert.equal(bad.code, 2);
});
