import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkFieldTable, readFieldTableRecords, runExportFiles, type Owner } from '@hogport/testkit';

const README = fileURLToPath(new URL('../../../README.md', import.meta.url));
const RECORDS = fileURLToPath(new URL('../fixtures/field-table.json', import.meta.url));
const SAMPLES = fileURLToPath(new URL('../../../fixtures/samples/', import.meta.url));

const id = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const owner = (user: string | undefined, anon: string | undefined): Owner => ({ ...(user ? { user } : {}), anon: anon ? [anon] : [] });

test('the README\'s Heap field table holds for every row, on a run of the records it names', async (t) => {
  const { records, tables } = await readFieldTableRecords(RECORDS, SAMPLES);
  const names = Object.keys(records);
  for (const n of Object.keys(tables ?? {})) assert.ok(records[n], `tables names no record "${n}"`);
  // Heap tells its tables apart by the file's path: each row goes under its table's folder, in a file
  // named by its position only, so no record name can be taken for a table name.
  const table = (n: string) => (tables as Record<string, string> | undefined)?.[n] ?? 'events';
  const run = await runExportFiles({
    type: 'heap',
    files: names.map((n, i) => ({ file: `${table(n)}/${String(i).padStart(3, '0')}.jsonl`, record: records[n] })),
    owner: (i) => {
      const r = records[names[i]!]!;
      if (table(names[i]!) === 'users') return owner(id(r.identity) ?? id(r.user_id), id(r.user_id));
      if (table(names[i]!) === 'user_migrations') return owner(id(r.to_user_id), id(r.from_user_id));
      return owner(id(r.user_id), undefined);
    },
  });
  await checkFieldTable(t, await readFile(README, 'utf8'), 'Heap field', records, Object.fromEntries(names.map((n, i) => [n, run.outcomes[i]!])));
});
