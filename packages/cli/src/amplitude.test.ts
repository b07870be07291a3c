import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Outcome } from '@hogport/pipeline';
import { readAmplitude } from '@hogport/source-amplitude';
import { openStore } from '@hogport/store';
import { amplitudeEntries, amplitudeExport, type AmplitudeRecord, type AmplitudeZipOptions, randomBucket, runCli, startAmplitudeExportApi, startFakePostHog, startMoto } from '@hogport/testkit';

const KEY = 'phc_amplitude_e2e';
const env = { POSTHOG_PROJECT_API_KEY: KEY, AMPLITUDE_API_KEY: 'amp_key_e2e', AMPLITUDE_SECRET_KEY: 'amp_secret_e2e_do_not_leak' };
const mapping = { renameEvents: {}, dropProperties: [] as string[] };

/**
 * What transform makes of one hour's files as the export holds them, read the way Amplitude's
 * transform reads a chunk: a group without properties is created once per hour, by the first record
 * in file order that names it.
 */
async function hourOutcomes(hour: string, records: AmplitudeRecord[], zip: AmplitudeZipOptions): Promise<Outcome[]> {
  const files = amplitudeEntries(new Map([[hour, records]]), zip).map((e) => ({ name: e.name.split('/').pop()!, open: async () => Readable.from([e.data]) }));
  const out: Outcome[] = [];
  for await (const o of readAmplitude(files, { mapping, maxUncompressedBytes: 2 ** 30 })) out.push(o);
  return out;
}

async function pipelineFile(options: { api: string; posthog: string; start: string; end: string; extra?: string }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-amp-e2e-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, [
    'id: amp',
    'store: ./store',
    `source: { type: amplitude, endpoint: "${options.api}", start: "${options.start}", end: "${options.end}"${options.extra ?? ''} }`,
    `destination: { type: posthog, host: "${options.posthog}", batchMaxEvents: 100 }`,
    'concurrency: 2',
  ].join('\n'));
  return file;
}

