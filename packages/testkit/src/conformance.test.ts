import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DELIBERATE, fixtureProblems, judge, type ImporterCase, type MigrationRun, type RecordOutcome } from './conformance.js';
import { checkFieldRow, parseFieldTable } from './field-table.js';

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

test('a known defect is reported as such, and stops being one once hogport matches', () => {
  const exp = { record: 0, output: 'event' as const, path: 'properties.$device_type', equals: 'Mobile' };
  const today = judge('amplitude', kase(), exp, run([outcome({ events: [sent({ event: 'e', properties: {} })] })]), {});
  assert.deepEqual([today.kind, (today as { id?: string }).id], ['defect', 'device-type']);
  assert.equal(judge('amplitude', kase(), exp, run([outcome({ events: [sent({ event: 'e', properties: { $device_type: 'Mobile' } })] })]), {}).kind, 'match');
});

const TABLE = `
| Demo field | PostHog | hogport | record |
| --- | --- | --- | --- |
| \`a.b\` | \`properties.x\` | \`properties.x\`; \`properties.k\` = \`"v"\`; no \`properties.gone\` | \`one\` |
| \`a.b\` | | rejected \`bad\` (todo: device-type) | \`one\` |
`;

test('a field table row is checked claim by claim against the record it names', () => {
  const [row, rejected] = parseFieldTable(TABLE, 'Demo field');
  const record = { a: { b: 7 } };
  assert.deepEqual(checkFieldRow(row!, record, outcome({ events: [sent({ event: 'e', properties: { x: 7, k: 'v' } })] })), []);
  const wrong = checkFieldRow(row!, record, outcome({ events: [sent({ event: 'e', properties: { x: 8, k: 'v', gone: 1 } })] }));
  assert.equal(wrong.length, 2);
  assert.match(wrong[0]!, /line 4 \(a\.b\): expected properties\.x = 7, hogport has 8/);
  assert.match(wrong[1]!, /expected no properties\.gone/);
  assert.equal(rejected!.todo, 'device-type');
  assert.deepEqual(checkFieldRow(rejected!, record, outcome({ rejected: [{ code: 'bad', reason: 'r' }] })), []);
  assert.equal(checkFieldRow(rejected!, record, outcome()).length, 1);
});

test('a field table that cannot be read, or names an unknown defect, is an error rather than a pass', () => {
  assert.throws(() => parseFieldTable(TABLE, 'Other field'), /no table/);
  assert.throws(() => parseFieldTable(TABLE.replace('(todo: device-type)', '(todo: no-such-defect)'), 'Demo field'), /not a known defect/);
  assert.throws(() => parseFieldTable(TABLE.replace('rejected `bad`', 'maybe `bad`'), 'Demo field'), /cannot read the claim/);
});

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
