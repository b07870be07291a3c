import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli, startFakePostHog } from '@hogport/testkit';
import { walk, workspace } from './e2e.helpers.js';

const KEY = 'phc_capture_answers';
const env = { POSTHOG_PROJECT_API_KEY: KEY };

test('capture down: the breaker stops the load within seconds and far fewer requests than per-chunk retries, exit 5; the next run completes', async (t) => {
  const posthog = await startFakePostHog({ token: KEY, keepEvents: false });
  t.after(() => posthog.close());
  const chunks = 26;
  const ws = await workspace({ files: chunks, perFile: 20, destination: `{ type: posthog, host: "${posthog.url}", batchMaxEvents: 50, concurrency: 4, maxAttempts: 8 }` });
  for (const stage of ['extract', 'transform']) assert.equal((await runCli([stage, ws.pipeline], { env })).code, 0);

  posthog.down = true;
  const started = Date.now();
  const down = await runCli(['load', ws.pipeline], { env });
  const seconds = (Date.now() - started) / 1000;
  assert.equal(down.code, 5, down.stderr);
  assert.match(down.stderr, /PostHog capture at .* could not be reached: 8 requests in a row failed.*nothing is lost: re-run/);
  // Each chunk spending its own 8 attempts would be 26 × 8 = 208 requests and minutes of backoff.
  assert.ok(posthog.requests.length <= 8 + 4, `${posthog.requests.length} requests`);
  assert.ok(seconds < 20, `${seconds} s`);
  assert.deepEqual((await walk(ws.storeDir)).filter((f) => f.includes('/failures/load/') || f.includes('/manifests/load/')), [], 'no chunk failed, none loaded');

  posthog.down = false;
  const again = await runCli(['load', ws.pipeline], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(posthog.accepted.events, chunks * 20, 'every event arrives, once');
  assert.equal(posthog.accepted.uuids.size, chunks * 20);
});

test('a 200 that is not capture\'s answer (an HTML page) is refused with exit 3, and no chunk counts as loaded', async (t) => {
  const posthog = await startFakePostHog({ token: KEY, notCapture: true });
  t.after(() => posthog.close());
  const ws = await workspace({ files: 3, perFile: 30, destination: `{ type: posthog, host: "${posthog.url}", batchMaxEvents: 50 }` });
  // Past the checks (which refuse such a host before any work): load's own defence, for a host that changes mid-run.
  const run = await runCli(['run', ws.pipeline, '--skip-checks'], { env });
  assert.equal(run.code, 3, run.stderr);
  assert.match(run.stderr, /answered HTTP 200 with "<!DOCTYPE html>.*not PostHog capture's answer.*check destination.host/);
  assert.ok(posthog.requests.length >= 1 && posthog.requests.every((r) => r.detail === 'not capture'));
  assert.deepEqual((await walk(ws.storeDir)).filter((f) => f.includes('/manifests/load/') || f.includes('/checkpoints/load/') || f.includes('/failures/load/')), []);
  const status = JSON.parse((await runCli(['status', ws.pipeline, '--json'])).stdout) as { totals: Record<string, Record<string, number>> };
  assert.equal(status.totals.load!.done ?? 0, 0);

  posthog.notCapture = false;
  assert.equal((await runCli(['run', ws.pipeline], { env })).code, 0);
  assert.equal(posthog.events.length, 90);
});