test('migrates an Amplitude project from the Export API: every kept event arrives once, mapped', async (t) => {
  const hours = ['2024-03-01T00', '2024-03-01T01', '2024-03-01T03'];
  const data = amplitudeExport({ seed: 11, hours, perHour: 120 });
  const zip = { plainHours: ['2024-03-01T01'], partsPerHour: 3 };
  const api = await startAmplitudeExportApi({ apiKey: env.AMPLITUDE_API_KEY, secretKey: env.AMPLITUDE_SECRET_KEY, data, zip, faults: { seed: 5, rate429: 0.5, retryAfterSeconds: 0 } });
  const posthog = await startFakePostHog({ token: KEY });
  t.after(async () => { await api.close(); await posthog.close(); });
  const file = await pipelineFile({ api: api.url, posthog: posthog.url, start: '2024-03-01T00', end: '2024-03-01T04' });

  const run = await runCli(['run', file], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.ok(!run.stderr.includes(env.AMPLITUDE_SECRET_KEY));
  assert.ok(api.requests.some((r) => r.status === 429), 'the export was retried after 429');
  assert.deepEqual(api.requests.filter((r) => r.start === '20240301T02').map((r) => r.status).filter((s) => s !== 429), [404]);

  const expected = new Map<string, { event: string; distinct_id: string }>();
  const pairs = new Map<string, string>();
  let dropped = 0;
  for (const [hour, records] of data) {
    for (const m of await hourOutcomes(hour, records, zip)) {
      if (m.kind === 'drop') dropped += 1;
      assert.ok(m.kind !== 'reject', 'the fixture has no unmappable records');
      if (m.kind !== 'events') continue;
      for (const e of m.events) expected.set(e.uuid, { event: e.event, distinct_id: e.distinct_id });
      for (const pair of m.identify ?? []) {
        const key = `${pair.distinctId} ${pair.anonId}`;
        const at = m.events[0]!.timestamp;
        if (!pairs.has(key) || at < pairs.get(key)!) pairs.set(key, at);
      }
    }
  }
  assert.ok(dropped > 0);
  const sourceEvents = posthog.events.filter((e) => expected.has(e.uuid as string));
  const got = new Map<string, number>();
  for (const e of sourceEvents) got.set(e.uuid as string, (got.get(e.uuid as string) ?? 0) + 1);
  assert.equal(got.size, expected.size);
  for (const [uuid, n] of got) assert.equal(n, 1, `${uuid} arrived ${n} times`);
  for (const e of sourceEvents) {
    const want = expected.get(e.uuid as string)!;
    assert.deepEqual([e.event, e.distinct_id], [want.event, want.distinct_id]);
    assert.equal((e.properties as Record<string, unknown>).$hogport_migration, 'amp');
  }
  assert.ok(!posthog.events.some((e) => e.event === 'session_start' || e.event === 'session_end'));

  // One $identify per (user, device) pair, at its first sighting, before any event; persons last.
  const identifies = posthog.events.filter((e) => e.event === '$identify');
  assert.ok(pairs.size > 3);
  assert.equal(identifies.length, pairs.size);
  for (const e of identifies) {
    const key = `${e.distinct_id} ${(e.properties as Record<string, string>).$anon_distinct_id}`;
    assert.equal(Date.parse(e.timestamp as string), Date.parse(pairs.get(key)!), key);
  }
  const order = posthog.events.map((e) => (e.event === '$identify' ? 'i' : expected.has(e.uuid as string) ? 'e' : e.event === '$set' ? 'p' : '?'));
  assert.match(order.join(''), /^i+e+p+$/, 'identities, then events, then persons');
  const persons = posthog.events.filter((e) => e.event === '$set');
  assert.equal(new Set(persons.map((e) => e.distinct_id)).size, persons.length, 'one $set per person');

  // The same records chunked differently (all in one hour's files) by another migration: every
  // pair's $identify is the very same event (uuid and timestamp), so PostHog keeps one.
  const regrouped = new Map([['2024-03-01T00', hours.flatMap((h) => data.get(h)!)]]);
  const dir2 = await mkdtemp(path.join(tmpdir(), 'hogport-amp-regrouped-'));
  await mkdir(path.join(dir2, 'export'));
  for (const e of amplitudeEntries(regrouped, { partsPerHour: 5 })) await writeFile(path.join(dir2, 'export', e.name.split('/').pop()!), e.data);
  await writeFile(path.join(dir2, 'export', '187520_2024-03-01_0_complete'), '');
  await writeFile(path.join(dir2, 'pipeline.yaml'), `id: amp2\nstore: ./store\nsource: { type: amplitude, mode: files, location: ./export }\ndestination: { type: posthog, host: "${posthog.url}" }\n`);
  assert.equal((await runCli(['run', path.join(dir2, 'pipeline.yaml')], { env })).code, 0);
  const byPair = new Map<string, Set<string>>();
  for (const e of posthog.events.filter((x) => x.event === '$identify')) {
    const key = `${e.distinct_id} ${(e.properties as Record<string, string>).$anon_distinct_id}`;
    byPair.set(key, (byPair.get(key) ?? new Set()).add(`${e.uuid as string} ${e.timestamp as string}`));
  }
  assert.equal(byPair.size, pairs.size);
  for (const [pair, versions] of byPair) assert.equal(versions.size, 1, `${pair} has one $identify whatever the chunking`);

  // More hours later: only new pairs get an $identify; nothing loaded is sent again.
  const more = amplitudeExport({ seed: 13, hours: ['2024-03-01T04', '2024-03-01T05'], perHour: 80 });
  for (const [h, records] of more) data.set(h, records);
  const rows = posthog.events.length;
  const extended = await pipelineFile({ api: api.url, posthog: posthog.url, start: '2024-03-01T00', end: '2024-03-01T06' });
  await rename(path.join(path.dirname(file), 'store'), path.join(path.dirname(extended), 'store'));
  const again = await runCli(['run', extended], { env });
  assert.equal(again.code, 0, again.stderr);
  const added = posthog.events.slice(rows);
  assert.ok(added.every((e) => !got.has(e.uuid as string)), 'no event of the first hours was sent again');
  const added2 = added.filter((e) => e.event === '$identify').map((e) => `${e.distinct_id} ${(e.properties as Record<string, string>).$anon_distinct_id}`);
  assert.ok(added2.every((pair) => !pairs.has(pair)), 'a pair identified before is not sent again');
  assert.equal(new Set(added2).size, added2.length);
  const allIdentifies = [...pairs.keys(), ...added2];
  assert.ok(added.some((e) => e.event === '$identify') || allIdentifies.length === pairs.size);

  const status = JSON.parse((await runCli(['status', extended, '--json'], { env })).stdout) as { chunks: Array<{ chunk: string; transform: { counts?: { in: number; dropped: number } } }>; totals: Record<string, Record<string, number>> };
  assert.equal(status.totals.load!.done, status.chunks.length, 'every chunk loaded, the empty hour and the derived ones too');
  assert.ok(status.chunks.some((c) => c.chunk === '~persons') && status.chunks.some((c) => c.chunk === '~identities-0001'));
  assert.equal(status.chunks.find((c) => c.chunk === '2024-03-01T02')!.transform.counts!.in, 0);
});

test('a zip cut on every attempt, a zip bomb and an hour over the export limit fail their own chunks with clear errors; other hours load', async (t) => {
  const hours = ['2024-03-01T00', '2024-03-01T01', '2024-03-01T02'];
  const data = amplitudeExport({ seed: 12, hours, perHour: 40 });
  const api = await startAmplitudeExportApi({
    apiKey: env.AMPLITUDE_API_KEY, secretKey: env.AMPLITUDE_SECRET_KEY, data, maxBytes: 400_000,
    truncate: ['2024-03-01T01'],
    extra: {
      '2024-03-01T02': [{ name: '187520/187520_2024-03-01_2#9.json.gz', data: gzipSync(Buffer.alloc(8 * 2 ** 20, 0x20)) }],
      '2024-03-01T03': [{ name: '187520/187520_2024-03-01_3#0.json.gz', data: randomBytes(600_000) }],
    },
  });
  const posthog = await startFakePostHog({ token: KEY });
  t.after(async () => { await api.close(); await posthog.close(); });
  const file = await pipelineFile({ api: api.url, posthog: posthog.url, start: '2024-03-01T00', end: '2024-03-01T04', extra: ', maxUncompressedBytes: 2000000, maxAttempts: 2' });
  const run = await runCli(['run', file], { env });
  assert.equal(run.code, 1, run.stderr);
  // The cut zip never reaches the store: extract retries it, then leaves it for the next run.
  assert.match(run.stderr, /extract 2024-03-01T01: E_AMPLITUDE_UNAVAILABLE .*end-of-central-directory.*retried on the next run/);
  assert.equal(api.requests.filter((r) => r.start === '20240301T01').length, 2);
  assert.match(run.stderr, /transform 2024-03-01T02: E_TOO_MUCH_DATA .*zip bomb/);
  assert.match(run.stderr, /extract 2024-03-01T03: E_AMPLITUDE_TOO_LARGE .*S3 export/);
  const status = JSON.parse((await runCli(['status', file, '--json'], { env })).stdout) as { chunks: Array<{ chunk: string; load: { status: string } }> };
  // Identities merge across the whole migration, so nothing loads while an hour is not transformed.
  assert.match(run.stderr, /load waits until every chunk is transformed \(3 not yet/);
  assert.deepEqual(status.chunks.map((c) => [c.chunk, c.load.status]), [['2024-03-01T00', 'pending'], ['2024-03-01T01', 'waiting'], ['2024-03-01T02', 'waiting'], ['2024-03-01T03', 'waiting']]);
  assert.equal(posthog.events.length, 0);
});

test('migrates Amplitude\'s S3 export from a bucket, hour by hour, once each hour is complete', async (t) => {
  const moto = await startMoto();
  t.after(() => moto.stop());
  const location = await moto.bucket(randomBucket(), 'amplitude/187520');
  const bucket = openStore(location);
  const hours = ['2024-05-01T22', '2024-05-01T23', '2024-05-02T00'];
  const data = amplitudeExport({ seed: 21, hours, perHour: 60 });
  const zip = { partsPerHour: 2 };
  for (const e of amplitudeEntries(data, zip)) await bucket.write(e.name.split('/').pop()!, e.data);
  await bucket.write('187520_2024-05-01_22_complete', '');
  await bucket.write('187520_2024-05-01_23_complete', '');
  await bucket.close();

  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-amp-s3-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, `id: amp-s3\nstore: ./store\nsource: { type: amplitude, mode: files, location: "${location}" }\ndestination: { type: dry-run, batchMaxEvents: 100 }\n`);
  const plan = await runCli(['plan', file, '--json']);
  assert.deepEqual((JSON.parse(plan.stdout) as { chunks: Array<{ id: string }> }).chunks.map((c) => c.id), ['2024-05-01T22', '2024-05-01T23'], 'the hour without its marker waits');
  const run = await runCli(['run', file]);
  assert.equal(run.code, 0, run.stderr);

  let events = 0;
  for (const h of hours.slice(0, 2)) for (const m of await hourOutcomes(h, data.get(h)!, zip)) if (m.kind === 'events') events += m.events.length;
  const status = JSON.parse((await runCli(['status', file, '--json'])).stdout) as { chunks: Array<{ chunk: string; load: { status: string; counts?: { out: number } } }> };
  const sourceLoads = status.chunks.filter((c) => !c.chunk.startsWith('~'));
  assert.equal(sourceLoads.reduce((a, c) => a + (c.load.counts?.out ?? 0), 0), events);
  assert.ok(status.chunks.every((c) => c.load.status === 'done'));
});
