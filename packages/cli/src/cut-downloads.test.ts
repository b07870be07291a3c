import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { mapAmplitudeRecord } from '@hogport/source-amplitude';
import { assertGroupsCreatedOnce, groupOf, isGroupCreation } from './e2e.helpers.js';
import { mapMixpanelRecord } from '@hogport/source-mixpanel';
import { openStore } from '@hogport/store';
import { amplitudeExport, freePort, mixpanelExport, randomBucket, runCli, startAmplitudeExportApi, startFakePostHog, startMixpanelApi, startMoto, type CutKind } from '@hogport/testkit';
import { readAll } from '@hogport/common';

const KEY = 'phc_cut_downloads';
const env = {
  POSTHOG_PROJECT_API_KEY: KEY, AMPLITUDE_API_KEY: 'amp_key_cut', AMPLITUDE_SECRET_KEY: 'amp_secret_cut',
  MIXPANEL_SERVICE_ACCOUNT_USER: 'sa.cut', MIXPANEL_SERVICE_ACCOUNT_SECRET: 'sa_secret_cut',
};
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function pipeline(source: string, posthog: string, storeUri?: string): Promise<{ file: string; store: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-cut-'));
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, ['id: cut', `store: "${storeUri ?? './store'}"`, `source: ${source}`, `destination: { type: posthog, host: "${posthog}", batchMaxEvents: 100 }`, 'concurrency: 2'].join('\n'));
  return { file, store: storeUri ?? path.join(dir, 'store') };
}

/** The bytes extract committed for a chunk: the one raw file its manifest names, checked against its sha256. */
async function committedRaw(storeUri: string, chunk: string): Promise<Buffer> {
  const store = openStore(storeUri);
  try {
    const manifest = JSON.parse((await readAll(await store.read(`cut/manifests/extract/${chunk}.json`))).toString('utf8')) as { outputs: Array<{ key: string; sha256: string; bytes: number }> };
    assert.equal(manifest.outputs.length, 1);
    const out = manifest.outputs[0]!;
    const bytes = await readAll(await store.read(out.key));
    assert.equal(sha256(bytes), out.sha256);
    assert.equal(bytes.length, out.bytes);
    return bytes;
  } finally {
    await store.close();
  }
}

function kindsSeen(requests: Array<{ cut?: CutKind }>): Set<CutKind> {
  return new Set(requests.flatMap((r) => (r.cut ? [r.cut] : [])));
}

