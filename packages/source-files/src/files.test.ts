import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ExactNumber, silentLogger } from '@hogport/common';
import { readRecords, type Outcome, type RecordRead } from '@hogport/pipeline';
import { openStore } from '@hogport/store';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { declaredMapper, DeclaredMapping, filesSource } from './index.js';

const read = async (data: Buffer | string, format: 'auto' | 'csv' = 'auto') => {
  const out: RecordRead[] = [];
  for await (const r of readRecords(Readable.from([Buffer.from(data)], { objectMode: false }), { file: 'f', format })) out.push(r);
  return out;
};
const values = (rs: RecordRead[]) => rs.map((r) => ('value' in r ? r.value : { code: r.code }));

test('tells JSON lines, JSON arrays and CSV apart by their bytes, gzip or not', async () => {
  const lines = await read('{"a":1}\n\n{"a":2}\n{"a":\n');
  assert.deepEqual(values(lines.slice(0, 2)), [{ a: 1 }, { a: 2 }]);
  const bad = lines[2]!;
  assert.ok(!('value' in bad) && bad.code === 'invalid_json' && /not valid JSON/.test(bad.reason));
  assert.deepEqual(values(await read(gzipSync('  [ {"a":1}, {"b":[1,2]} ]'))), [{ a: 1 }, { b: [1, 2] }]);
  const csv = '\uFEFFuser,event,note\nu1,signed up,"hello, ""world"""\nu2,bought,"two\nlines"\n';
  const rows = await read(csv);
  assert.deepEqual(values(rows), [{ user: 'u1', event: 'signed up', note: 'hello, "world"' }, { user: 'u2', event: 'bought', note: 'two\nlines' }]);
  await assert.rejects(read(Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(20)])), { code: 'E_FILE_UNREADABLE' });
  await assert.rejects(read('[{"a":1}, {"b":'), { code: 'E_FILE_UNREADABLE' });
});

async function transformWith(options: Record<string, unknown>, files: Record<string, string | Buffer>): Promise<Outcome[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-files-'));
  const source = filesSource({ options: { type: 'files', location: dir, ...options }, baseDir: dir, openStore, log: silentLogger });
  const out: Outcome[] = [];
  const raw = Object.entries(files).map(([name, data]) => ({ name, open: async () => Readable.from([Buffer.from(data)], { objectMode: false }) }));
  for (const [name, data] of Object.entries(files)) if (name.endsWith('.mjs') || name.endsWith('.ts')) await writeFile(path.join(dir, name), data);
  for await (const o of source.transform(raw.filter((r) => !/\.(mjs|ts)$/.test(r.name)), { migration: 'm', chunk: 'c', transform: {} as never, hogportVersion: '0', log: silentLogger })) out.push(o);
  return out;
}

test('maps records by a mapping declared in the definition', async () => {
  const out = await transformWith({
    mapping: { event: 'kind', distinctId: ['user.id', 'device'], timestamp: { field: 'at', format: 'iso', zone: 'Europe/Berlin' }, uuid: 'id', properties: { exclude: ['secret'], rename: { amount: 'revenue' }, constant: { source: 'warehouse' } } },
  }, { 'dump.jsonl': [
    JSON.stringify({ id: 'r-1', kind: 'purchase', user: { id: 'u1' }, at: '2024-07-01 12:00:00', amount: 9.5, secret: 'x' }),
    JSON.stringify({ id: 'r-2', kind: 'visit', device: 'd9', at: '2024-01-01T12:00:00Z' }),
    JSON.stringify({ id: 'r-3', kind: 'visit', at: '2024-01-01T12:00:00Z' }),
  ].join('\n') });
  const [a, b, c] = out;
  assert.ok(a?.kind === 'events' && b?.kind === 'events' && c?.kind === 'reject');
  assert.deepEqual([a.events[0]!.event, a.events[0]!.distinct_id, a.events[0]!.timestamp], ['purchase', 'u1', '2024-07-01T10:00:00.000Z']);
  assert.deepEqual(a.events[0]!.properties, { revenue: 9.5, source: 'warehouse' });
  assert.equal(b.events[0]!.distinct_id, 'd9');
  assert.equal(c.code, 'missing_distinct_id');
  const again = await transformWith({ mapping: { event: 'kind', distinctId: 'user.id', timestamp: { field: 'at' }, uuid: 'id' } }, { 'x.jsonl': JSON.stringify({ id: 'r-1', kind: 'purchase', user: { id: 'u1' }, at: '2024-07-01T10:00:00Z' }) });
  assert.ok(again[0]?.kind === 'events' && again[0].events[0]!.uuid === a.events[0]!.uuid, 'the uuid comes from the record\'s id');
});

