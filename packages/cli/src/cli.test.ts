import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { logLines, runCli } from '@hogport/testkit';
import { allText, readJson, walk, workspace } from './e2e.helpers.js';

test('runs a whole migration into the dry-run outbox, and status shows every chunk done', async () => {
  const ws = await workspace({ files: 4, perFile: 250, badLines: ['{"event":"x","timestamp":"2024-01-01T00:00:00Z"}', 'not json'] });
  const run = await runCli(['run', ws.pipeline]);
  assert.equal(run.code, 0, run.stderr);

  const status = await runCli(['status', ws.pipeline, '--json']);
  assert.equal(status.code, 0, status.stderr);
  const report = JSON.parse(status.stdout);
  assert.equal(report.chunks.length, 4);
  for (const stage of ['extract', 'transform', 'load']) assert.equal(report.totals[stage].done, 4, stage);
  const text = await runCli(['status', ws.pipeline]);
  assert.match(text.stdout, /4 chunks: extract 4\/4 done, transform 4\/4 done, load 4\/4 done — dry run complete: the events are in the outbox, nothing was sent/);
  assert.doesNotMatch(text.stdout, /migration complete/, 'a dry run sent nothing: the migration is not complete');

  // The outbox holds the exact gzip /batch/ bodies: every accepted event once, the key never.
  const files = (await walk(ws.storeDir)).filter((f) => f.startsWith('e2e/outbox/'));
  const uuids = new Set<string>();
  for (const f of files) {
    const body = JSON.parse(gunzipSync(await readFile(path.join(ws.storeDir, f))).toString('utf8'));
    assert.equal(body.historical_migration, true);
    assert.equal(body.api_key, '[redacted]');
    assert.ok(body.batch.length <= 100);
    for (const e of body.batch) {
      assert.ok(!uuids.has(e.uuid));
      uuids.add(e.uuid);
      assert.equal(e.properties.$hogport_migration, 'e2e');
      assert.equal(e.properties.$geoip_disable, true);
      assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  }
  assert.equal(uuids.size, 1000);

  // Counts add up in every manifest, and the rejects carry reasons and positions.
  const t = await readJson(path.join(ws.storeDir, 'e2e/manifests/transform/part-000.jsonl.gz.json'));
  assert.deepEqual([t.counts.in, t.counts.out, t.counts.rejected], [252, 250, 2]);
  const rejectsKey = t.outputs.find((o: { role: string }) => o.role === 'rejects').key;
  const rejects = gunzipSync(await readFile(path.join(ws.storeDir, rejectsKey))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rejects.map((r) => r.code).sort(), ['invalid_json', 'missing_distinct_id']);
  assert.ok(rejects.every((r) => r.position.line > 0 && typeof r.reason === 'string'));
});

test('a second run does nothing and leaves every manifest as it was', async () => {
  const ws = await workspace({ files: 3, perFile: 50 });
  assert.equal((await runCli(['run', ws.pipeline])).code, 0);
  const before = await allText(path.join(ws.storeDir, 'e2e/manifests'));
  const again = await runCli(['run', ws.pipeline]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /extract: 0 done, 3 already done/);
  assert.equal(logLines(again.stderr).filter((l) => l.msg === 'chunk started').length, 0);
  assert.equal(await allText(path.join(ws.storeDir, 'e2e/manifests')), before);
});

test('a corrupted raw chunk fails only that chunk; after repair only it is transformed and loaded', async () => {
  const ws = await workspace({ files: 4, perFile: 100 });
  assert.equal((await runCli(['extract', ws.pipeline])).code, 0);
  const manifest = await readJson(path.join(ws.storeDir, 'e2e/manifests/extract/part-001.jsonl.json'));
  const rawFile = path.join(ws.storeDir, manifest.outputs[0].key);
  const original = await readFile(rawFile);
  await writeFile(rawFile, original.toString('utf8').replace('"event":"', '"event":"X'));

  const transform = await runCli(['transform', ws.pipeline]);
  assert.equal(transform.code, 1);
  assert.match(transform.stderr, /transform: 3 done, 0 already done, 1 failed/);
  const status = JSON.parse((await runCli(['status', ws.pipeline, '--json'])).stdout);
  const bad = status.chunks.find((c: { chunk: string }) => c.chunk === 'part-001.jsonl');
  assert.equal(bad.transform.status, 'failed');
  assert.equal(bad.transform.error.code, 'E_RAW_CORRUPT');
  assert.equal(status.totals.transform.done, 3);
  assert.match((await runCli(['status', ws.pipeline])).stdout, /transform part-001\.jsonl: failed: E_RAW_CORRUPT/);

  // The other chunks load; the failed one is not done, so neither is the load.
  const partial = await runCli(['load', ws.pipeline]);
  assert.equal(partial.code, 4, partial.stderr);
  assert.match(partial.stderr, /load: 3 done, 0 already done, 0 failed, 1 waiting for an earlier stage/);
  await writeFile(rawFile, original);
  const retried = await runCli(['transform', ws.pipeline]);
  assert.equal(retried.code, 0, retried.stderr);
  assert.deepEqual(logLines(retried.stderr).filter((l) => l.msg === 'chunk started').map((l) => l.chunk), ['part-001.jsonl']);
  const load = await runCli(['load', ws.pipeline]);
  assert.equal(load.code, 0, load.stderr);
  assert.deepEqual(logLines(load.stderr).filter((l) => l.msg === 'chunk started').map((l) => l.chunk), ['part-001.jsonl']);
  const final = JSON.parse((await runCli(['status', ws.pipeline, '--json'])).stdout);
  assert.equal(final.totals.load.done, 4);
});

test('a malformed pipeline definition gets one line per problem and exit code 2', async () => {
  const ws = await workspace({ files: 1, perFile: 1 });
  await writeFile(ws.pipeline, 'id: Bad Id\nsource:\n  location: 3\ndestination:\n  type: posthog\n  host: not-a-url\nconcurrency: -1\n');
  const res = await runCli(['run', ws.pipeline]);
  assert.equal(res.code, 2);
  const lines = res.stderr.trim().split('\n');
  assert.match(lines[0]!, /is not a valid pipeline definition:$/);
  for (const field of ['id', 'source.type', 'destination.host', 'concurrency']) {
    assert.ok(lines.some((l) => l.trim().startsWith(`- ${field}:`)), `no line for ${field}:\n${res.stderr}`);
  }
  assert.doesNotMatch(res.stderr, /\n\s+at /);

  await writeFile(ws.pipeline, 'id: ok\nsource:\n  type: posthog-files\n  location: ./export\n  bogus: 1\n');
  const src = await runCli(['plan', ws.pipeline]);
  assert.equal(src.code, 2);
  assert.match(src.stderr, /- source: Unrecognized key: "bogus"|- source.*bogus/);
});

test('rejects --chunks that match nothing instead of doing no work', async () => {
  const ws = await workspace({ files: 2, perFile: 5 });
  const res = await runCli(['extract', ws.pipeline, '--chunks', 'nope-*']);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /--chunks "nope-\*" matches no planned chunk/);
});

