import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { uuidV5 } from '@hogport/common';
import { mapGa4Row } from '@hogport/source-ga4';
import { HEAP_NAMESPACE } from '@hogport/source-heap';
import { mapSegmentMessage } from '@hogport/source-segment';
import { openStore } from '@hogport/store';
import { randomBucket, runCli, segmentMessages, startFakePostHog, startMoto } from '@hogport/testkit';

const KEY = 'phc_files_e2e';
const env = { POSTHOG_PROJECT_API_KEY: KEY };

/** A moto bucket to put the files in, and a PostHog stand-in to load them into; both stopped after the test. */
async function setup(t: TestContext, prefix: string) {
  const moto = await startMoto();
  const posthog = await startFakePostHog({ token: KEY });
  t.after(async () => { await moto.stop(); await posthog.close(); });
  const location = await moto.bucket(randomBucket(), prefix);
  return { posthog, location, bucket: openStore(location) };
}

async function pipeline(source: string, posthog: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-files-e2e-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, `id: files\nstore: ./store\nsource: ${source}\ndestination: { type: posthog, host: "${posthog}", batchMaxEvents: 100 }\n`);
  return file;
}

test('loads a JSON array, a CSV and gzip JSON lines from an s3:// bucket through a declared mapping, each record once', async (t) => {
  const { posthog, location, bucket } = await setup(t, 'warehouse');
  const row = (i: number) => ({ id: `row-${i}`, kind: i % 4 === 0 ? 'refund' : 'order', customer: `c${i % 17}`, at: new Date(Date.UTC(2023, 8, 1) + i * 60_000).toISOString(), amount: i * 1.5, note: i % 5 === 0 ? 'with "quotes", commas\nand a newline' : 'plain' });
  await bucket.write('orders-2023.json', JSON.stringify(Array.from({ length: 500 }, (_, i) => row(i))));
  const csvRows = Array.from({ length: 300 }, (_, i) => row(1000 + i));
  const q = (v: unknown) => `"${String(v).replace(/"/g, '""')}"`;
  await bucket.write('orders-2024.csv', `id,kind,customer,at,amount,note\n${csvRows.map((r) => [r.id, r.kind, r.customer, r.at, r.amount, q(r.note)].join(',')).join('\n')}\n`);
  await bucket.write('orders-2025.jsonl.gz', gzipSync(Array.from({ length: 200 }, (_, i) => JSON.stringify(row(2000 + i))).join('\n')));
  const pq = Array.from({ length: 100 }, (_, i) => row(3000 + i));
  await bucket.write('orders-2026.parquet', Buffer.from(parquetWriteBuffer({ columnData: [
    ...(['id', 'kind', 'customer', 'at', 'note'] as const).map((k) => ({ name: k, data: pq.map((r) => r[k]), type: 'STRING' as const })),
    { name: 'amount', data: pq.map((r) => r.amount), type: 'DOUBLE' as const },
  ] })));
  await bucket.close();
  const file = await pipeline(`{ type: files, location: "${location}", mapping: { event: kind, distinctId: customer, timestamp: { field: at }, uuid: id, types: { amount: number }, properties: { rename: { amount: revenue } } } }`, posthog.url);
  const run = await runCli(['run', file], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(posthog.events.length, 1100);
  assert.equal(new Set(posthog.events.map((e) => e.uuid)).size, 1100);
  const csvNote = posthog.events.find((e) => (e.properties as Record<string, unknown>).note !== 'plain' && (e.properties as Record<string, unknown>).$hogport_chunk === 'orders-2024.csv');
  assert.equal((csvNote?.properties as Record<string, unknown>).note, 'with "quotes", commas\nand a newline');
  assert.ok(posthog.events.every((e) => (e.properties as Record<string, unknown>).revenue !== undefined));
  const fromCsv = posthog.events.filter((e) => (e.properties as Record<string, unknown>).$hogport_chunk === 'orders-2024.csv');
  assert.equal(fromCsv.length, 300);
  assert.ok(fromCsv.every((e) => typeof (e.properties as Record<string, unknown>).revenue === 'number'), 'a CSV column declared a number arrives as one');
  assert.deepEqual(fromCsv.map((e) => (e.properties as Record<string, unknown>).revenue).sort((x, y) => Number(x) - Number(y)).slice(0, 2), [1500, 1501.5]);
});

test('loads Segment logs from an s3:// bucket: every message type mapped, each once, files named .gz but plain read alike', async (t) => {
  const { posthog, location, bucket } = await setup(t, 'logs');
  const a = segmentMessages({ seed: 51, count: 300, start: new Date(Date.UTC(2024, 0, 1)) });
  const b = segmentMessages({ seed: 52, count: 200, start: new Date(Date.UTC(2024, 0, 2)) });
  await bucket.write('segment-logs/src1/1704067200000/1704070000-a.gz', gzipSync(a.map((m) => JSON.stringify(m)).join('\n')));
  await bucket.write('segment-logs/src1/1704153600000/1704160000-b.gz', b.map((m) => JSON.stringify(m)).join('\n'));
  const published = (await readFile(fileURLToPath(new URL('../../../fixtures/samples/segment/spec-full-messages.jsonl', import.meta.url)), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  await bucket.write('segment-logs/src2/1449878400000/published.gz', gzipSync(published.map((m) => JSON.stringify(m)).join('\n')));
  await bucket.close();
  const file = await pipeline(`{ type: segment, location: "${location}" }`, posthog.url);
  const run = await runCli(['run', file], { env });
  assert.equal(run.code, 0, run.stderr);
  // The published spec examples reuse one messageId for different messages: each is an event of its own.
  const expected = new Map<string, Set<string>>();
  const aliases = new Set<string>();
  for (const m of [...a, ...b, ...published]) {
    const r = mapSegmentMessage(m);
    assert.ok('events' in r);
    // An alias call is its link alone: the merge step sends it as one $create_alias per pair.
    if (r.events.length === 0) { for (const l of r.identify ?? []) aliases.add(`${l.distinctId} ${l.anonId}`); continue; }
    expected.set(r.events[0]!.uuid, (expected.get(r.events[0]!.uuid) ?? new Set()).add(r.events[0]!.event));
  }
  const source = posthog.events.filter((e) => expected.has(e.uuid as string));
  assert.equal(source.length, expected.size);
  for (const e of source) assert.ok(expected.get(e.uuid as string)!.has(e.event as string));
  const names = new Set(source.map((e) => e.event));
  for (const n of ['$pageview', '$screen', '$identify', '$groupidentify', 'Order Completed']) assert.ok(names.has(n), n);
  const created = posthog.events.filter((e) => e.event === '$create_alias').map((e) => `${e.distinct_id} ${(e.properties as Record<string, string>).alias}`);
  assert.ok(aliases.size > 0);
  assert.deepEqual(created.sort(), [...aliases].sort(), 'every alias pair once, as $create_alias');
  // The published complete track message arrives with its context under PostHog's names.
  const report = source.find((e) => e.event === 'Report Submitted')!;
  const p = report.properties as Record<string, unknown>;
  assert.deepEqual([p.$screen_width, p.$screen_height, p.$app_name, p.$app_build, p.$network_carrier, p.$network_cellular], [320, 568, 'InitechGlobal', '3.0.1.545', 'T-Mobile US', true]);
  assert.deepEqual(p.$groups, { company: '12345' });
  assert.match(String(p.$raw_user_agent), /^Mozilla\/5\.0 \(Macintosh/);
  const publishedPage = mapSegmentMessage(published.find((m) => m.type === 'page'));
  assert.ok('events' in publishedPage);
  const home = source.find((e) => e.uuid === publishedPage.events[0]!.uuid)!;
  assert.deepEqual([(home.properties as Record<string, unknown>).$title, (home.properties as Record<string, unknown>).$current_url], ['Welcome | Initech', 'http://www.example.com']);
  const clicked = source.find((e) => e.event === 'Button Clicked')!;
  assert.deepEqual(clicked.$set, { username: 'testing-123' }, 'context.traits reach PostHog as the event\'s $set');
});

test('loads a GA4 BigQuery NDJSON extract from an s3:// bucket: kept rows once, session rows dropped, rows without ids refused', async (t) => {
  const { posthog, location, bucket } = await setup(t, 'ga4');
  const rows = Array.from({ length: 400 }, (_, i) => ({
    event_date: '20240301', event_timestamp: String(1709251200000000 + i * 1_000_003), event_name: ['page_view', 'purchase', 'session_start', 'first_visit', 'scroll'][i % 5],
    user_pseudo_id: i % 50 === 49 ? null : `${1000 + (i % 30)}.1709`, ...(i % 3 === 0 ? { user_id: `member-${i % 30}` } : {}), event_bundle_sequence_id: String(i),
    event_params: [{ key: 'page_location', value: { string_value: `https://shop.example/${i % 9}` } }, { key: 'ga_session_id', value: { int_value: String(1709251000 + (i % 30)) } }],
    device: { category: 'desktop', web_info: { browser: 'Firefox' } }, geo: { country: 'Japan', city: 'Tōkyō' }, stream_id: '7',
  }));
  await bucket.write('events_20240301/000000000000.json', rows.map((r) => JSON.stringify(r)).join('\n'));
  const samples = fileURLToPath(new URL('../../../fixtures/samples/ga4/', import.meta.url));
  const published = (await Promise.all((await readdir(samples)).map((f) => readFile(path.join(samples, f), 'utf8')))).flatMap((t) => t.trim().split('\n'));
  await bucket.write('events_20230206/published.json', published.join('\n'));
  await bucket.close();
  const file = await pipeline(`{ type: ga4, location: "${location}" }`, posthog.url);
  const run = await runCli(['run', file], { env });
  assert.equal(run.code, 0, run.stderr);
  const kept = rows.filter((r) => r.event_name !== 'session_start' && r.event_name !== 'first_visit' && (r.user_pseudo_id || (r as { user_id?: string }).user_id));
  const publishedKept = published.map((l) => mapGa4Row(JSON.parse(l))).filter((r) => 'events' in r).length;
  const source = posthog.events.filter((e) => e.event !== '$identify' && e.event !== '$set' && (e.properties as Record<string, unknown>).$hogport_chunk === 'events_20240301~000000000000.json');
  assert.equal(posthog.events.filter((e) => (e.properties as Record<string, unknown>).$hogport_chunk === 'events_20230206~published.json').length, publishedKept);
  assert.equal(new Set(source.map((e) => e.uuid)).size, kept.length);
  assert.ok(source.some((e) => e.event === '$pageview' && (e.properties as Record<string, unknown>).$current_url));
  // The published rows land with GA4's names turned into PostHog's, and GA4's placeholders left out.
  const landed = posthog.events.filter((e) => (e.properties as Record<string, unknown>).$hogport_chunk === 'events_20230206~published.json' && e.event !== '$identify');
  const props = landed.map((e) => e.properties as Record<string, unknown>);
  assert.ok(props.some((p) => p.utm_source === 'google' && p.gclid === '12345'));
  assert.ok(props.filter((p) => p.$device_type === 'Desktop').every((p) => p.$device_model === undefined && p.$device_manufacturer === undefined));
  assert.ok(props.filter((p) => p.$os_version !== undefined).every((p) => /^\d/.test(String(p.$os_version))));
  const placeholder = /^\((direct|none|not set|organic|referral|not provided|data deleted)\)$/;
  for (const e of landed) for (const [k, v] of [...Object.entries(e.properties as object), ...Object.entries((e.$set_once ?? {}) as object)]) assert.ok(!placeholder.test(String(v)), `${k}: ${String(v)}`);
  const status = JSON.parse((await runCli(['status', file, '--json'], { env })).stdout) as { chunks: Array<{ chunk: string; transform: { counts?: { rejected: number; dropped: number } } }> };
  const chunk = status.chunks.find((c) => c.chunk === 'events_20240301~000000000000.json')!;
  assert.equal(chunk.transform.counts!.dropped, 160);
  assert.equal(chunk.transform.counts!.rejected, rows.length - kept.length - 160);
});

test('loads a Heap export from an s3:// bucket: events once, users set after them, identities and merged users identified', async (t) => {
  const { posthog, location, bucket } = await setup(t, 'heap');
  const sessionStart = (s: number) => new Date(Date.UTC(2024, 1, 1) - 60_000 + s * 1000).toISOString().replace('T', ' ').replace('Z', '');
  const events = Array.from({ length: 240 }, (_, i) => ({ event_id: String(9_000_000 + i), user_id: String(100 + (i % 20)), session_id: String(500 + (i % 7)), session_time: sessionStart(i % 7), time: new Date(Date.UTC(2024, 1, 1) + i * 90_000).toISOString().replace('T', ' ').replace('Z', ''), event_table_name: i % 3 ? 'pageviews' : 'click_buy', domain: 'shop.example', path: `/p/${i % 5}`, query: i % 2 ? '?ref=mail' : '', device_type: 'Desktop', platform: 'Mac OS X' }));
  const columns = ['event_id', 'user_id', 'session_id', 'session_time', 'time', 'event_table_name', 'domain', 'path', 'query', 'device_type', 'platform'] as const;
  await bucket.write('events/part-0.csv', `${columns.join(',')}\n${events.map((e) => columns.map((c) => e[c]).join(',')).join('\n')}\n`);
  const users = Array.from({ length: 20 }, (_, i) => ({ user_id: String(100 + i), identity: i % 2 ? `user${i}@example.com` : null, joindate: '2024-01-15 10:00:00', last_modified: '2024-03-01 00:00:00', plan: i % 3 ? 'pro' : 'free' }));
  await bucket.write('users/part-0.json', JSON.stringify(users));
  await bucket.write('user_migrations/part-0.csv', 'from_user_id,to_user_id,time\n100,101,2024-02-01 00:00:00\n');
  await bucket.close();
  const file = await pipeline(`{ type: heap, location: "${location}" }`, posthog.url);
  const run = await runCli(['run', file], { env });
  assert.equal(run.code, 0, run.stderr);
  const sourceEvents = posthog.events.filter((e) => e.event === '$pageview' || e.event === 'click_buy');
  assert.equal(sourceEvents.length, 240);
  assert.equal(new Set(sourceEvents.map((e) => e.uuid)).size, 240);
  // Heap's columns land under PostHog's names; each Heap session is one $session_id starting at session_time.
  const rowOf = new Map(events.map((r) => [uuidV5(`event:${r.event_id}`, HEAP_NAMESPACE), r]));
  for (const e of sourceEvents) {
    const p = e.properties as Record<string, unknown>;
    const row = rowOf.get(e.uuid as string)!;
    assert.deepEqual([p.$current_url, p.$host, p.$pathname, p.$device_type, p.$os, p.query, p.path], [`https://shop.example${row.path}${row.query}`, 'shop.example', row.path, 'Desktop', 'Mac OS X', undefined, undefined]);
    assert.equal(parseInt(String(p.$session_id).replace(/-/g, '').slice(0, 12), 16), Date.parse(`${row.session_time.replace(' ', 'T')}Z`));
  }
  assert.equal(new Set(sourceEvents.map((e) => (e.properties as Record<string, unknown>).$session_id)).size, 7);
  // Users are person records: each person's plan arrives once, in ~persons, after every event.
  const sets = posthog.events.filter((e) => e.event === '$set');
  assert.ok(sets.every((e) => (e.properties as Record<string, unknown>).$hogport_chunk === '~persons'), 'no $set of the users table sent apart from ~persons');
  for (const u of users) {
    const person = sets.filter((e) => e.distinct_id === (u.identity ?? u.user_id));
    assert.equal(person.length, 1, `${u.user_id} set once`);
    assert.equal((person[0]!.properties as { $set: Record<string, unknown> }).$set.plan, u.plan);
  }
  assert.ok(posthog.events.indexOf(sets[0]!) > posthog.events.lastIndexOf(sourceEvents.at(-1)!), 'users after the events');
  const identifies = posthog.events.filter((e) => e.event === '$identify').map((e) => `${e.distinct_id} ${(e.properties as Record<string, string>).$anon_distinct_id}`).sort();
  assert.deepEqual(identifies, ['101 100', ...users.filter((u) => u.identity).map((u) => `${u.identity} ${u.user_id}`)].sort());
});

test('runs a user mapping module over files in an s3:// bucket: its throws are rejects with the message, and the counts add up', async (t) => {
  const { posthog, location, bucket } = await setup(t, 'custom');
  await bucket.write('log.jsonl', Array.from({ length: 90 }, (_, i) => JSON.stringify({ n: i, who: `w${i % 6}`, when: new Date(Date.UTC(2022, 0, 1) + i * 3600_000).toISOString() })).join('\n'));
  await bucket.close();
  const file = await pipeline(`{ type: files, location: "${location}", module: ./map.mjs }`, posthog.url);
  await writeFile(path.join(path.dirname(file), 'map.mjs'), 'export default (r) => { if (r.n % 9 === 4) throw new Error(`record ${r.n} has no shape`); if (r.n % 10 === 0) return null; return [{ event: "tick", distinct_id: r.who, timestamp: r.when, properties: { n: r.n } }, { event: "tock", distinct_id: r.who, timestamp: r.when, properties: {} }]; };\n');
  const run = await runCli(['run', file], { env });
  assert.equal(run.code, 0, run.stderr);
  const manifest = JSON.parse(await readFile(path.join(path.dirname(file), 'store/files/manifests/transform/log.jsonl.json'), 'utf8')) as { counts: { in: number; out: number; rejected: number; dropped: number; events: number }; outputs: Array<{ role: string; key: string }> };
  const threw = Array.from({ length: 90 }, (_, i) => i).filter((i) => i % 9 === 4).length;
  const dropped = Array.from({ length: 90 }, (_, i) => i).filter((i) => i % 10 === 0 && i % 9 !== 4).length;
  assert.deepEqual([manifest.counts.in, manifest.counts.rejected, manifest.counts.dropped, manifest.counts.out], [90, threw, dropped, 90 - threw - dropped]);
  assert.equal(manifest.counts.events, 2 * (90 - threw - dropped));
  assert.equal(posthog.events.length, manifest.counts.events);
  const rejects = gunzipSync(await readFile(path.join(path.dirname(file), 'store', manifest.outputs.find((o) => o.role === 'rejects')!.key))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string });
  assert.ok(rejects.every((r) => /the mapping module threw: record \d+ has no shape/.test(r.reason)));
});
