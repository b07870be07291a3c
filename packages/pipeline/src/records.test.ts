import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ExactNumber, HogportError } from '@hogport/common';
import { idOf, readRecords, recordOutcomes, type Outcome, type ReadOptions, type RecordRead, type RecordResult } from './index.js';

const bytes = (data: Buffer | string) => Readable.from([Buffer.from(data)], { objectMode: false });
const read = async (data: Buffer | string | Readable, options: Partial<ReadOptions> = {}): Promise<RecordRead[]> => {
  const out: RecordRead[] = [];
  for await (const r of readRecords(data instanceof Readable ? data : bytes(data), { file: 'f', ...options })) out.push(r);
  return out;
};
const valueOf = (r: RecordRead | undefined) => (r && 'value' in r ? r.value : r);
const rejectOf = (r: RecordRead | undefined) => {
  assert.ok(r && !('value' in r), `expected a reject, got ${JSON.stringify(r)}`);
  return r;
};

/** Maps a record the way every source does for its ids: through idOf, the rest as properties. */
const idMapper = (value: unknown): RecordResult => {
  const { id, ...properties } = value as Record<string, unknown>;
  const distinctId = idOf(id);
  if (!distinctId) return { code: 'missing_distinct_id', reason: 'no id' };
  return { events: [{ uuid: '00000000-0000-4000-8000-000000000000', event: 'e', distinct_id: distinctId, timestamp: '2024-01-01T00:00:00.000Z', properties }] };
};
const outcomes = async (data: Buffer | string, options: Partial<ReadOptions> = {}): Promise<Outcome[]> => {
  const out: Outcome[] = [];
  for await (const o of recordOutcomes(bytes(data), { file: 'f', ...options }, idMapper)) out.push(o);
  return out;
};

/** A stream of `size` bytes of `x` without a newline, then `tail`, made of one reused 64 KiB piece. */
async function* longLine(size: number, tail: string, onPiece?: () => void): AsyncGenerator<Buffer> {
  const piece = Buffer.alloc(65_536, 0x78);
  for (let n = 0; n < size; n += piece.length) { onPiece?.(); yield n + piece.length > size ? piece.subarray(0, size - n) : piece; }
  yield Buffer.from(tail);
}

test('a line over the maximum becomes a line_too_long reject with its position and first bytes; the lines around it are read', async () => {
  const long = `{"a":"${'x'.repeat(5000)}"}`;
  const rs = await read(`{"n":1}\n${long}\n{"n":2}\n`, { maxLineBytes: 1000 });
  assert.equal(rs.length, 3);
  assert.deepEqual(valueOf(rs[0]), { n: 1 });
  const r = rejectOf(rs[1]);
  assert.equal(r.code, 'line_too_long');
  assert.deepEqual(r.position, { file: 'f', line: 2, offset: 8 });
  assert.equal(r.raw, long.slice(0, 1024));
  assert.match(r.reason, new RegExp(`${long.length} bytes`));
  assert.deepEqual(rs[2], { value: { n: 2 }, position: { file: 'f', line: 3, offset: 8 + long.length + 1 }, raw: '{"n":2}' });
  // Exactly at the maximum is still a line.
  assert.deepEqual(valueOf((await read(`{"a":"${'x'.repeat(992)}"}\n`, { maxLineBytes: 1000 }))[0]), { a: 'x'.repeat(992) });
});

test('a 50 MB line is skipped without being held: memory stays far under its size, and it takes well under a second a megabyte', async () => {
  const size = 50_000_000;
  let peak = 0;
  const base = process.memoryUsage();
  const sample = () => { const m = process.memoryUsage(); peak = Math.max(peak, m.heapUsed - base.heapUsed + m.arrayBuffers - base.arrayBuffers); };
  const started = Date.now();
  const rs = await read(Readable.from(longLine(size, '\n{"after":true}\n', sample), { objectMode: false }), { format: 'jsonl' });
  const ms = Date.now() - started;
  assert.equal(rs.length, 2);
  const r = rejectOf(rs[0]);
  assert.equal(r.code, 'line_too_long');
  assert.equal(r.raw, 'x'.repeat(1024));
  assert.match(r.reason, /50000000 bytes/);
  assert.deepEqual(rs[1], { value: { after: true }, position: { file: 'f', line: 2, offset: size + 1 }, raw: '{"after":true}' });
  assert.ok(peak < 10_000_000, `held ${peak} bytes while skipping a ${size}-byte line`);
  assert.ok(ms < 10_000, `took ${ms} ms`);
});