test('a changed transform config makes chunks stale; load sends none of the events it loaded before, and counts those it no longer has', async () => {
  const ws = await workspace({ files: 2, perFile: 40 });
  assert.equal((await runCli(['run', ws.pipeline])).code, 0);
  const outbox = async () => (await walk(ws.storeDir)).filter((f) => f.startsWith('e2e/outbox/')).length;
  const sentBefore = await outbox();
  await writeFile(ws.pipeline, `${await readFile(ws.pipeline, 'utf8')}\ntransform:\n  dropEvents: ["$pageview"]\n`);

  const stale = JSON.parse((await runCli(['status', ws.pipeline, '--json'])).stdout);
  assert.equal(stale.totals.transform.stale, 2);
  assert.match(stale.chunks[0].transform.reason, /configuration changed/);

  const transform = await runCli(['transform', ws.pipeline]);
  assert.equal(transform.code, 0, transform.stderr);
  assert.equal(logLines(transform.stderr).filter((l) => l.msg === 'chunk started').length, 2);
  const m = await readJson(path.join(ws.storeDir, 'e2e/manifests/transform/part-000.jsonl.gz.json'));
  assert.ok(m.counts.dropped > 0);
  assert.equal(m.counts.droppedBy.dropEvents, m.counts.dropped);
  assert.equal(m.attemptNumber, 2);

  // The events left are the ones loaded before: nothing is sent, and what is gone is counted.
  const load = await runCli(['load', ws.pipeline]);
  assert.equal(load.code, 0, load.stderr);
  assert.equal(await outbox(), sentBefore, 'nothing was sent');
  const loaded = await readJson(path.join(ws.storeDir, 'e2e/manifests/load/part-000.jsonl.gz.json'));
  assert.deepEqual([loaded.counts.in, loaded.counts.out, loaded.counts.droppedBy.alreadyLoaded], [m.counts.out, 0, m.counts.out]);
  assert.deepEqual([loaded.delta.alreadyLoaded, loaded.delta.new, loaded.delta.changed, loaded.delta.withdrawn], [m.counts.out, 0, 0, m.counts.dropped]);
  assert.equal(JSON.parse((await runCli(['status', ws.pipeline, '--json'])).stdout).totals.load.done, 2);
});

