import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DELIBERATE, fixtureProblems, judge, KNOWN_DEFECTS, type ImporterCase, type MigrationRun, type RecordOutcome } from './conformance.js';
import { checkFieldRow, parseFieldTable, readFieldTableRecords } from './field-table.js';

const sent = (event: Record<string, unknown>) => ({ event, envelope: { api_key: '[redacted]', historical_migration: true, sent_at: new Date(1000).toISOString() } });
const outcome = (over: Partial<RecordOutcome> = {}): RecordOutcome => ({ events: [], groupIdentifies: [], identifies: [], rejected: [], dropped: [], ...over });
const run = (outcomes: RecordOutcome[]): MigrationRun => ({ migration: 'm', outcomes, start: 0, end: 2000, refusedOptions: [] });
const kase = (c: Partial<ImporterCase> = {}): ImporterCase => ({ name: 'test_x', file: 'x.rs', context: {}, records: [{}], expect: [], ...c });

test('an asserted field hogport gets wrong, with no listed reason, fails the conformance check', () => {
  const r = run([outcome({ events: [sent({ event: 'button_click', properties: { action: 'tap' } })] })]);
  const v = judge('amplitude', kase(), { record: 0, output: 'event', path: 'properties.action', equals: 'click' }, r, {});
  assert.equal(v.kind, 'fail');
  assert.match((v as { problem: string }).problem, /expected "click", hogport has "tap"/);
  assert.equal(judge('amplitude', kase(), { record: 0, output: 'event', path: 'properties.action', equals: 'tap' }, r, {}).kind, 'match');
});

test('a deliberate difference passes only while what hogport does instead holds', () => {
  const exp = { record: 0, output: 'event' as const, path: 'properties.historical_migration', equals: true };
  const good = run([outcome({ events: [sent({ event: 'e', properties: {} })] })]);
  assert.deepEqual(judge('amplitude', kase(), exp, good, {}).kind, 'deliberate');
  const bad = run([outcome({ events: [{ event: { event: 'e', properties: {} }, envelope: {} }] })]);
  assert.equal(judge('amplitude', kase(), exp, bad, {}).kind, 'fail', 'a batch without historical_migration is no deliberate difference');
});

/** Runs `fn` with a demonstration defect known, as a defect found before it is fixed would be. */
function withDemoDefect(fn: () => void): void {
  KNOWN_DEFECTS.push({ id: 'demo-defect', defect: 'a demonstration', applies: (s) => s.case.context.demo === true });
  try { fn(); } finally { KNOWN_DEFECTS.pop(); }
}

test('a known defect is reported as such, and stops being one once hogport matches', () => withDemoDefect(() => {
  const exp = { record: 0, output: 'event' as const, path: 'properties.$device_type', equals: 'Mobile' };
  const affected = kase({ context: { demo: true } });
  const today = judge('amplitude', affected, exp, run([outcome({ events: [sent({ event: 'e', properties: {} })] })]), {});
  assert.deepEqual([today.kind, (today as { id?: string }).id], ['defect', 'demo-defect']);
  assert.equal(judge('amplitude', affected, exp, run([outcome({ events: [sent({ event: 'e', properties: { $device_type: 'Mobile' } })] })]), {}).kind, 'match');
  assert.equal(judge('amplitude', kase(), exp, run([outcome({ events: [sent({ event: 'e', properties: {} })] })]), {}).kind, 'fail', 'a case the defect does not apply to fails');
}));

const TABLE = `
| Demo field | PostHog | hogport | record |
| --- | --- | --- | --- |
| \`a.b\` | \`properties.x\` | \`properties.x\`; \`properties.k\` = \`"v"\`; no \`properties.gone\` | \`one\` |
| \`a.b\` | | rejected \`bad\` (todo: demo-defect) | \`one\` |
`;

test('a field table row is checked claim by claim against the record it names', () => withDemoDefect(() => {
  const [row, rejected] = parseFieldTable(TABLE, 'Demo field');
  const record = { a: { b: 7 } };
  assert.deepEqual(checkFieldRow(row!, record, outcome({ events: [sent({ event: 'e', properties: { x: 7, k: 'v' } })] })), []);
  const wrong = checkFieldRow(row!, record, outcome({ events: [sent({ event: 'e', properties: { x: 8, k: 'v', gone: 1 } })] }));
  assert.equal(wrong.length, 2);
  assert.match(wrong[0]!, /line 4 \(a\.b\): expected properties\.x = 7, hogport has 8/);
  assert.match(wrong[1]!, /expected no properties\.gone/);
  assert.equal(rejected!.todo, 'demo-defect');
  assert.deepEqual(checkFieldRow(rejected!, record, outcome({ rejected: [{ code: 'bad', reason: 'r' }] })), []);
  assert.equal(checkFieldRow(rejected!, record, outcome()).length, 1);
}));