for (const where of ['a local store', 'an S3 store']) {
test(`Amplitude downloads cut mid-body, ended early or short are retried and never committed short, into ${where}: one run, every event once`, async (t) => {
  let storeUri: string | undefined;
  if (where === 'an S3 store') {
    const moto = await startMoto();
    t.after(() => moto.stop());
    storeUri = await moto.bucket(randomBucket(), 'hogport');
  }
  const hours = ['2024-03-01T00', '2024-03-01T01', '2024-03-01T02', '2024-03-01T03'];
  const data = amplitudeExport({ seed: 41, hours, perHour: 80 });
  const api = await startAmplitudeExportApi({ apiKey: env.AMPLITUDE_API_KEY, secretKey: env.AMPLITUDE_SECRET_KEY, data, cuts: { seed: 17, rate: 0.4 } });
  const posthog = await startFakePostHog({ token: KEY });
  t.after(async () => { await api.close(); await posthog.close(); });
  const { file, store } = await pipeline(`{ type: amplitude, endpoint: "${api.url}", start: "2024-03-01T00", end: "2024-03-01T04", maxAttempts: 12 }`, posthog.url, storeUri);

  const run = await runCli(['run', file], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(kindsSeen(api.requests), new Set(['reset', 'early-end', 'short']), 'every kind of cut happened');
  assert.doesNotMatch(run.stderr, /Unhandled|E_ZIP_CORRUPT/);
  for (const hour of hours) {
    const raw = await committedRaw(store, hour);
    assert.equal(sha256(raw), sha256(api.zips.get(hour.replace(/-/g, ''))!), `hour ${hour} is committed whole`);
  }
  const want = new Set<string>();
  const named = new Set<string>();
  for (const r of [...data.values()].flat()) {
    const m = mapAmplitudeRecord(structuredClone(r), { renameEvents: {}, dropProperties: [] });
    if ('events' in m) for (const e of m.events) if (isGroupCreation(e)) named.add(groupOf(e)); else want.add(e.uuid);
  }
  assertGroupsCreatedOnce(posthog.events as Array<{ event?: unknown; properties?: Record<string, unknown> }>, named);
  const got = posthog.events.filter((e) => want.has(e.uuid as string)).map((e) => e.uuid as string);
  assert.equal(got.length, want.size, 'every event arrives once');
  assert.equal(new Set(got).size, want.size);
});
}

for (const gzip of [true, false]) {
  test(`Mixpanel exports cut mid-body, ended early or short (${gzip ? 'gzip' : 'plain'}) are retried and never committed short: one run, every event once`, async (t) => {
    const days = ['2024-02-01', '2024-02-02', '2024-02-03', '2024-02-04', '2024-02-05'];
    const data = mixpanelExport({ seed: 51, days, perDay: 400 });
    const api = await startMixpanelApi({ user: env.MIXPANEL_SERVICE_ACCOUNT_USER, secret: env.MIXPANEL_SERVICE_ACCOUNT_SECRET, projectId: '77', data, gzip, cuts: { seed: gzip ? 3 : 18, rate: 0.4 } });
    const posthog = await startFakePostHog({ token: KEY });
    t.after(async () => { await api.close(); await posthog.close(); });
    const { file, store } = await pipeline(`{ type: mixpanel, exportEndpoint: "${api.url}", queryEndpoint: "${api.url}", projectId: 77, start: "2024-02-01", end: "2024-02-06", maxAttempts: 12 }`, posthog.url);

    const run = await runCli(['run', file], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(kindsSeen(api.requests), new Set(['reset', 'early-end', 'short']), 'every kind of cut happened');
    for (const day of days) {
      const raw = await committedRaw(store, day);
      assert.equal(raw[0] === 0x1f && raw[1] === 0x8b, gzip, 'stored as it came');
      const text = (gzip ? gunzipSync(raw) : raw).toString('utf8');
      assert.equal(text, data.get(day)!.map((e) => `${JSON.stringify(e)}\n`).join(''), `day ${day} is committed whole`);
    }
    const want = new Set<string>();
    for (const e of [...data.values()].flat()) {
      const m = mapMixpanelRecord(e, { renameEvents: {}, dropProperties: [] });
      if ('events' in m) want.add(m.events[0]!.uuid);
    }
    const got = posthog.events.filter((e) => want.has(e.uuid as string)).map((e) => e.uuid as string);
    assert.equal(got.length, want.size, 'every event arrives once');
    assert.equal(new Set(got).size, want.size);
  });
}

test('an Amplitude Export API that cannot be reached stops the extract through the breaker with exit 5, no hour marked failed', async (t) => {
  const posthog = await startFakePostHog({ token: KEY });
  t.after(() => posthog.close());
  const nobody = `http://127.0.0.1:${await freePort()}`;
  const { file } = await pipeline(`{ type: amplitude, endpoint: "${nobody}", start: "2024-03-01T00", end: "2024-03-02T00" }`, posthog.url);
  const started = Date.now();
  const run = await runCli(['extract', file], { env });
  assert.equal(run.code, 5, run.stderr);
  assert.match(run.stderr, /Amplitude's Export API could not be reached: 8 requests in a row failed .*nothing is lost: re-run/);
  // 24 hours spending 8 attempts each would take minutes of backoff.
  assert.ok(Date.now() - started < 30_000, `${Date.now() - started} ms`);
  const status = JSON.parse((await runCli(['status', file, '--json'])).stdout) as { totals: Record<string, Record<string, number>> };
  assert.equal(status.totals.extract!.failed ?? 0, 0);
  assert.equal(status.totals.extract!.done ?? 0, 0);
});
