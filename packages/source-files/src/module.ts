import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HogportError, normalizeTimestamp } from '@hogport/common';
import { RejectCode } from '@hogport/event';
import type { PostHogEvent, RecordResult } from '@hogport/pipeline';

/**
 * What a mapping module exports as default: a function from one record to an event, several events,
 * `null` (drop it), or `{ reject: "why" }`. Whatever it throws becomes a reject with the message.
 *
 *   import type { MapRecord } from '@hogport/source-files';
 *   const map: MapRecord = (r) => ({ event: r.kind, distinct_id: r.user, timestamp: r.at, properties: {} });
 *   export default map;
 */
export type MapRecord = (record: any, context: { file: string; line?: number }) =>
  MappedEvent | MappedEvent[] | null | { reject: string } | Promise<MappedEvent | MappedEvent[] | null | { reject: string }>;

/** An event a module returns; a missing uuid is derived from the event's content. */
export type MappedEvent = Omit<PostHogEvent, 'uuid'> & { uuid?: string };

/**
 * Loads a mapping module: JavaScript as it is, TypeScript transpiled first (one file, with the
 * TypeScript compiler hogport is built with).
 */
export async function loadMappingModule(file: string): Promise<MapRecord> {
  let url = pathToFileURL(file).href;
  if (!(await stat(file).catch(() => undefined))?.isFile()) {
    throw new HogportError('E_MAPPING_MODULE', `the mapping module ${file} does not exist: check source.module (a path relative to the definition)`, { exitCode: 2 });
  }
  if (/\.[cm]?ts$/.test(file)) {
    let ts: typeof import('typescript');
    try {
      ts = (await import('typescript')).default;
    } catch {
      throw new HogportError('E_MAPPING_MODULE', `${file} is TypeScript, but the TypeScript compiler is not installed; compile it to JavaScript or install typescript`, { exitCode: 2 });
    }
    const out = ts.transpileModule(await readFile(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }, fileName: file, reportDiagnostics: true });
    const broken = out.diagnostics?.find((d) => d.category === ts.DiagnosticCategory.Error);
    if (broken) {
      throw new HogportError('E_MAPPING_MODULE', `the mapping module ${file} does not compile: ${ts.flattenDiagnosticMessageText(broken.messageText, ' ')}`, { exitCode: 2 });
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'hogport-mapping-'));
    const js = path.join(dir, `${path.basename(file).replace(/\.[cm]?ts$/, '')}.mjs`);
    await writeFile(js, out.outputText);
    url = pathToFileURL(js).href;
  }
  let mod: { default?: unknown };
  try {
    mod = await import(url) as { default?: unknown };
  } catch (err) {
    throw new HogportError('E_MAPPING_MODULE', `the mapping module ${file} cannot be loaded: ${(err as Error).message}`, { exitCode: 2 });
  }
  if (typeof mod.default !== 'function') throw new HogportError('E_MAPPING_MODULE', `the mapping module ${file} must export a function as default`, { exitCode: 2 });
  return mod.default as MapRecord;
}

/** Runs a module's function on one record, turning what it returns or throws into a result. */
export async function runMapper(map: MapRecord, record: unknown, context: { file: string; line?: number }, uuidOf: (e: MappedEvent) => string): Promise<RecordResult> {
  let out: Awaited<ReturnType<MapRecord>>;
  try {
    out = await map(record, context);
  } catch (err) {
    return { code: RejectCode.mappingFailed, reason: `the mapping module threw: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (out === null || out === undefined) return { drop: 'mapping_module' };
  if (!Array.isArray(out) && typeof out === 'object' && 'reject' in out) return { code: 'mapping_rejected', reason: String(out.reject) };
  const list = Array.isArray(out) ? out : [out as MappedEvent];
  const events: PostHogEvent[] = [];
  for (const e of list) {
    if (!e || typeof e !== 'object' || typeof e.event !== 'string' || e.distinct_id === undefined || typeof e.timestamp !== 'string') {
      return { code: 'mapping_invalid', reason: 'the mapping module returned an event without event, distinct_id or timestamp' };
    }
    const timestamp = normalizeTimestamp(e.timestamp);
    if (!timestamp) return { code: 'mapping_invalid', reason: `the mapping module returned timestamp "${e.timestamp.slice(0, 40)}", which is not ISO 8601` };
    const event = { ...e, timestamp, distinct_id: String(e.distinct_id), properties: e.properties ?? {} };
    events.push({ ...event, uuid: e.uuid ?? uuidOf(event) });
  }
  return { events };
}
