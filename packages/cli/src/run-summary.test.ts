import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Counts } from '@hogport/manifest';
import type { ChunkOutcome } from '@hogport/runner';
import { inspectCommand, summaryLines, type RunFacts } from './run-summary.js';

const counts = (c: Partial<Counts> & Pick<Counts, 'in' | 'out'>): Counts => ({ unit: 'records', rejected: 0, dropped: 0, droppedBy: {}, ...c });
const all = (stage: ChunkOutcome['stage'], chunks: string[], result: ChunkOutcome['result'] = 'done'): ChunkOutcome[] => chunks.map((chunk) => ({ chunk, stage, result }));

function facts(over: Partial<RunFacts>): RunFacts {
  return {
    definition: 'pipeline.yaml', stages: ['extract', 'transform', 'load'], outcomes: [],
    destination: { type: 'dry-run', outbox: 'file:///data/store/m/outbox/' }, store: 'file:///data/store',
    transformed: [], loaded: [], ...over,
  };
}

test('a dry run says how many events it wrote to the outbox and where, that nothing was sent, and never that the migration is complete', () => {
  const lines = summaryLines(facts({
    outcomes: [...all('extract', ['a', 'b']), ...all('transform', ['a', 'b']), ...all('load', ['a', 'b'])],
    transformed: [{ chunk: 'a', counts: counts({ in: 10, out: 10 }) }, { chunk: 'b', counts: counts({ in: 5, out: 5 }) }],
    loaded: [{ chunk: 'a', counts: counts({ in: 12, out: 12, unit: 'events' }), rejects: [] }, { chunk: 'b', counts: counts({ in: 5, out: 5, unit: 'events' }), rejects: [] }],
  }));
  assert.deepEqual(lines.slice(0, 5), [
    'extract: 2 done, 0 already done, 0 failed',
    'transform: 2 done, 0 already done, 0 failed',
    'load: 2 done, 0 already done, 0 failed',
    'dry run: 17 events written to the outbox, nothing sent',
    '  outbox: file:///data/store/m/outbox/',
  ]);
  assert.ok(!lines.join('\n').includes('complete'));
});

test('a load to PostHog says how many events it sent, and to which host', () => {
  const lines = summaryLines(facts({
    stages: ['load'], outcomes: [...all('load', ['a']), ...all('load', ['b'], 'skipped')],
    destination: { type: 'posthog', host: 'https://eu.i.posthog.com' },
    loaded: [{ chunk: 'a', counts: counts({ in: 300, out: 300, unit: 'events' }), rejects: [] }],
  }));
  assert.deepEqual(lines, ['load: 1 done, 1 already done, 0 failed', '300 events sent to https://eu.i.posthog.com']);
});

test('the records of the chunks transformed add up, with drops by rule and the commonest reject codes, each with the command that shows it', () => {
  const rejectedBy = (m: Record<string, number>) => ({ rejected: Object.values(m).reduce((a, b) => a + b, 0), rejectedBy: m });
  const lines = summaryLines(facts({
    stages: ['transform'], outcomes: all('transform', ['2024-01', '2024-02']),
    transformed: [
      { chunk: '2024-01', rejects: 'm/rejects/transform/2024-01/A.jsonl.gz', counts: counts({ in: 100, out: 80, events: 85, dropped: 5, droppedBy: { dropEvents: 4, importEvents: 1 }, ...rejectedBy({ E_TIME: 9, E_JSON: 1, E_A: 1, E_B: 1, E_C: 1, E_D: 1, E_E: 1 }) }) },
      { chunk: '2024-02', rejects: 'm/rejects/transform/2024-02/B.jsonl.gz', counts: counts({ in: 50, out: 40, dropped: 0, ...rejectedBy({ E_JSON: 10 }) }) },
    ],
  }));
  const records = lines.find((l) => l.startsWith('records:'))!;
  assert.equal(records, 'records: 150 in, 120 out as 125 events, 25 rejected, 5 dropped (dropEvents 4, importEvents 1)');
  const [, inn, out, rejected, dropped] = /(\d+) in, (\d+) out .* (\d+) rejected, (\d+) dropped/.exec(records)!.map(Number);
  assert.equal(inn, out! + rejected! + dropped!, 'in = out + rejected + dropped');
  const codes = lines.slice(lines.indexOf('rejected: 25 records; see them with hogport inspect:') + 1).filter((l) => l.includes('hogport inspect'));
  assert.deepEqual(codes.map((l) => l.trim().split(/\s+/).slice(0, 2)), [['E_JSON', '11'], ['E_TIME', '9'], ['E_A', '1'], ['E_B', '1'], ['E_C', '1']], 'the top five, most first');
  assert.ok(codes[0]!.endsWith('hogport inspect pipeline.yaml 2024-02 --reject E_JSON'), 'the chunk with the most of the code');
  assert.ok(codes[1]!.endsWith('hogport inspect pipeline.yaml 2024-01 --reject E_TIME'));
  assert.ok(lines.includes('  and 2 more under 2 other code(s)'));
  assert.ok(lines.includes('  rejects: file:///data/store/m/rejects/transform/2024-01/A.jsonl.gz'));
  assert.ok(lines.includes('  rejects: file:///data/store/m/rejects/transform/2024-02/B.jsonl.gz'));
});

