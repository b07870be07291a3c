import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPipeline } from '@hogport/pipeline';
import { runCli } from '@hogport/testkit';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SOURCES = ['amplitude', 'amplitude-s3', 'files', 'ga4', 'heap', 'mixpanel', 'posthog', 'posthog-files', 'segment'];

/** The definition with its commented PostHog destination put in place of the dry run, as the user is told to. */
function switchedToPostHog(text: string): string {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => l === 'destination:');
  const commented = lines.findIndex((l) => l === '# destination:');
  let end = commented + 1;
  while (lines[end]?.startsWith('#   ')) end += 1;
  const posthog = lines.slice(commented, end).map((l) => l.slice(2));
  let to = from + 1;
  while (lines[to]?.startsWith('  ')) to += 1;
  return [...lines.slice(0, from), ...posthog, ...lines.slice(to)].join('\n');
}

/** The definition with its commented sample block uncommented, as the user is told to. */
function withSample(text: string): string {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => l === '# sample:');
  let end = from + 1;
  while (lines[end]?.startsWith('#   ')) end += 1;
  return [...lines.slice(0, from), ...lines.slice(from, end).map((l) => l.slice(2)), ...lines.slice(end)].join('\n');
}

test('init writes, for every source, a commented definition that is valid as it stands, with the dry run as its destination', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-init-'));
  const listed = await runCli(['init', 'no-such-source']);
  assert.equal(listed.code, 2);
  assert.match(listed.stderr, new RegExp(`knows ${SOURCES.join(', ')}`));
  for (const source of SOURCES) {
    const file = path.join(dir, `${source}.yaml`);
    const r = await runCli(['init', source, '--out', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`hogport check ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const text = await readFile(file, 'utf8');
    assert.match(text, /^# /, `${source}: starts with what it migrates`);
    assert.match(text, /hogport check migration\.yaml/);
    const loaded = await loadPipeline(file);
    assert.equal(loaded.definition.destination.type, 'dry-run', `${source} sends nothing until switched`);
    assert.equal(loaded.definition.source.type, source === 'amplitude-s3' ? 'amplitude' : source);
    // The PostHog destination the comment offers is a valid one too, once uncommented.
    await writeFile(file, switchedToPostHog(text));
    const switched = await loadPipeline(file);
    assert.equal(switched.definition.destination.type, 'posthog', source);
    assert.equal((switched.definition.destination as { apiKeyEnv: string }).apiKeyEnv, 'POSTHOG_PROJECT_API_KEY');
    // So is the sample's destination the comment offers.
    await writeFile(file, withSample(text));
    assert.equal((await loadPipeline(file)).definition.sample?.destination?.type, 'posthog', `${source}: the sample block is valid once uncommented`);
    const printed = await runCli(['init', source]);
    assert.equal(printed.stdout, text, 'without --out it prints the same definition');
  }
});

test('init never writes over a definition that is there, unless told to', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-init-'));
  const file = path.join(dir, 'migration.yaml');
  await writeFile(file, 'my edits\n');
  const refused = await runCli(['init', 'mixpanel', '--out', file]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /exists: hogport init does not write over a definition \(pass --force to replace it\)/);
  assert.equal(await readFile(file, 'utf8'), 'my edits\n');
  assert.equal((await runCli(['init', 'mixpanel', '--out', file, '--force'])).code, 0);
  assert.match(await readFile(file, 'utf8'), /type: mixpanel/);
});

test('the ready definitions in pipelines/ are the ones init writes', async () => {
  const ready = (await readdir(path.join(ROOT, 'pipelines'))).filter((f) => f.endsWith('.yaml') && f !== 'demo.yaml').map((f) => f.slice(0, -5)).sort();
  assert.deepEqual(ready, SOURCES);
  for (const source of SOURCES) assert.equal(await readFile(path.join(ROOT, 'pipelines', `${source}.yaml`), 'utf8'), (await runCli(['init', source])).stdout);
});

test('a definition from init, pointed at an export, migrates into the outbox and sends nothing', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-init-run-'));
  await cp(path.join(ROOT, 'pipelines', 'demo', 'export'), path.join(dir, 'export'), { recursive: true });
  const file = path.join(dir, 'migration.yaml');
  assert.equal((await runCli(['init', 'posthog-files', '--out', file])).code, 0);
  await writeFile(file, (await readFile(file, 'utf8')).replace(/location: \S+/, 'location: ./export').replace('store: ./hogport-data', 'store: ./store'));
  const run = await runCli(['run', file]);
  assert.equal(run.code, 0, run.stderr);
  const outbox = await readdir(path.join(dir, 'store', 'batch-export-replay', 'outbox'), { recursive: true });
  assert.ok(outbox.some((f) => f.endsWith('.json.gz') || f.endsWith('.gz')), `the outbox holds the request bodies: ${outbox.join(', ')}`);
});
