import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rememberSecret } from '@hogport/common';
import { renderReport, type ReportData, type StageFigures } from './index.js';

const stage = (unit: StageFigures['unit'], over: Partial<StageFigures> = {}): StageFigures => ({ chunks: 1, unit, in: 0, out: 0, rejected: 0, dropped: 0, events: 0, rejectedBy: {}, droppedBy: {}, ...over });
const states = () => ({ done: 1, stale: 0, failed: 0, running: 0, pending: 0, waiting: 0 });

function data(over: Partial<ReportData> = {}): ReportData {
  return {
    migration: 'acme', store: 'file:///data/store', generatedAt: '2024-03-05T10:00:00.000Z', hogportVersion: '0.1.0', destination: { type: 'dry-run' },
    chunks: { total: 1, byStage: { extract: states(), transform: states(), load: states() }, attention: [], attentionTotal: 0 },
    stages: { extract: stage('files', { in: 1, out: 1 }), transform: stage('records', { in: 3, out: 2, rejected: 1, events: 2, rejectedBy: { bad_timestamp: 1 } }), load: stage('events', { in: 2, out: 2 }) },
    days: [{ day: '2024-03-01', source: 2, loaded: 2 }], withoutFigures: [],
    names: [{ name: 'purchase', source: 2, loaded: 2 }], distinctNames: 1, otherNames: { source: 0, loaded: 0 },
    rejects: { groups: [{ stage: 'transform', code: 'bad_timestamp', count: 1, examples: [{ chunk: 'a', reason: 'at "x" is not a time', record: '{"at":"x"}' }] }], complete: true, linesRead: 1, bytesRead: 10 },
    identities: { pairs: 0, chunks: [] },
    load: { chunks: 1, events: 2, rejected: 0, batches: 1, retries: 0, busyMs: 10, firstStartedAt: '2024-03-05T09:00:00.000Z', lastFinishedAt: '2024-03-05T09:00:01.000Z', eventsPerSecond: 2, slowest: [] },
    samples: [],
    notes: [],
    ...over,
  };
}

test('markup in records is shown as text, and a secret in one is scrubbed', () => {
  rememberSecret('phc_secret_in_a_record');
  const html = renderReport(data({
    names: [{ name: '<img src=x onerror=alert(1)>', source: 2, loaded: 2 }],
    rejects: { groups: [{ stage: 'transform', code: 'bad"code', count: 1, examples: [{ chunk: 'a', reason: '</pre><script>alert(1)</script>', record: '{"token":"phc_secret_in_a_record"}' }] }], complete: true, linesRead: 1, bytesRead: 10 },
  }));
  assert.ok(!html.includes('<img src=x'));
  assert.ok(!html.includes('<script>'), 'no script at all, and none from a record');
  assert.ok(html.includes('&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('data-figure="reject.count.transform.bad&quot;code"'), 'attribute values are escaped too');
  assert.ok(!html.includes('phc_secret_in_a_record'));
  assert.ok(html.includes('[redacted]'));
});

test('the page forbids itself every request, and names no address to request', () => {
  const html = renderReport(data());
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
  assert.doesNotMatch(html, /\b(src|href)\s*=|@import|url\(/i);
});

test('chunks an older hogport transformed are said to be missing from the per-day and per-name figures', () => {
  const html = renderReport(data({ withoutFigures: ['2023-01-01', '2023-01-02'] }));
  assert.match(html, /data-figure="days\.withoutFigures">2<\/span> chunk\(s\) were transformed by an older hogport/);
  assert.match(html, /<code>2023-01-01<\/code>/);
  assert.doesNotMatch(renderReport(data()), /older hogport/);
});

test('years of history are drawn by month, while the table keeps every day', () => {
  const days = Array.from({ length: 900 }, (_, i) => ({ day: new Date(Date.UTC(2021, 0, 1) + i * 86_400_000).toISOString().slice(0, 10), source: 10, loaded: 5 }));
  const html = renderReport(data({ days }));
  assert.match(html, /Events per month \(UTC\)/);
  assert.match(html, />2021-01</);
  assert.match(html, /data-figure="day\.source\.2023-06-19">10</);
  assert.equal((html.match(/data-figure="day\.source\./g) ?? []).length, 900);
});

test('verify and profile say when they were taken, and a report without them says how to add them', () => {
  const without = renderReport(data());
  assert.match(without, /hogport verify has not run/);
  assert.match(without, /hogport profile has not run/);
  const html = renderReport(data({
    verify: { takenAt: '2024-03-06T08:00:00.000Z', ok: false, chunks: 2, totals: { expected: 4, found: 3, uuids: 3, duplicates: 0, missing: 1, unexpected: 0 }, mismatched: [{ chunk: 'b', verdict: 'missing', expected: 2, found: 1 }] },
    profile: { takenAt: '2024-03-04T07:00:00.000Z', chunks: { profiled: 1, of: 1 }, records: 3, events: 2, problems: { non_mergeable_distinct_id: { count: 1, examples: ['anonymous'] } } },
  }));
  assert.match(html, /data-figure="verify\.takenAt">2024-03-06 08:00:00 UTC</);
  assert.match(html, /data-figure="verify\.missing">1</);
  assert.match(html, /data-figure="summary\.verify">mismatch</);
  assert.match(html, /data-figure="profile\.takenAt">2024-03-04 07:00:00 UTC</);
  assert.match(html, /data-figure="profile\.problem\.non_mergeable_distinct_id">1</);
});

test('a sample lane shows the persons it took and what it sent, and a report of a lane says it is not the full load', () => {
  const scope = { percent: 30, rule: 'any-id-sha256-v1', at: '2024-03-05T09:00:00.000Z', clusters: { total: 10, sampled: 3 }, linkedIds: { total: 25, sampled: 7 }, persons: { total: 12, sampled: 4 } };
  const html = renderReport(data({ sample: 'p30', samples: [{ sample: 'p30', scope, loaded: 2, counts: { in: 9, out: 5, rejected: 0, dropped: 4, notSampled: 4 } }, { sample: 'p5', loaded: 0, counts: { in: 0, out: 0, rejected: 0, dropped: 0, notSampled: 0 } }] }));
  assert.match(html, /data-figure="sample">sample p30: a test migration of whole persons, not the full load/);
  assert.match(html, /data-figure="sample\.p30\.clusters\.sampled">3<\/span> of <span data-figure="sample\.p30\.clusters\.total">10</);
  assert.match(html, /data-figure="sample\.p30\.notSampled">4</);
  assert.match(html, /<code>p5<\/code>.*not drawn: its load has not started/s);
  const none = renderReport(data());
  assert.doesNotMatch(none, /data-figure="sample"/);
  assert.match(none, /No sampled test migration has run/);
});
