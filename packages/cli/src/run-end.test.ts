import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { canRunOnTerminal, posthogEvents, runCli, runCliOnTerminal, screenLines, startCliOnTerminal, startFakePostHog } from '@hogport/testkit';
import { outboxEvents, workspace } from './e2e.helpers.js';

const badLines = ['{"event":"x","timestamp":"2024-01-01T00:00:00Z"}', 'not json', '{"event":', '{"distinct_id":"d","timestamp":"2024-01-01T00:00:00Z"}'];
/** Every fifth fixture event is an $autocapture: dropped by rule. */
const dropAutocapture = 'transform: { dropEvents: ["$autocapture"] }';

test('a dry run ends with the events written to the outbox, nothing sent, the records that add up, and the top reject codes with the command that shows them', async () => {
  const ws = await workspace({ files: 3, perFile: 100, badLines, extra: dropAutocapture });
  const run = await runCli(['run', ws.pipeline]);
  assert.equal(run.code, 0, run.stderr);
  const end = run.stderr.slice(run.stderr.indexOf('extract: 3 done'));
  const outbox = `${pathToFileURL(ws.storeDir).href}/e2e/outbox/`;
  // The workspace's 300 fixture events, less the $autocapture ones; 4 bad lines on top.
  const fixture = [0, 1, 2].flatMap((i) => posthogEvents({ seed: 1000 + i, count: 100, start: new Date(Date.UTC(2024, 0, 1) + i * 86_400_000) }));
  const autocaptures = fixture.filter((e) => e.event === '$autocapture').length;
  assert.ok(autocaptures > 0);
  const kept = 300 - autocaptures;
  assert.ok(end.includes(`dry run: ${kept} events written to the outbox, nothing sent\n  outbox: ${outbox}\n`), end);
  assert.equal((await outboxEvents(path.join(ws.storeDir, 'e2e'))).length, kept, 'as many as the outbox holds');
  assert.match(end, new RegExp(`^records: 304 in, ${kept} out as ${kept} events, 4 rejected, ${autocaptures} dropped \\(dropEvents ${autocaptures}\\)$`, 'm'));
  assert.match(end, /^rejected: 4 records; see them with hogport inspect:$/m);
  const chunk = 'part-000.jsonl.gz';
  const commands = end.split('\n').filter((l) => l.startsWith('  ') && l.includes('hogport inspect '));
  assert.equal(commands.length, 3, end);
  assert.match(commands[0]!, new RegExp(`^  invalid_json\\s+2  hogport inspect ${ws.pipeline.replace(/[.]/g, '\\.')} ${chunk.replace(/[.]/g, '\\.')} --reject invalid_json$`));
  assert.deepEqual(commands.slice(1).map((l) => l.trim().split(/\s+/)[0]).sort(), ['invalid_event', 'missing_distinct_id']);
  assert.match(end, new RegExp(`^  rejects: ${pathToFileURL(ws.storeDir).href}/e2e/rejects/transform/${chunk}/[^/]+\\.jsonl\\.gz$`, 'm'));
  assert.doesNotMatch(run.stderr, /migration complete/);

  const status = await runCli(['status', ws.pipeline]);
  assert.doesNotMatch(status.stdout, /migration complete/, 'status after a dry run does not call the migration complete either');
  assert.match(status.stdout, /dry run complete: the events are in the outbox, nothing was sent/);
});

test('each stage run alone ends with what that stage did: transform with its records, load with what it wrote', async () => {
  const ws = await workspace({ files: 2, perFile: 50, badLines: ['not json'] });
  assert.equal((await runCli(['extract', ws.pipeline])).code, 0);
  const transform = await runCli(['transform', ws.pipeline]);
  assert.equal(transform.code, 0, transform.stderr);
  assert.match(transform.stderr, /^records: 101 in, 100 out as 100 events, 1 rejected, 0 dropped$/m);
  assert.doesNotMatch(transform.stderr, /dry run:|events sent/);
  const load = await runCli(['load', ws.pipeline]);
  assert.equal(load.code, 0, load.stderr);
  assert.match(load.stderr, /^dry run: 100 events written to the outbox, nothing sent$/m);
  assert.doesNotMatch(load.stderr, /^records:/m, 'load transformed nothing');
  const again = await runCli(['run', ws.pipeline]);
  assert.match(again.stderr, /^dry run: 0 events written to the outbox, nothing sent$/m, 'a re-run that finds everything done writes nothing more');
  assert.match(again.stderr, /^records: no chunk transformed in this run$/m);
});

test('a run to PostHog ends with the number of events sent and the host, as many as PostHog received', async (t) => {
  const key = 'phc_run_end';
  const posthog = await startFakePostHog({ token: key });
  t.after(() => posthog.close());
  const ws = await workspace({ files: 3, perFile: 120, badLines: ['not json'], destination: `{ type: posthog, host: "${posthog.url}", batchMaxEvents: 50 }` });
  const run = await runCli(['run', ws.pipeline], { env: { POSTHOG_PROJECT_API_KEY: key } });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(posthog.events.length, 360);
  assert.match(run.stderr, new RegExp(`^360 events sent to ${new URL(posthog.url).origin}$`, 'm'));
  assert.doesNotMatch(run.stderr, /dry run/);
  assert.ok(!run.stderr.includes(key), 'the key is never printed');
});

