import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkFieldTable, readFieldTableRecords, runExportFiles, valueAt } from '@hogport/testkit';

const README = fileURLToPath(new URL('../../../README.md', import.meta.url));
const RECORDS = fileURLToPath(new URL('../fixtures/field-table.json', import.meta.url));
const SAMPLES = fileURLToPath(new URL('../../../fixtures/samples/', import.meta.url));

const id = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/**
 * `event_params.page_location` and `user_properties.plan` name an entry of GA4's key/value lists, read
 * from its typed slot as BigQuery writes it (INT64 as text), and `user_properties.plan.set_timestamp_micros`
 * the time beside that slot; any other path is a plain dotted one.
 */
function ga4Field(record: Record<string, unknown>, path: string): unknown {
  const m = /^(event_params|user_properties)\.(.+?)(\.set_timestamp_micros)?$/.exec(path);
  if (!m) return valueAt(record, path);
  const list = record[m[1]!];
  const entry = Array.isArray(list) ? (list as Array<{ key?: unknown; value?: Record<string, unknown> }>).find((p) => p.key === m[2]) : undefined;
  const slot = entry?.value ?? {};
  if (m[3]) return slot.set_timestamp_micros ?? undefined;
  for (const k of ['string_value', 'int_value', 'float_value', 'double_value']) {
    const v = slot[k];
    if (v === null || v === undefined) continue;
    if (k !== 'int_value') return v;
    // INT64 as text: a number where a double holds it exactly, else the digits.
    return Number.isSafeInteger(Number(v)) ? Number(v) : String(v);
  }
  return undefined;
}

test('the README\'s GA4 field table holds for every row, on a run of the records it names', async (t) => {
  const { records } = await readFieldTableRecords(RECORDS, SAMPLES);
  const names = Object.keys(records);
  const run = await runExportFiles({
    type: 'ga4',
    files: names.map((n, i) => ({ file: `${String(i).padStart(3, '0')}-${n}.jsonl`, record: records[n] })),
    owner: (i) => {
      const r = records[names[i]!]!;
      const user = id(r.user_id) ?? id(r.user_pseudo_id);
      const pseudo = id(r.user_pseudo_id);
      return { ...(user ? { user } : {}), anon: pseudo ? [pseudo] : [] };
    },
  });
  await checkFieldTable(t, await readFile(README, 'utf8'), 'GA4 field', records, Object.fromEntries(names.map((n, i) => [n, run.outcomes[i]!])), { read: ga4Field });
});
