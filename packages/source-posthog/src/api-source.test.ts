import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { readAll, silentLogger } from '@hogport/common';
import { openStore } from '@hogport/store';
import { startFakePostHog, type SourceEvent } from '@hogport/testkit';
import { posthogApiSource } from './index.js';

const PERSONAL = 'phx_source_instance';

test('pages a day by (timestamp, uuid) without gaps or repeats, even with 10,000 events on one timestamp', async (t) => {
  const same = '2024-04-02T12:00:00.000000Z';
  const hex = (i: number) => i.toString(16).padStart(12, '0');
  const events: SourceEvent[] = [
    ...Array.from({ length: 10_000 }, (_, i) => ({ uuid: `0190b000-0000-7000-8000-${hex(i * 7919 % 100_003)}`, event: 'tick', distinct_id: `d${i % 13}`, properties: { i }, timestamp: same })),
    ...Array.from({ length: 1500 }, (_, i) => ({ uuid: `0190b001-0000-7000-8000-${hex(i)}`, event: 'e', distinct_id: 'x', properties: {}, timestamp: new Date(Date.UTC(2024, 3, 2) + i * 50_000 + 7).toISOString().replace('Z', '123Z') })),
    { uuid: '0190b002-0000-7000-8000-000000000001', event: 'next day', distinct_id: 'x', properties: {}, timestamp: '2024-04-03T00:00:00.000000Z' },
  ];
  const server = await startFakePostHog({ token: 'unused', query: { projectId: '7', personalKey: PERSONAL }, source: { events } });
  t.after(() => server.close());
  process.env.SOURCE_POSTHOG_PERSONAL_API_KEY = PERSONAL;
  const source = posthogApiSource({ options: { type: 'posthog', host: server.url, projectId: 7, start: '2024-04-02', end: '2024-04-03', pageSize: 1000, persons: false }, baseDir: '.', openStore, log: silentLogger });
  const [day] = await source.plan();
  const pages: Buffer[] = [];
  await source.extract({ chunk: day!, signal: new AbortController().signal, log: silentLogger, writeRaw: async (_name, body) => { const b = await readAll(body); pages.push(b); return { sha256: '', bytes: b.length }; } });
  assert.equal(pages.length, 12, '11,500 rows in pages of 1,000, the last one short');
  const uuids: string[] = [];
  const files = pages.map((b, i) => ({ name: `page-${i}.json`, open: async () => Readable.from([b]) }));
  for await (const o of source.transform(files, { migration: 'm', chunk: day!.id, transform: {} as never, hogportVersion: '0', log: silentLogger })) {
    assert.equal(o.kind, 'events');
    if (o.kind === 'events') uuids.push(o.events[0]!.uuid);
  }
  assert.equal(uuids.length, 11_500);
  assert.equal(new Set(uuids).size, 11_500, 'no repeats at page edges');
  assert.ok(!uuids.includes('0190b002-0000-7000-8000-000000000001'), 'the next day is not in this chunk');
  assert.ok(server.queries.slice(1).every((q) => /\(timestamp, uuid\) > \(toDateTime64\(/.test(q)));
});

test('reads the published PostHog event rows through the query API, keeping uuids and elements chains', async (t) => {
  const rows = (await readFile(fileURLToPath(new URL('../../../fixtures/samples/posthog/posthog-frontend-mock-events-query.jsonl', import.meta.url)), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as SourceEvent & { team_id: number });
  const server = await startFakePostHog({ token: 'unused', query: { projectId: '7', personalKey: PERSONAL }, source: { events: rows } });
  t.after(() => server.close());
  process.env.SOURCE_POSTHOG_PERSONAL_API_KEY = PERSONAL;
  const source = posthogApiSource({ options: { type: 'posthog', host: server.url, projectId: 7, start: '2023-06-06', end: '2023-06-07', persons: false }, baseDir: '.', openStore, log: silentLogger });
  const [day] = await source.plan();
  const pages: Buffer[] = [];
  await source.extract({ chunk: day!, signal: new AbortController().signal, log: silentLogger, writeRaw: async (_n, body) => { const b = await readAll(body); pages.push(b); return { sha256: '', bytes: b.length }; } });
  const got = [];
  for await (const o of source.transform(pages.map((b, i) => ({ name: `p${i}`, open: async () => Readable.from([b]) })), { migration: 'm', chunk: day!.id, transform: {} as never, hogportVersion: '0', log: silentLogger })) {
    if (o.kind === 'events') got.push(o.events[0]!);
  }
  assert.deepEqual(got.map((e) => e.uuid).sort(), rows.map((r) => r.uuid).sort());
  const auto = got.find((e) => e.event === '$autocapture')!;
  assert.equal(auto.properties.$elements_chain, rows.find((r) => r.event === '$autocapture')!.elements_chain);
  assert.equal(auto.timestamp, '2023-06-06T11:14:36.611000Z');
  assert.equal(auto.properties.team_id, undefined);
});
