import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { seeded } from '@hogport/testkit';
import { parse as parseCsv } from 'csv-parse/sync';
import { readRecords } from './index.js';

// hogport splits CSV records and JSON array elements itself, so that a broken row or element costs
// only itself. On well-formed input it must agree exactly with csv-parse and with JSON.parse, fed
// in pieces cut at random places: these tests hold it to that.

/** The stream of `text` cut into pieces of random sizes, as a network or a gunzip hands them over. */
function pieces(text: string, rand: () => number): Readable {
  const bytes = Buffer.from(text);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length;) {
    const n = 1 + Math.floor(rand() * (rand() < 0.2 ? 3 : 700));
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return Readable.from(out, { objectMode: false });
}

async function values(input: Readable, format: 'csv' | 'json', delimiter?: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const r of readRecords(input, { file: 'f', format, ...(delimiter ? { csv: { delimiter } } : {}) })) {
    assert.ok('value' in r, `well-formed input was refused: ${JSON.stringify(r)}`);
    out.push(r.value);
  }
  return out;
}

const ALPHABET = ['a', 'b', 'Z', '0', '7', ' ', ',', ';', '"', '""', '\n', '\r\n', 'é', '✓', '日本', '\t', '{', '}', '[', ']', '\\', "'"];

function field(rand: () => number): string {
  const n = Math.floor(rand() * 8);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)]!;
  return s;
}

/** A CSV table as a careful writer makes it: quoted where the field needs it, sometimes where it does not. */
function csvTable(rand: () => number, delimiter: string): { text: string; columns: number } {
  const columns = 1 + Math.floor(rand() * 6);
  const quote = (s: string) => (rand() < 0.2 || /["\r\n]/.test(s) || s.includes(delimiter) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s);
  const header = Array.from({ length: columns }, (_, i) => quote(`col${i}${rand() < 0.3 ? ' é' : ''}`));
  const rows = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Array.from({ length: columns }, () => quote(field(rand))).join(delimiter));
  const eol = rand() < 0.5 ? '\n' : '\r\n';
  return { text: `${rand() < 0.2 ? '\uFEFF' : ''}${header.join(delimiter)}${eol}${rows.join(eol)}${rand() < 0.7 ? eol : ''}`, columns };
}

test('on well-formed CSV, cut anywhere, every record is exactly what csv-parse reads', async () => {
  const rand = seeded(20261201);
  for (let round = 0; round < 300; round++) {
    const delimiter = rand() < 0.8 ? ',' : ';';
    const { text } = csvTable(rand, delimiter);
    const expected = parseCsv(text, { columns: true, bom: true, delimiter, skip_empty_lines: true, relax_column_count: true }) as Array<Record<string, string>>;
    // A row that is one empty field is an empty line to both.
    const got = await values(pieces(text, rand), 'csv', delimiter);
    assert.deepEqual(got.map((r) => ({ ...(r as object) })), expected, `round ${round}:\n${JSON.stringify(text)}`);
  }
});

function jsonValue(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth > 3 || r < 0.3) {
    const k = Math.floor(rand() * 6);
    return [null, true, false, Math.round((rand() - 0.5) * 1e6) / 100, field(rand), ''][k];
  }
  if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => jsonValue(rand, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = 0; i < Math.floor(rand() * 5); i++) o[`${field(rand)}${i}`] = jsonValue(rand, depth + 1);
  return o;
}

test('on a well-formed JSON array, cut anywhere and laid out any way, every element is exactly what JSON.parse reads', async () => {
  const rand = seeded(7);
  for (let round = 0; round < 300; round++) {
    const elements = Array.from({ length: Math.floor(rand() * 30) }, () => jsonValue(rand, 0));
    const text = rand() < 0.5 ? JSON.stringify(elements) : JSON.stringify(elements, null, rand() < 0.5 ? 2 : '\t');
    const got = await values(pieces(`${rand() < 0.2 ? '\uFEFF' : ''}${rand() < 0.3 ? '\n  ' : ''}${text}\n`, rand), 'json');
    assert.deepEqual(got, JSON.parse(text), `round ${round}:\n${text}`);
  }
});