test('carries every field but the mapped and excluded ones, in the record\'s order, whatever their names', () => {
  const map = declaredMapper(DeclaredMapping.parse({ event: 'kind', distinctId: ['user.id', 'device'], timestamp: { field: 'at' }, uuid: 'id', properties: { exclude: ['secret', 'it\'s "quoted"'], constant: { source: 'dump' } } }));
  const record = JSON.parse('{"id":"r-1","b":2,"kind":"buy","user":{"id":"u1"},"__proto__":{"polluted":true},"a":1,"secret":"x","it\'s \\"quoted\\"":3,"ünï":"ok","at":"2024-07-01T10:00:00.000Z"}') as unknown;
  const mapped = map(record);
  assert.ok('events' in mapped);
  const props = mapped.events[0]!.properties;
  assert.deepEqual(Object.keys(props), ['b', '__proto__', 'a', 'ünï', 'source']);
  assert.deepEqual(JSON.parse(JSON.stringify(props)), { b: 2, ['__proto__']: { polluted: true }, a: 1, 'ünï': 'ok', source: 'dump' });
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'a "__proto__" field is a field, never a prototype');
  assert.equal(Object.getPrototypeOf(props), Object.prototype);
});

test('runs a user mapping module: what it throws becomes a reject with the message, the rest are events', async () => {
  const js = 'export default function map(r) { if (r.n % 3 === 0) throw new Error(`row ${r.n} is cursed`); if (r.n % 5 === 0) return null; return { event: "row", distinct_id: r.user, timestamp: r.at, properties: { n: r.n } }; }';
  const rows = Array.from({ length: 30 }, (_, i) => ({ n: i + 1, user: `u${i % 4}`, at: `2024-03-0${1 + (i % 9)}T00:00:00Z` }));
  const csv = `n,user,at\n${rows.map((r) => `${r.n},${r.user},${r.at}`).join('\n')}\n`;
  const out = await transformWith({ module: './map.mjs' }, { 'map.mjs': js, 'rows.csv': csv });
  const rejects = out.filter((o) => o.kind === 'reject');
  const drops = out.filter((o) => o.kind === 'drop');
  const events = out.filter((o) => o.kind === 'events');
  assert.equal(rejects.length, 10);
  assert.ok(rejects.every((r) => r.kind === 'reject' && /the mapping module threw: row \d+ is cursed/.test(r.reason)));
  assert.equal(drops.length, 4);
  assert.equal(events.length + rejects.length + drops.length, 30, 'every record accounted for');
  const ts = 'type Row = { n: string; user: string; at: string };\nexport default (r: Row) => ({ event: "typed", distinct_id: r.user, timestamp: r.at, properties: {} });';
  const typed = await transformWith({ module: './map.ts' }, { 'map.ts': ts, 'rows.csv': 'n,user,at\n1,u1,2024-03-01T00:00:00Z\n' });
  assert.ok(typed[0]?.kind === 'events' && typed[0].events[0]!.event === 'typed');
});

test('reads Parquet: row groups and slices, INT64, timestamps, JSON columns and JSON held as text', async () => {
  const n = 25_000;
  const at = (i: number) => new Date(Date.UTC(2024, 5, 1) + i * 1000);
  const buffer = parquetWriteBuffer({
    rowGroupSize: 7_000,
    columnData: [
      { name: 'id', data: Array.from({ length: n }, (_, i) => `row-${i}`), type: 'STRING' },
      { name: 'kind', data: Array.from({ length: n }, (_, i) => (i % 2 ? 'view' : 'buy')), type: 'STRING' },
      { name: 'customer', data: Array.from({ length: n }, (_, i) => `c${i % 100}`), type: 'STRING' },
      { name: 'at', data: Array.from({ length: n }, (_, i) => at(i)), type: 'TIMESTAMP' },
      { name: 'big', data: Array.from({ length: n }, (_, i) => BigInt(i) * 1_000_000_007n), type: 'INT64' },
      { name: 'nested', data: Array.from({ length: n }, (_, i) => ({ plan: i % 3 ? 'pro' : 'free', tags: ['a', 'b'] })), type: 'JSON' },
      { name: 'raw_props', data: Array.from({ length: n }, (_, i) => JSON.stringify({ score: i })), type: 'STRING' },
    ],
  });
  const out = await transformWith({ jsonFields: ['raw_props'], mapping: { event: 'kind', distinctId: 'customer', timestamp: { field: 'at' }, uuid: 'id' } }, { 'data.parquet': Buffer.from(buffer) });
  assert.equal(out.length, n);
  assert.ok(out.every((o) => o.kind === 'events'));
  const last = out.at(-1)!;
  assert.ok(last.kind === 'events');
  const e = last.events[0]!;
  assert.equal(e.timestamp, at(n - 1).toISOString());
  assert.equal(e.properties.big, Number(BigInt(n - 1) * 1_000_000_007n));
  assert.deepEqual(e.properties.nested, { plan: (n - 1) % 3 ? 'pro' : 'free', tags: ['a', 'b'] });
  assert.deepEqual(e.properties.raw_props, { score: n - 1 });
  assert.equal(new Set(out.map((o) => (o.kind === 'events' ? o.events[0]!.uuid : ''))).size, n);
});

