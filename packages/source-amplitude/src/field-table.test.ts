import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkFieldTable } from '@hogport/testkit';
import { runAmplitudeRecords } from './conformance.helpers.js';

const README = fileURLToPath(new URL('../../../README.md', import.meta.url));
const RECORDS = fileURLToPath(new URL('../fixtures/field-table.json', import.meta.url));

test('the README\'s Amplitude field table holds for every row, on a run of the records it names', async (t) => {
  const records = (JSON.parse(await readFile(RECORDS, 'utf8')) as { records: Record<string, Record<string, unknown>> }).records;
  const names = Object.keys(records);
  const run = await runAmplitudeRecords(names.map((n) => records[n]!));
  await checkFieldTable(t, await readFile(README, 'utf8'), 'Amplitude field', records, Object.fromEntries(names.map((n, i) => [n, run.outcomes[i]!])));
});
