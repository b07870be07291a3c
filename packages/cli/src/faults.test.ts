import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { runCli, startCli, startFakePostHog } from '@hogport/testkit';
import { readJson, walk, workspace } from './e2e.helpers.js';

const KEY = 'phc_fault_campaign_key';
const BATCH = 500;
const REQUESTS_IN_FLIGHT = 4;
/** The workspace loads two chunks at once; each may have a batch or two acknowledged while its checkpoint is being written. */
const CHUNKS_AT_ONCE = 2;

test('a seeded fault campaign over 100,000 events, killed mid-load, delivers every uuid and nothing else, re-sending only what was in flight', async (t) => {
  const server = await startFakePostHog({
    token: KEY, delayMs: 5,
    faults: { seed: 20261128, rate429: 0.04, retryAfterSeconds: 1, rate503: 0.06, rateReset: 0.04, rateDropAfterAccept: 0.04 },
  });
  t.after(() => server.close());
  // No cap on the rate: the campaign is of faults, and 100,000 events at the default rate take ten minutes.
  const destination = `{ type: posthog, host: "${server.url}", batchMaxEvents: ${BATCH}, concurrency: ${REQUESTS_IN_FLIGHT}, maxAttempts: 12, maxEventsPerMinute: none }`;
  const ws = await workspace({ files: 10, perFile: 10_000, destination });
  const env = { POSTHOG_PROJECT_API_KEY: KEY };
  assert.equal((await runCli(['extract', ws.pipeline], { env })).code, 0);
  assert.equal((await runCli(['transform', ws.pipeline], { env })).code, 0);

  const first = startCli(['load', ws.pipeline], { env });
  while (server.requests.filter((r) => r.outcome === 'accepted').length < 90) await new Promise((r) => setTimeout(r, 5));
  first.child.kill('SIGKILL');
  assert.equal((await first.done).signal, 'SIGKILL');
  const beforeResume = server.events.length;
  const checkpoints = (await walk(ws.storeDir)).filter((f) => f.startsWith('e2e/checkpoints/load/'));
  assert.ok(checkpoints.length > 0, 'the killed load left checkpoints');
  const droppedBeforeKill = dropped();
  assert.match((await runCli(['status', ws.pipeline])).stdout, /load \S+: \d+ events acknowledged so far; the next attempt resumes after them/);

  const second = await runCli(['load', ws.pipeline], { env });
  assert.equal(second.code, 0, second.stderr);

  // The input: every event the transform manifests name.
  const input = new Set<string>();
  for (const f of (await walk(ws.storeDir)).filter((x) => x.startsWith('e2e/manifests/transform/'))) {
    const m = await readJson(path.join(ws.storeDir, f));
    for (const o of m.outputs.filter((x: { role: string }) => x.role === 'events')) {
      for (const line of gunzipSync(await readFile(path.join(ws.storeDir, o.key))).toString('utf8').split('\n')) {
        if (line) input.add((JSON.parse(line) as { uuid: string }).uuid);
      }
    }
  }
  assert.equal(input.size, 100_000);
  const delivered = new Set(server.events.map((e) => e.uuid as string));
  assert.equal(delivered.size, input.size, 'every uuid delivered');
  for (const u of delivered) assert.ok(input.has(u), `delivered ${u}, which is not in the input`);

  // Re-sends: replies lost after acceptance (retried by design), and at the kill what was in flight.
  const resent = server.events.length - input.size;
  const expectedResends = dropped();
  const atKill = resent - expectedResends;
  assert.ok(atKill <= (REQUESTS_IN_FLIGHT + 2 * CHUNKS_AT_ONCE) * BATCH, `${atKill} events re-sent after the kill (${beforeResume} had arrived before it; ${droppedBeforeKill} re-sends from lost replies before it)`);
  t.diagnostic(`requests ${server.requests.length}; re-sent ${resent} events: ${expectedResends} after lost replies, ${atKill} at the kill`);
  const outcomes = new Set<string | number>(server.requests.map((r) => (r.outcome === 'refused' ? r.status : r.outcome)));
  for (const seen of [429, 503, 'reset', 'dropped']) assert.ok(outcomes.has(seen), `the campaign included ${String(seen)}`);
  const status = JSON.parse((await runCli(['status', ws.pipeline, '--json'])).stdout) as { totals: Record<string, Record<string, number>> };
  assert.equal(status.totals.load!.done, 10);
  assert.deepEqual((await walk(ws.storeDir)).filter((f) => f.startsWith('e2e/checkpoints/')), [], 'no checkpoint outlives its commit');

  function dropped(): number {
    return server.requests.filter((r) => r.outcome === 'dropped').reduce((sum, r) => sum + r.events, 0);
  }
});
