import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { gzipText, jsonLines, posthogEvents } from '@hogport/testkit';

/** A temp workspace with `files` PostHog-format export files and a pipeline definition over them. */
export async function workspace(options: { files: number; perFile: number; destination?: string; store?: string; extra?: string; badLines?: string[]; start?: Date }): Promise<{ dir: string; pipeline: string; storeDir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-e2e-'));
  await mkdir(path.join(dir, 'export'));
  for (let i = 0; i < options.files; i++) {
    const text = jsonLines(posthogEvents({ seed: 1000 + i, count: options.perFile, start: new Date((options.start?.getTime() ?? Date.UTC(2024, 0, 1)) + i * 86_400_000) }), i === 0 ? options.badLines ?? [] : []);
    const name = `part-${String(i).padStart(3, '0')}.jsonl${i % 2 ? '' : '.gz'}`;
    await writeFile(path.join(dir, 'export', name), i % 2 ? text : gzipText(text));
  }
  const pipeline = path.join(dir, 'pipeline.yaml');
  await writeFile(pipeline, [
    'id: e2e',
    `store: ${options.store ?? './store'}`,
    'source:',
    '  type: posthog-files',
    '  location: ./export',
    `destination: ${options.destination ?? '{ type: dry-run, batchMaxEvents: 100 }'}`,
    'concurrency: 2',
    options.extra ?? '',
  ].join('\n'));
  return { dir, pipeline, storeDir: path.join(dir, 'store') };
}

/** Every file under a directory, recursively, as relative paths. */
/** Every event a dry-run destination wrote under a migration's store folder, by outbox chunk, in file order. */
export async function outboxByChunk(migrationDir: string): Promise<Map<string, Array<Record<string, any>>>> {
  const byChunk = new Map<string, Array<Record<string, any>>>();
  for (const f of (await walk(migrationDir)).filter((x) => x.startsWith('outbox/'))) {
    const chunk = f.split('/')[1]!;
    const list = byChunk.get(chunk) ?? [];
    list.push(...(JSON.parse(gunzipSync(await readFile(path.join(migrationDir, f))).toString('utf8')) as { batch: Array<Record<string, any>> }).batch);
    byChunk.set(chunk, list);
  }
  return byChunk;
}

/** Every event a dry-run destination wrote under a migration's store folder. */
export async function outboxEvents(migrationDir: string): Promise<Array<Record<string, any>>> {
  return [...(await outboxByChunk(migrationDir)).values()].flat();
}

export async function walk(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(full, base)));
    else out.push(path.relative(base, full));
  }
  return out.sort();
}

export async function readJson(file: string): Promise<any> {
  return JSON.parse(await readFile(file, 'utf8'));
}

/** Decompressed text of every file under a directory, gzip or not, for searching. */
export async function allText(dir: string): Promise<string> {
  let text = '';
  for (const f of await walk(dir)) {
    const data = await readFile(path.join(dir, f));
    text += data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data).toString('utf8') : data.toString('utf8');
  }
  return text;
}

/** A `$groupidentify` that only creates its group (no properties): Amplitude sends one per group per hour. */
export const isGroupCreation = (e: { event?: unknown; properties?: Record<string, unknown> }): boolean =>
  e.event === '$groupidentify' && Object.keys((e.properties?.$group_set as object | undefined) ?? {}).length === 0;
export const groupOf = (e: { properties?: Record<string, unknown> }): string => `${String(e.properties?.$group_type)} ${String(e.properties?.$group_key)}`;

/** Every group the records name without properties was created, and once per chunk. */
export function assertGroupsCreatedOnce(sent: Array<{ event?: unknown; properties?: Record<string, unknown> }>, named: Set<string>): void {
  const creations = sent.filter(isGroupCreation);
  assert.deepEqual(new Set(creations.map(groupOf)), named, 'every group named without properties is created');
  const perChunk = creations.map((e) => `${String(e.properties?.$hogport_chunk)} ${groupOf(e)}`);
  assert.equal(new Set(perChunk).size, perChunk.length, 'once per chunk');
}