test('a long line under a raised maximum comes whole, in linear time', async () => {
  const size = 20_000_000;
  const started = Date.now();
  const rs = await read(Readable.from(longLine(size, '"}\n'), { objectMode: false }), { maxLineBytes: 30_000_000, format: 'jsonl' });
  // Not JSON (no opening quote), but read whole: the reject shows the line, every byte of it.
  const r = rejectOf(rs[0]);
  assert.equal(r.code, 'invalid_json');
  assert.equal(r.raw.length, size + 2);
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
});

test('a stop request interrupts a stream without a newline within a piece', async () => {
  const controller = new AbortController();
  let pieces = 0;
  async function* endless(): AsyncGenerator<Buffer> {
    const piece = Buffer.alloc(65_536, 0x78);
    for (;;) { if (++pieces === 20) controller.abort(); yield piece; }
  }
  await assert.rejects(read(Readable.from(endless(), { objectMode: false }), { signal: controller.signal, format: 'jsonl' }), { name: 'AbortError' });
  assert.ok(pieces <= 22, `read ${pieces} pieces after the stop`);
});

test('a byte order mark does not cost the first record of JSON lines, CSV or a JSON array', async () => {
  const bom = '\uFEFF';
  const lines = await read(`${bom}{"n":1}\n{"n":2}\n`);
  assert.deepEqual(lines.map(valueOf), [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(lines[0]!.position, { file: 'f', line: 1, offset: 3 });
  assert.deepEqual((await read(`${bom}a,b\n1,2\n`)).map(valueOf), [{ a: '1', b: '2' }]);
  assert.deepEqual((await read(gzipSync(`${bom}[{"n":1},{"n":2}]`))).map(valueOf), [{ n: 1 }, { n: 2 }]);
  assert.deepEqual((await read(`${bom}[{"n":1}]`, { format: 'json' })).map(valueOf), [{ n: 1 }]);
});

test('invalid UTF-8 keeps the record with replacement characters, marked invalid_utf8; valid lines are not marked', async () => {
  const data = Buffer.concat([Buffer.from('{"id":"u1","name":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n{"id":"u2","name":"café"}\n')]);
  const out = await outcomes(data);
  assert.equal(out.length, 2);
  const [a, b] = out;
  assert.ok(a?.kind === 'events' && b?.kind === 'events');
  assert.deepEqual(a.changed, ['invalid_utf8']);
  assert.equal(a.events[0]!.properties.name, 'caf\uFFFD');
  assert.equal(b.changed, undefined);
  assert.equal(b.events[0]!.properties.name, 'café');
  const csv = await read(Buffer.concat([Buffer.from('id,name\nu1,caf'), Buffer.from([0xff]), Buffer.from('\nu2,ok\n')]));
  assert.deepEqual(csv.map((r) => ('value' in r ? [r.value, r.changed] : r)), [[{ id: 'u1', name: 'caf\uFFFD' }, ['invalid_utf8']], [{ id: 'u2', name: 'ok' }, undefined]]);
});

test('numbers a double cannot hold keep every digit: ids as their text, values as ExactNumber marked number_as_text', async () => {
  const out = await outcomes([
    '{"id":9007199254740993,"n":12345678901234567890,"big":1e400,"tiny":1e-400,"ok":1.5,"t":1700000000000,"s":"9007199254740993"}',
    '{"id":9007199254740993,"n":1}',
    '{"id":"u","nested":{"deep":[18446744073709551615]},"__proto__":{"polluted":1}}',
    '{"id":9007199254740992,"f":0.30000000000000004,"e":1.5e3}',
  ].join('\n'));
  assert.equal(out.length, 4);
  const [a, b, c, d] = out;
  assert.ok(a?.kind === 'events' && b?.kind === 'events' && c?.kind === 'events' && d?.kind === 'events');
  assert.equal(a.events[0]!.distinct_id, '9007199254740993');
  assert.deepEqual(a.changed, ['number_as_text']);
  assert.equal(JSON.stringify(a.events[0]!.properties), '{"n":"12345678901234567890","big":"1e400","tiny":"1e-400","ok":1.5,"t":1700000000000,"s":"9007199254740993"}');
  assert.ok(a.events[0]!.properties.n instanceof ExactNumber);
  // An id is text in PostHog anyway: only a property value that went out as text is a change.
  assert.equal(b.events[0]!.distinct_id, '9007199254740993');
  assert.equal(b.changed, undefined);
  assert.deepEqual(c.changed, ['number_as_text']);
  assert.equal(JSON.stringify(c.events[0]!.properties), '{"nested":{"deep":["18446744073709551615"]},"__proto__":{"polluted":1}}');
  assert.equal(Object.getPrototypeOf(c.events[0]!.properties), Object.prototype, 'a "__proto__" key is a key, never the prototype');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  // Numbers that survive a double stay numbers, even when the line looked risky.
  assert.equal(d.events[0]!.distinct_id, '9007199254740992');
  assert.equal(d.changed, undefined);
  assert.deepEqual(d.events[0]!.properties, { f: 0.30000000000000004, e: 1500 });
});

test('CRLF, a last line without newline and blank lines: each record once, at its line and byte offset', async () => {
  const rs = await read('{"n":1}\r\n\r\n   \n{"n":2}\r\n{"n":3}');
  assert.deepEqual(rs, [
    { value: { n: 1 }, position: { file: 'f', line: 1, offset: 0 }, raw: '{"n":1}' },
    { value: { n: 2 }, position: { file: 'f', line: 4, offset: 15 }, raw: '{"n":2}' },
    { value: { n: 3 }, position: { file: 'f', line: 5, offset: 24 }, raw: '{"n":3}' },
  ]);
  const entry = await read('{"n":1}\n', { entry: 'e.json' });
  assert.deepEqual(entry[0]!.position, { file: 'f', entry: 'e.json', line: 1, offset: 0 });
});

test('a line that is not JSON is an invalid_json reject with the line; every line is an outcome, so the counts add up', async () => {
  const out = await outcomes('{"id":"u1"}\n{"id":\n[1,2\n{"x":1}\n\n{"id":"u2"}\n');
  assert.deepEqual(out.map((o) => (o.kind === 'reject' ? [o.code, o.position.line, o.record] : [o.kind, o.position.line])), [
    ['events', 1], ['invalid_json', 2, '{"id":'], ['invalid_json', 3, '[1,2'], ['missing_distinct_id', 4, '{"x":1}'], ['events', 6],
  ]);
});

test('a CSV row with a stray quote is an invalid_csv_row reject at its line; every other row, quoted newlines included, is read as written', async () => {
  const csv = [
    'id,note,n',
    'u1,plain,1',
    'u2,he said "hi",2',
    'u3,"quoted, ""twice""",3',
    'u4,"open,4',
    'u5,"two',
    'lines",5',
    'u6,"ab"c,6',
    '',
    'u7,last,7',
  ].join('\n');
  const rs = await read(csv);
  assert.deepEqual(rs.map((r) => ('value' in r ? [r.position.line, r.value] : [r.position.line, r.code, r.raw])), [
    [2, { id: 'u1', note: 'plain', n: '1' }],
    [3, 'invalid_csv_row', 'u2,he said "hi",2'],
    [4, { id: 'u3', note: 'quoted, "twice"', n: '3' }],
    [5, 'invalid_csv_row', 'u4,"open,4'],
    [6, { id: 'u5', note: 'two\nlines', n: '5' }],
    [8, 'invalid_csv_row', 'u6,"ab"c,6'],
    [10, { id: 'u7', note: 'last', n: '7' }],
  ]);
  // A quote left open at the end costs its own line only.
  assert.deepEqual((await read('id,n\nu1,"never closed\nu2,2\nu3,3\n')).map((r) => ('value' in r ? r.value : r.code)), ['invalid_csv_row', { id: 'u2', n: '2' }, { id: 'u3', n: '3' }]);
  assert.deepEqual((await read('id;n\nu1;"a;b"\n', { csv: { delimiter: ';' } })).map(valueOf), [{ id: 'u1', n: 'a;b' }]);
  await assert.rejects(read('id,"n\nu1,2\n'), { code: 'E_FILE_UNREADABLE' });
});

test('a JSON array broken mid-file fails the file with E_FILE_UNREADABLE after the records before the break', async () => {
  const seen: unknown[] = [];
  await assert.rejects(async () => { for await (const r of readRecords(bytes('[{"n":1},{"n":2},{"n":'), { file: 'f' })) seen.push(valueOf(r)); }, { code: 'E_FILE_UNREADABLE' });
  assert.deepEqual(seen, [{ n: 1 }, { n: 2 }]);
});

test('a truncated gzip or a stream that fails underneath is an E_RAW_UNREADABLE error naming the file, never an unhandled error', async () => {
  const gz = gzipSync(Array.from({ length: 2000 }, (_, i) => JSON.stringify({ n: i, pad: 'y'.repeat(50) })).join('\n'));
  await assert.rejects(read(gz.subarray(0, Math.floor(gz.length / 2)), { file: 'cut.jsonl.gz' }), (err: Error & { code?: string }) => err.code === 'E_RAW_UNREADABLE' && /cut\.jsonl\.gz/.test(err.message));
  for (const format of ['jsonl', 'csv', 'json', 'parquet'] as const) {
    const failing = new Readable({ read() { this.push(format === 'csv' ? 'a,b\n1,2\n' : format === 'json' ? '[{"a":1},' : '{"a":1}\n'); this.destroy(new Error('connection reset')); } });
    await assert.rejects(read(failing, { file: 'broken', entry: 'part-1', format }), (err: Error & { code?: string }) => err.code === 'E_RAW_UNREADABLE' && /entry part-1 of broken/.test(err.message) && /connection reset/.test(err.message), format);
  }
});

test('the meter sees every decompressed byte and may stop the read with its own error', async () => {
  let seen = 0;
  const rs = await read(gzipSync('{"n":1}\n{"n":2}\n'), { meter: (n) => { seen += n; } });
  assert.equal(rs.length, 2);
  assert.equal(seen, 16);
  await assert.rejects(read('{"n":1}\n', { meter: () => { throw new HogportError('E_TOO_MUCH_DATA', 'too much'); } }), { code: 'E_TOO_MUCH_DATA', message: 'too much' });
});

test('a JSON array is read element by element however its bytes are cut, numbers kept exact, strings with brackets and quotes intact', async () => {
  const text = '\uFEFF [ {"id":9007199254740993,"s":"a ] } [ { , \\" \\\\","n":[1,[2,{"x":null}]]} ,\n"plain", 12345678901234567890 ,true,null, {"big":1e400} ]\n';
  const whole = await read(text, { format: 'json' });
  // One byte a piece: every element boundary falls between pieces somewhere.
  const bytewise = await read(Readable.from([...Buffer.from(text)].map((b) => Buffer.from([b])), { objectMode: false }), { format: 'json' });
  for (const rs of [whole, bytewise]) {
    assert.deepEqual(rs.map((r) => ('value' in r ? JSON.stringify(r.value) : r.code)), [
      '{"id":"9007199254740993","s":"a ] } [ { , \\" \\\\","n":[1,[2,{"x":null}]]}', '"plain"', '"12345678901234567890"', 'true', 'null', '{"big":"1e400"}',
    ]);
    assert.deepEqual(rs.map((r) => [r.position.line, r.position.offset]), [[1, 6], [2, 79], [3, 88], [4, 110], [5, 115], [6, 121]]);
    assert.deepEqual(rs.map((r) => 'value' in r && r.exact === true), [true, false, true, false, false, true]);
  }
});

test('a JSON array element over the maximum is a line_too_long reject by its first bytes; the elements after it are read', async () => {
  const long = `{"blob":"${'z'.repeat(5000)}"}`;
  const rs = await read(`[{"n":1},${long},{"n":2}]`, { maxLineBytes: 1000 });
  assert.equal(rs.length, 3);
  assert.deepEqual(valueOf(rs[0]), { n: 1 });
  const r = rejectOf(rs[1]);
  assert.equal(r.code, 'line_too_long');
  assert.equal(r.raw, long.slice(0, 1024));
  assert.deepEqual(r.position, { file: 'f', line: 2, offset: 9 });
  assert.deepEqual(valueOf(rs[2]), { n: 2 });
});

test('a JSON array with bad bytes marks the element invalid_utf8; one that is not an array, or has more after it, fails', async () => {
  const rs = await read(Buffer.concat([Buffer.from('[{"s":"caf'), Buffer.from([0xe9]), Buffer.from('"},{"s":"ok"}]')]), { format: 'json' });
  assert.deepEqual(rs.map((r) => ('value' in r ? [r.value, r.changed] : r)), [[{ s: 'caf\uFFFD' }, ['invalid_utf8']], [{ s: 'ok' }, undefined]]);
  for (const bad of ['{"a":1}', '[{"a":1}] [', '[{"a":1} {"b":2}]', '[,{"a":1}]', '[{"a":1},{"b":2]', '']) {
    await assert.rejects(read(bad, { format: 'json' }), { code: 'E_FILE_UNREADABLE' }, bad);
  }
});

test('a CSV column named __proto__ is a field; a row shorter than the header lacks the missing fields, a longer one is marked csv_extra_fields', async () => {
  const rs = await read('id,__proto__,n\nu1,"{""polluted"":1}",1\nu2\n', { format: 'csv' });
  const [a, b] = rs.map(valueOf) as Array<Record<string, unknown>>;
  assert.deepEqual(Object.keys(a!), ['id', '__proto__', 'n']);
  assert.equal(Object.getPrototypeOf(a), Object.prototype);
  assert.equal(a!.__proto__, '{"polluted":1}');
  assert.deepEqual(b, { id: 'u2' });
  const longer = await read('id,n\nu1,1,extra,more\nu2,2\n');
  assert.deepEqual(longer.map((r) => ('value' in r ? [r.value, r.changed] : r)), [[{ id: 'u1', n: '1' }, ['csv_extra_fields']], [{ id: 'u2', n: '2' }, undefined]]);
});