test('rejects in many chunks are named by their first objects and the folder of the rest', () => {
  const chunks = ['c1', 'c2', 'c3', 'c4', 'c5'];
  const lines = summaryLines(facts({
    stages: ['transform'], outcomes: all('transform', chunks),
    transformed: chunks.map((chunk) => ({ chunk, rejects: `m/rejects/transform/${chunk}/x.jsonl.gz`, counts: counts({ in: 2, out: 1, rejected: 1, rejectedBy: { E_X: 1 } }) })),
  }));
  assert.equal(lines.filter((l) => l.startsWith('  rejects: ')).length, 3);
  assert.ok(lines.includes('  and 2 more under file:///data/store/m/rejects/transform/'));
});

test('a run that transformed nothing says so instead of counting chunks it found done', () => {
  const lines = summaryLines(facts({ stages: ['transform'], outcomes: all('transform', ['a'], 'skipped') }));
  assert.deepEqual(lines, ['transform: 0 done, 1 already done, 0 failed', 'records: no chunk transformed in this run']);
});

test('rejects whose codes were not counted are still counted as rejects, and said to be', () => {
  const lines = summaryLines(facts({ stages: ['transform'], outcomes: all('transform', ['a']), transformed: [{ chunk: 'a', counts: counts({ in: 3, out: 1, rejected: 2, rejectedBy: { E_X: 1 } }) }] }));
  assert.ok(lines.includes('  and 1 whose code this run could not read'));
});

test('events refused while loading are counted apart, with where they are kept', () => {
  const lines = summaryLines(facts({
    stages: ['load'], outcomes: all('load', ['a']), destination: { type: 'posthog', host: 'https://us.i.posthog.com' },
    loaded: [{ chunk: 'a', counts: counts({ unit: 'events', in: 10, out: 8, rejected: 2 }), rejects: ['m/rejects/load/a/T/000001.jsonl.gz'] }],
  }));
  assert.deepEqual(lines.slice(1), ['8 events sent to https://us.i.posthog.com', 'load: 2 events refused while loading (invalid, or refused by PostHog)', '  rejects: file:///data/store/m/rejects/load/a/T/000001.jsonl.gz']);
});

test('the inspect command quotes a definition path the shell would split', () => {
  assert.equal(inspectCommand('my pipelines/it\'s.yaml', '2024-01-01', 'E_X'), `hogport inspect 'my pipelines/it'\\''s.yaml' 2024-01-01 --reject E_X`);
  assert.equal(inspectCommand('./p.yaml', '~identities', 'E_X'), 'hogport inspect ./p.yaml ~identities --reject E_X');
});

test('chunks whose manifest could not be read back are said to be left out of the counts', () => {
  const lines = summaryLines(facts({ stages: ['load'], outcomes: all('load', ['a', 'b']), loaded: [{ chunk: 'a', counts: counts({ unit: 'events', in: 3, out: 3 }), rejects: [] }], unread: ['load b'] }));
  assert.equal(lines.at(-1), 'not counted above: 1 chunk(s) whose manifest could not be read back (load b); hogport status shows them');
});

test('a sampled run says so first, with its scope and the events it passed over, and that the full load is unaffected', () => {
  const lines = summaryLines(facts({
    stages: ['load'], outcomes: all('load', ['a', 'b']),
    destination: { type: 'posthog', host: 'https://eu.i.posthog.com' },
    loaded: [
      { chunk: 'a', counts: counts({ in: 100, out: 30, dropped: 70, droppedBy: { notSampled: 70 }, unit: 'events' }), rejects: [] },
      { chunk: 'b', counts: counts({ in: 10, out: 2, dropped: 8, droppedBy: { notSampled: 8 }, unit: 'events' }), rejects: [] },
    ],
    sample: { id: 'p30', percent: 30, scope: { percent: 30, clusters: { total: 10, sampled: 3 }, linkedIds: { total: 25, sampled: 8 }, persons: { total: 12, sampled: 4 } } },
  }));
  assert.deepEqual(lines, [
    'sampled run p30: a test migration of 30% of persons, in its own lane; the full load is unaffected',
    '  scope: 30% of persons: 3 of 10 linked persons (8 of 25 of their ids), 4 of 12 persons with properties; ids never linked are drawn one by one',
    '  78 events of persons outside the sample passed over in this run',
    'load: 2 done, 0 already done, 0 failed',
    '32 events sent to https://eu.i.posthog.com',
  ]);
});

test('the end of a run names the report it wrote, or says it could not be written and how to try again', () => {
  const written = summaryLines(facts({ stages: ['extract'], outcomes: all('extract', ['a']), report: { location: '/data/store/m/reports/report-20240301T093000Z.html' } }));
  assert.equal(written.at(-1), 'report: /data/store/m/reports/report-20240301T093000Z.html');
  const refused = summaryLines(facts({ definition: 'my pipeline.yaml', stages: ['extract'], outcomes: all('extract', ['a']), report: { error: 'E_STORE: access denied' } }));
  assert.equal(refused.at(-1), "report: not written (E_STORE: access denied); the run is not affected, and hogport report 'my pipeline.yaml' tries again");
  assert.ok(!summaryLines(facts({ stages: ['extract'], outcomes: all('extract', ['a']) })).some((l) => l.startsWith('report:')));
});