test('a field table row about a field its record lacks fails, unless the row says the field is missing', () => {
  const table = `
| Demo field | PostHog | hogport | record |
| --- | --- | --- | --- |
| \`a.c\` | | no \`properties.c\` | \`one\` |
| \`a.c\` missing | | no \`properties.c\` | \`one\` |
`;
  const [absent, missing] = parseFieldTable(table, 'Demo field');
  const o = outcome({ events: [sent({ event: 'e', properties: {} })] });
  assert.match(checkFieldRow(absent!, { a: { b: 7 } }, o).join('\n'), /has no a\.c/);
  assert.deepEqual(checkFieldRow(missing!, { a: { b: 7 } }, o), []);
});

test('a field table row reads its source field with the reader a source gives', () => withDemoDefect(() => {
  const [row] = parseFieldTable(TABLE, 'Demo field');
  const read = (r: Record<string, unknown>, p: string) => (p === 'a.b' ? (r.list as number[])[0] : undefined);
  assert.deepEqual(checkFieldRow(row!, { list: [7] }, outcome({ events: [sent({ event: 'e', properties: { x: 7, k: 'v' } })] }), read), []);
  assert.equal(checkFieldRow(row!, { list: [8] }, outcome({ events: [sent({ event: 'e', properties: { x: 7, k: 'v' } })] }), read).length, 1);
}));

test('field-table records may be lines of a published sample, and a line that is not there is an error', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-field-records-'));
  try {
    await mkdir(path.join(dir, 'samples', 'src'), { recursive: true });
    await writeFile(path.join(dir, 'samples', 'src', 'a.jsonl'), '{"n":1}\n{"n":2}\n');
    await writeFile(path.join(dir, 'records.json'), JSON.stringify({ records: { own: { n: 0 }, second: { sample: 'src/a.jsonl', line: 2 } }, tables: { own: 'users' } }));
    const read = await readFieldTableRecords(path.join(dir, 'records.json'), path.join(dir, 'samples'));
    assert.deepEqual(read, { records: { own: { n: 0 }, second: { n: 2 } }, tables: { own: 'users' } });
    await writeFile(path.join(dir, 'records.json'), JSON.stringify({ records: { gone: { sample: 'src/a.jsonl', line: 3 } } }));
    await assert.rejects(readFieldTableRecords(path.join(dir, 'records.json'), path.join(dir, 'samples')), /names line 3 of src\/a\.jsonl/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a field table that cannot be read, or names an unknown defect, is an error rather than a pass', () => withDemoDefect(() => {
  assert.throws(() => parseFieldTable(TABLE, 'Other field'), /no table/);
  assert.throws(() => parseFieldTable(TABLE.replace('(todo: demo-defect)', '(todo: no-such-defect)'), 'Demo field'), /not a known defect/);
  assert.throws(() => parseFieldTable(TABLE.replace('rejected `bad`', 'maybe `bad`'), 'Demo field'), /cannot read the claim/);
}));

test('the README lists every deliberate difference, with the reason the conformance check gives, and no other', async () => {
  const readme = await readFile(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const start = readme.indexOf('| difference | fields | why hogport\'s way |');
  assert.ok(start >= 0, 'the README has the table of deliberate differences');
  const rows = readme.slice(start).split('\n').slice(2).filter((l, i, all) => all.slice(0, i + 1).every((x) => x.startsWith('|')));
  assert.deepEqual(rows, DELIBERATE.map((d) => `| \`${d.id}\` | ${d.fields} | ${d.why} |`));
});

test('an importer case whose expectation could never fail (no matcher, a misspelt one, no such record) is refused', () => {
  assert.deepEqual(fixtureProblems([kase({ expect: [{ record: 0, output: 'event', path: 'event', equals: 'x' }] })]), []);
  const problems = fixtureProblems([kase({ expect: [{ record: 0, output: 'event', path: 'event', equal: 'x' } as never, { record: 3, output: 'all', count: 1 }] })]);
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(problems.join('\n'), /0 matchers/);
  assert.match(problems.join('\n'), /unknown keys equal/);
  assert.match(problems.join('\n'), /no record 3/);
});