test('a loaded chunk an older hogport loaded is compared with the events it loaded; with those gone, load refuses it unless told to', async () => {
  const ws = await workspace({ files: 2, perFile: 40 });
  assert.equal((await runCli(['run', ws.pipeline])).code, 0);
  const outbox = async () => (await walk(ws.storeDir)).filter((f) => f.startsWith('e2e/outbox/')).length;
  // As an older hogport left them: load manifests without a ledger.
  const manifests = ['part-000.jsonl.gz', 'part-001.jsonl'].map((c) => path.join(ws.storeDir, `e2e/manifests/load/${c}.json`));
  for (const f of manifests) {
    const m = await readJson(f);
    m.outputs = m.outputs.filter((o: { role: string }) => o.role !== 'ledger');
    await writeFile(f, JSON.stringify(m));
  }
  const gone = (await readJson(manifests[1]!)).inputs[0].key as string;
  await writeFile(ws.pipeline, `${await readFile(ws.pipeline, 'utf8')}\ntransform:\n  dropEvents: ["$pageview"]\n`);
  assert.equal((await runCli(['transform', ws.pipeline])).code, 0);
  await rm(path.join(ws.storeDir, gone));
  const sentBefore = await outbox();

  const refused = await runCli(['load', ws.pipeline]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /E_LOADED_CHUNK_CHANGED .*part-001.*duplicates in PostHog.*--resend-changed/);
  assert.equal(await outbox(), sentBefore, 'nothing was sent');
  const first = await readJson(manifests[0]!);
  assert.deepEqual([first.delta.against, first.counts.out, first.delta.new], ['events', 0, 0], 'the chunk whose loaded events remain was compared with them');
  assert.equal(JSON.parse((await runCli(['status', ws.pipeline, '--json'])).stdout).totals.load.stale, 1);

  const resent = await runCli(['load', ws.pipeline, '--resend-changed']);
  assert.equal(resent.code, 0, resent.stderr);
  assert.ok(await outbox() > sentBefore, 'sent again when told to');
  assert.equal(JSON.parse((await runCli(['status', ws.pipeline, '--json'])).stdout).totals.load.done, 2);
});

test('--force redoes only the selected chunks', async () => {
  const ws = await workspace({ files: 3, perFile: 10 });
  assert.equal((await runCli(['run', ws.pipeline])).code, 0);
  const forced = await runCli(['transform', ws.pipeline, '--force', '--chunks', 'part-000*']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(logLines(forced.stderr).filter((l) => l.msg === 'chunk started').map((l) => l.chunk), ['part-000.jsonl.gz']);
  assert.equal((await readJson(path.join(ws.storeDir, 'e2e/manifests/transform/part-000.jsonl.gz.json'))).attemptNumber, 2);
  assert.equal((await readJson(path.join(ws.storeDir, 'e2e/manifests/transform/part-001.jsonl.json'))).attemptNumber, 1);
});

test('plans one chunk per source file, with what it reads', async () => {
  const ws = await workspace({ files: 3, perFile: 1 });
  const res = await runCli(['plan', ws.pipeline, '--json']);
  assert.equal(res.code, 0, res.stderr);
  const plan = JSON.parse(res.stdout);
  assert.deepEqual(plan.chunks.map((c: { id: string }) => c.id), ['part-000.jsonl.gz', 'part-001.jsonl', 'part-002.jsonl.gz']);
  for (const c of plan.chunks) {
    assert.match(c.inputs[0].key, /^file:\/\/.*\/export\/part-00\d/);
    assert.ok(c.inputs[0].etag && c.inputs[0].bytes > 0);
  }
  assert.match((await runCli(['plan', ws.pipeline])).stdout, /3 chunks planned for migration e2e/);
});