test('a declared mapping types CSV columns: revenue a number, flags booleans, JSON parsed, text kept as written, every digit kept', async () => {
  const csv = [
    'id,kind,user,at,revenue,paid,meta,zip,big',
    'r1,buy,u1,2024-03-01T00:00:00Z,12.50,true,"{""plan"":""pro"",""seats"":12345678901234567890}",01234,7',
    'r2,buy,u2,2024-03-01T00:00:00Z,,FALSE,"[1,2]",00501,12345678901234567890',
    'r3,buy,u3,2024-03-01T00:00:00Z,"12,50",yes,{},1,1',
    'r4,buy,u4,2024-03-01T00:00:00Z,-1e3,maybe,{},1,1',
    'r5,buy,u5,2024-03-01T00:00:00Z,0,no,{broken,1,1',
    'r6,buy,u6,2024-03-01T00:00:00Z, 42 ,1,null,1,0x1F',
  ].join('\n');
  const types = { revenue: 'number', paid: 'boolean', meta: 'json', zip: 'string', big: 'number' };
  const out = await transformWith({ mapping: { event: 'kind', distinctId: 'user', timestamp: { field: 'at' }, uuid: 'id', types } }, { 'orders.csv': `${csv}\n` });
  const [r1, r2, r3, r4, r5, r6] = out;
  assert.ok(r1?.kind === 'events' && r2?.kind === 'events');
  const p1 = r1.events[0]!.properties;
  assert.deepEqual([p1.revenue, p1.paid, p1.zip, p1.big], [12.5, true, '01234', 7]);
  assert.equal((p1.meta as { plan: string }).plan, 'pro');
  assert.ok((p1.meta as { seats: unknown }).seats instanceof ExactNumber && String((p1.meta as { seats: unknown }).seats) === '12345678901234567890', 'a number inside JSON keeps every digit');
  assert.deepEqual(r1.changed, ['number_as_text']);
  const p2 = r2.events[0]!.properties;
  assert.deepEqual([Object.hasOwn(p2, 'revenue'), p2.paid, p2.meta, p2.zip], [false, false, [1, 2], '00501'], 'an empty cell is no value, not a zero');
  assert.ok(p2.big instanceof ExactNumber && p2.big.text === '12345678901234567890');
  assert.deepEqual(r2.changed, ['number_as_text']);
  assert.deepEqual(JSON.parse(JSON.stringify(p2)).big, '12345678901234567890', 'it goes out as its text, every digit');
  const rejects = [r3, r4, r5].map((r) => (r?.kind === 'reject' ? [r.code, r.reason, r.position.line] : r));
  assert.deepEqual(rejects, [
    ['bad_field_type', 'field revenue is declared number, but holds "12,50"', 4],
    ['bad_field_type', 'field paid is declared boolean, but holds "maybe"', 5],
    ['bad_field_type', 'field meta is declared json, but holds "{broken"', 6],
  ]);
  assert.ok(r6?.kind === 'reject' && r6.reason === 'field big is declared number, but holds "0x1F"');
  assert.equal(out.length, 6, 'every row accounted for');
});

test('typed fields of JSON records: values already of the type stay, text of the type is parsed, the rest are rejects naming the field', async () => {
  const types = { revenue: 'number', paid: 'boolean', note: 'string' };
  const lines = [
    { id: 'a', kind: 'buy', user: 'u1', at: '2024-03-01T00:00:00Z', revenue: 9.99, paid: true, note: 7 },
    { id: 'b', kind: 'buy', user: 'u2', at: '2024-03-01T00:00:00Z', revenue: '3', paid: 'True', note: { a: 1 } },
    { id: 'c', kind: 'buy', user: 'u3', at: '2024-03-01T00:00:00Z', revenue: [3], paid: false, note: null },
    { id: 'd', kind: 'buy', user: 'u4', at: '2024-03-01T00:00:00Z', revenue: true },
  ];
  const out = await transformWith({ mapping: { event: 'kind', distinctId: 'user', timestamp: { field: 'at' }, uuid: 'id', types, properties: { rename: { revenue: 'amount' } } } }, { 'x.jsonl': lines.map((l) => JSON.stringify(l)).join('\n') });
  const brief = out.map((o) => (o.kind === 'events' ? o.events[0]!.properties : o.kind === 'reject' ? o.reason : o.kind === 'drop' ? o.rule : o.person.distinctId));
  assert.deepEqual(brief, [
    { amount: 9.99, paid: true, note: '7' },
    { amount: 3, paid: true, note: '{"a":1}' },
    'field revenue is declared number, but holds [3]',
    'field revenue is declared number, but holds true',
  ]);
  assert.ok(out.every((o) => o.kind !== 'events' || o.changed === undefined), 'nothing past a double: nothing counted');
});

test('a mapping without types keeps the transform config it had, so loaded chunks are not taken for changed', () => {
  const config = (mapping: Record<string, unknown>) => JSON.stringify(filesSource({ options: { type: 'files', location: tmpdir(), mapping }, baseDir: tmpdir(), openStore, log: silentLogger }).transformConfig());
  const plain = { event: 'kind', distinctId: 'user', timestamp: { field: 'at' } };
  assert.doesNotMatch(config(plain), /types/);
  assert.notEqual(config({ ...plain, types: { revenue: 'number' } }), config(plain));
});
