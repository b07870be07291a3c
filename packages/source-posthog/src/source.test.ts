import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { normalizeTimestamp } from '@hogport/common';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { mapPostHogRecord, transformPostHogLines } from './index.js';

const SAMPLES = new URL('../../../fixtures/samples/posthog/', import.meta.url);

test('normalises ISO 8601 timestamps to UTC and keeps microseconds', () => {
  assert.equal(normalizeTimestamp('2024-03-01T13:05:00+02:00'), '2024-03-01T11:05:00.000Z');
  assert.equal(normalizeTimestamp('2024-03-01 13:05:00.123456'), '2024-03-01T13:05:00.123456Z');
  assert.equal(normalizeTimestamp('2024-03-01T00:30:00-0100'), '2024-03-01T01:30:00.000Z');
  assert.equal(normalizeTimestamp('2024-02-30T00:00:00Z'), undefined);
  assert.equal(normalizeTimestamp('2024-03-01'), undefined);
  assert.equal(normalizeTimestamp('yesterday'), undefined);
});

test('keeps an event\'s uuid and gives one without a uuid the same derived uuid every time', () => {
  const withUuid = mapPostHogRecord({ uuid: '0190B8C4-1234-7000-8000-000000000001', event: 'e', distinct_id: 'u', timestamp: '2024-01-01T00:00:00Z' });
  assert.ok('event' in withUuid && withUuid.event.uuid === '0190b8c4-1234-7000-8000-000000000001');
  const rec = { event: 'e', distinct_id: 'u', timestamp: '2024-01-01T00:00:00Z', properties: { b: 1, a: 2 } };
  const a = mapPostHogRecord(rec);
  const b = mapPostHogRecord({ properties: { a: 2, b: 1 }, timestamp: '2024-01-01T00:00:00.000Z', distinct_id: 'u', event: 'e' });
  assert.ok('event' in a && 'event' in b);
  assert.equal(a.event.uuid, b.event.uuid);
  const c = mapPostHogRecord({ ...rec, distinct_id: 'v' });
  assert.ok('event' in c && c.event.uuid !== a.event.uuid);
});

test('takes distinct_id from properties, and numbers as text', () => {
  const r = mapPostHogRecord({ event: 'e', timestamp: '2024-01-01T00:00:00Z', properties: { distinct_id: 42 } });
  assert.ok('event' in r && r.event.distinct_id === '42');
});

test('rejects records capture would refuse or that could not be re-sent identically, each with a reason', () => {
  const cases: Array<[unknown, string]> = [
    [{ event: 'e', timestamp: '2024-01-01T00:00:00Z' }, 'missing_distinct_id'],
    [{ event: '', distinct_id: 'u', timestamp: '2024-01-01T00:00:00Z' }, 'invalid_event'],
    [{ event: 'e', distinct_id: 'u' }, 'missing_timestamp'],
    [{ event: 'e', distinct_id: 'u', timestamp: 1704067200 }, 'invalid_event'],
    [{ event: 'e', distinct_id: 'u', timestamp: '2024-13-01T00:00:00Z' }, 'bad_timestamp'],
    [{ event: 'e', distinct_id: 'u', timestamp: '2024-01-01T00:00:00Z', uuid: 'nope' }, 'bad_uuid'],
    [{ event: 'e', distinct_id: 'u', timestamp: '2024-01-01T00:00:00Z', properties: [] }, 'invalid_event'],
    [[1, 2], 'not_an_object'],
  ];
  for (const [rec, code] of cases) {
    const r = mapPostHogRecord(rec);
    assert.ok('code' in r, JSON.stringify(rec));
    assert.equal(r.code, code, JSON.stringify(rec));
    assert.ok(r.reason.length > 0);
  }
});

