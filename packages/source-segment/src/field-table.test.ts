import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkFieldTable, readFieldTableRecords, runExportFiles } from '@hogport/testkit';

const README = fileURLToPath(new URL('../../../README.md', import.meta.url));
const RECORDS = fileURLToPath(new URL('../fixtures/field-table.json', import.meta.url));
const SAMPLES = fileURLToPath(new URL('../../../fixtures/samples/', import.meta.url));

const id = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

test('the README\'s Segment field table holds for every row, on a run of the records it names', async (t) => {
  const { records, copies } = await readFieldTableRecords(RECORDS, SAMPLES);
  // A message the log holds more than once, as Segment delivers at least once.
  const times = (copies ?? {}) as Record<string, number>;
  const names = Object.keys(records);
  for (const n of Object.keys(times)) assert.ok(records[n], `copies names no record "${n}"`);
  const run = await runExportFiles({
    type: 'segment', pattern: '**/*.jsonl',
    files: names.map((n, i) => ({ file: `${String(i).padStart(3, '0')}-${n}.jsonl`, record: records[n], copies: times[n] ?? 1 })),
    owner: (i) => {
      const m = records[names[i]!]!;
      const user = id(m.userId) ?? id(m.anonymousId);
      // An alias links its previousId: the merge step's $create_alias belongs to it.
      const anon = [id(m.anonymousId), id(m.previousId)].filter((x): x is string => x !== undefined);
      return { ...(user ? { user } : {}), anon };
    },
  });
  await checkFieldTable(t, await readFile(README, 'utf8'), 'Segment field', records, Object.fromEntries(names.map((n, i) => [n, run.outcomes[i]!])));
});