test('on a terminal, each stage has one progress line, and log lines are printed above the bars, never inside one', { skip: !canRunOnTerminal() && 'util-linux script is not installed' }, async () => {
  // An event on an id PostHog will not merge: transform warns of it from its thread.
  const anonymous = '{"event":"e","distinct_id":"anonymous","timestamp":"2024-01-01T00:00:00Z"}';
  const ws = await workspace({ files: 4, perFile: 200, badLines: [...badLines, anonymous], extra: 'threads: 2' });
  const run = await runCliOnTerminal(['run', ws.pipeline, '--log-level', 'info']);
  assert.equal(run.code, 0, run.output);
  const screen = await screenLines(run.output);
  const bars = screen.filter((l) => /^(extract|transform|load)\s+\[/.test(l));
  assert.deepEqual(bars.map((l) => l.split(/\s/)[0]), ['extract', 'transform', 'load'], screen.join('\n'));
  assert.match(bars[0]!, /^extract\s+\[[^\]]+\] 4\/4 chunks \| 4 files \| \d+ files\/s \| ETA \S+$/);
  assert.match(bars[1]!, /^transform \[[^\]]+\] 4\/4 chunks \| 805 records \| \d+ records\/s \| ETA \S+$/);
  assert.match(bars[2]!, /^load\s+\[[^\]]+\] 4\/4 chunks \| 801 events \| \d+ events\/s \| ETA \S+$/);
  const logs = screen.filter((l) => l.includes('{"level"'));
  assert.ok(logs.length >= 24, `every chunk's start and commit in every stage is logged (${logs.length})`);
  for (const line of logs) assert.doesNotThrow(() => JSON.parse(line), `a log line on a line of its own: ${line}`);
  assert.ok(logs.some((l) => (JSON.parse(l) as { level: number; msg: string }).level === 40 && /refuses to merge/.test(l)), 'a transform thread\'s warning is printed above the bars too');
  assert.ok(screen.indexOf(bars[0]!) > screen.lastIndexOf(logs.at(-1)!), 'the bars stay below the logs');
  assert.ok(screen.includes('dry run: 801 events written to the outbox, nothing sent'));
});

test('on a terminal with --log-file, the logs go to the file and the terminal shows only the bars and the end', { skip: !canRunOnTerminal() && 'util-linux script is not installed' }, async () => {
  const ws = await workspace({ files: 2, perFile: 50 });
  const logFile = path.join(ws.dir, 'run.log');
  const run = await runCliOnTerminal(['run', ws.pipeline, '--log-file', logFile]);
  assert.equal(run.code, 0, run.output);
  const screen = await screenLines(run.output);
  assert.equal(screen.filter((l) => /^(extract|transform|load)\s+\[/.test(l)).length, 3);
  assert.ok(!screen.some((l) => l.includes('{"level"')));
  assert.match(await readFile(logFile, 'utf8'), /"msg":"chunk committed"/);
});

test('HOGPORT_PROGRESS=never keeps a terminal free of bars, and without a terminal there are none', { skip: !canRunOnTerminal() && 'util-linux script is not installed' }, async () => {
  const ws = await workspace({ files: 2, perFile: 50 });
  const never = await runCliOnTerminal(['run', ws.pipeline], { env: { HOGPORT_PROGRESS: 'never' } });
  assert.equal(never.code, 0, never.output);
  assert.ok(!(await screenLines(never.output)).some((l) => /chunks \|/.test(l)));
  const piped = await runCli(['run', ws.pipeline, '--force']);
  assert.doesNotMatch(piped.stderr, /chunks \|/);
  assert.match(piped.stderr, /^dry run: 100 events written to the outbox, nothing sent$/m);
});

test('a stop on a terminal says so above the bars, which stay one line per stage, and exits 130', { skip: !canRunOnTerminal() && 'util-linux script is not installed' }, async (t) => {
  const key = 'phc_run_end_stop';
  // Slow answers keep the load going long enough to stop it mid-run.
  const posthog = await startFakePostHog({ token: key, delayMs: 200 });
  t.after(() => posthog.close());
  const ws = await workspace({ files: 3, perFile: 100, destination: `{ type: posthog, host: "${posthog.url}", batchMaxEvents: 10, concurrency: 1 }` });
  const run = startCliOnTerminal(['run', ws.pipeline], { env: { POSTHOG_PROJECT_API_KEY: key } });
  const pid = await run.pid;
  const deadline = Date.now() + 20_000;
  while (!/load\s+\[[^\]]*\] 0\/3 chunks \| [1-9]\d* events/.test(run.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  process.kill(pid, 'SIGINT');
  const { code, output } = await run.done;
  assert.equal(code, 130, output);
  const screen = await screenLines(output);
  assert.ok(screen.includes('hogport: SIGINT: stopping; chunks in progress are left uncommitted, and the next run redoes them'), screen.join('\n'));
  assert.deepEqual(screen.filter((l) => /^(extract|transform|load)\s+\[/.test(l)).map((l) => l.split(/\s/)[0]), ['extract', 'transform', 'load']);
  assert.match(screen.join('\n'), /^\d+ events sent to /m);
});