test('reads gzip and plain files alike, whatever their names say, with line positions', async () => {
  const text = '{"event":"a","distinct_id":"u","timestamp":"2024-01-01T00:00:00Z"}\r\n\n{broken\n{"event":"b","distinct_id":"u","timestamp":"2024-01-01T00:00:01Z"}';
  const files = [
    { name: 'plain.json.gz', open: async () => Readable.from([Buffer.from(text)]) },
    { name: 'zipped.txt', open: async () => Readable.from([gzipSync(text)]) },
  ];
  const outcomes = [];
  for await (const o of transformPostHogLines(files)) outcomes.push(o);
  assert.deepEqual(outcomes.map((o) => o.kind), ['events', 'reject', 'events', 'events', 'reject', 'events']);
  assert.deepEqual(outcomes[1]!.position, { file: 'plain.json.gz', line: 3, offset: text.indexOf('{broken') });
});

test('a distinct_id a double cannot hold keeps every digit, and a property that went out as text is counted', async () => {
  const text = '{"event":"a","distinct_id":9007199254740993,"timestamp":"2024-01-01T00:00:00Z","properties":{"order":12345678901234567890}}\n{"event":"b","distinct_id":9007199254740993,"timestamp":"2024-01-01T00:00:00Z"}\n';
  const outcomes = [];
  for await (const o of transformPostHogLines([{ name: 'big.jsonl', open: async () => Readable.from([Buffer.from(text)]) }])) outcomes.push(o);
  assert.deepEqual(outcomes.map((o) => (o.kind === 'events' ? [o.events[0]!.distinct_id, JSON.stringify(o.events[0]!.properties), o.changed] : o.kind)), [
    ['9007199254740993', '{"order":"12345678901234567890"}', ['number_as_text']],
    ['9007199254740993', '{}', undefined],
  ]);
});

test('maps the published PostHog sample records', async () => {
  const lines = (await readFile(new URL('posthog-frontend-mock-events-query.jsonl', SAMPLES), 'utf8')).trim().split('\n');
  assert.ok(lines.length >= 2);
  for (const l of lines) {
    const rec = JSON.parse(l);
    const r = mapPostHogRecord(rec);
    assert.ok('event' in r, JSON.stringify(r));
    assert.equal(r.event.uuid, rec.uuid.toLowerCase());
    assert.equal(r.event.event, rec.event);
    assert.equal(r.event.distinct_id, String(rec.distinct_id));
    assert.equal(Date.parse(r.event.timestamp), Date.parse(rec.timestamp));
  }
});

test('reads PostHog batch exports in Parquet, with properties held as JSON text', async () => {
  const n = 1200;
  const buffer = parquetWriteBuffer({
    rowGroupSize: 500,
    columnData: [
      { name: 'uuid', data: Array.from({ length: n }, (_, i) => `0190e000-0000-7000-8000-${String(i).padStart(12, '0')}`), type: 'STRING' },
      { name: 'event', data: Array.from({ length: n }, () => '$pageview'), type: 'STRING' },
      { name: 'distinct_id', data: Array.from({ length: n }, (_, i) => `u${i % 9}`), type: 'STRING' },
      { name: 'timestamp', data: Array.from({ length: n }, (_, i) => new Date(Date.UTC(2024, 0, 1) + i * 1000)), type: 'TIMESTAMP' },
      { name: 'properties', data: Array.from({ length: n }, (_, i) => JSON.stringify({ $current_url: `https://x.example/${i}` })), type: 'STRING' },
      { name: 'person_id', data: Array.from({ length: n }, () => 'source-person'), type: 'STRING' },
    ],
  });
  const outcomes = [];
  for await (const o of transformPostHogLines([{ name: 'export.parquet', open: async () => Readable.from([Buffer.from(buffer)], { objectMode: false }) }])) outcomes.push(o);
  assert.equal(outcomes.length, n);
  const last = outcomes.at(-1)!;
  assert.ok(last.kind === 'events');
  assert.deepEqual([last.events[0]!.uuid, last.events[0]!.timestamp, last.events[0]!.properties.$current_url, last.events[0]!.properties.person_id], [`0190e000-0000-7000-8000-${String(n - 1).padStart(12, '0')}`, new Date(Date.UTC(2024, 0, 1) + (n - 1) * 1000).toISOString(), `https://x.example/${n - 1}`, undefined]);
});
