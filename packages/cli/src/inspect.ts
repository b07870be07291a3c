import { HogportError } from '@hogport/common';
import { Manifest, readControl, type OutputRef } from '@hogport/manifest';
import type { Position, SourceRecord } from '@hogport/pipeline';
import { chunkRecords, rejectLine, storedLines, uuidsPresent, type ChunkRecord } from '@hogport/runner';
import { inspectChunk, keptOutText, listedChunks, type ChunkState } from '@hogport/state';
import { stageJobs, type Context } from './context.js';
import { positiveFlag } from './flags.js';

export interface InspectOptions {
  record?: string;
  distinctId?: string;
  /** `true` for `--reject` without a code: the summary. */
  reject?: string | true;
  limit?: string;
  json?: boolean;
  /** The loaded events whose content changed since they were loaded, as the chunk's last load found them. */
  changed?: boolean;
}

/** A reject as a rejects object holds it. */
interface Reject { code: string; reason: string; position: Position; record: string; truncated?: true }

/** The record of a reject shown in a table's example column is cut to this many characters. */
const EXAMPLE_CHARS = 160;

const usage = (message: string) => new HogportError('E_USAGE', message, { exitCode: 2 });

/**
 * `hogport inspect`: one chunk's source records beside what transform makes of them (worked out
 * again in memory, the way transform does, and checked against the committed events), or the
 * chunk's rejects by code. Reads the store only.
 */
export async function inspectCommand(ctx: Context, file: string, chunk: string, opts: InspectOptions): Promise<{ code: number; text: string }> {
  const modes = [opts.record !== undefined, opts.distinctId !== undefined, opts.reject !== undefined, opts.changed === true].filter(Boolean).length;
  if (modes > 1) throw usage('inspect takes one of --record, --distinct-id, --reject and --changed at a time');
  const limit = positiveFlag(opts.limit, '--limit') ?? 20;
  const run = (stage: string) => `hogport ${stage} ${file} --chunks ${chunk}`;
  const planned = await ctx.source.plan();
  const known = planned.map((c) => c.id);
  if (!known.includes(chunk) && !(await listedChunks(ctx.store, ctx.layout, 'extract')).has(chunk)) {
    const like = known.slice(0, 3).join(', ');
    throw usage(known.length === 0 ? `chunk "${chunk}" is not a chunk of this pipeline: it plans none` : `chunk "${chunk}" is not a chunk of this pipeline; it plans ${known.length} (like ${like}): hogport plan ${file} lists them`);
  }
  if (opts.changed) return showChanged(ctx, file, chunk, limit, Boolean(opts.json));
  const extract = await readControl(ctx.store, ctx.layout.manifest('extract', chunk), Manifest);
  if (!extract) throw usage(`chunk ${chunk} is not extracted yet: run ${run('extract')} first`);
  const jobs = stageJobs(ctx, planned);
  const transformed = await inspectChunk(ctx.store, ctx.layout, 'transform', chunk, await jobs.transform.expect(chunk));
  const view: View = { ctx, chunk, extract: extract.value, transformed, run, limit, json: Boolean(opts.json) };
  if (opts.record !== undefined) return showRecord(view, positiveFlag(opts.record, '--record')!);
  if (opts.distinctId !== undefined) return showDistinctId(view, opts.distinctId);
  if (typeof opts.reject === 'string') return showRejects(view, opts.reject);
  return showSummary(view);
}

interface View {
  ctx: Context;
  chunk: string;
  extract: Manifest;
  transformed: ChunkState;
  run: (stage: string) => string;
  limit: number;
  json: boolean;
}

const records = (v: View) => chunkRecords({ source: v.ctx.source, spec: v.ctx.pipeline.definition.transform, store: v.ctx.store, layout: v.ctx.layout, chunk: v.chunk, extract: v.extract, log: v.ctx.log });

/** The committed transform output of a role, if the chunk has one. */
function committed(v: View, role: OutputRef['role']): OutputRef | undefined {
  return v.transformed.manifest?.value.outputs.find((o) => o.role === role);
}

/** How the committed transform output stands, in words: what a cross-check against it means. */
function outputNote(v: View): string {
  const s = v.transformed;
  if (!s.manifest) return `chunk ${v.chunk} is not transformed yet: shown is what ${v.run('transform')} would write`;
  const attempt = `attempt ${s.manifest.value.attempt}`;
  return s.status === 'stale' ? `the committed transform output (${attempt}) is stale (${s.reason ?? 'its input or configuration changed'}): ${v.run('transform')} writes it again` : `checked against the committed transform output (${attempt})`;
}

async function showRecord(v: View, n: number): Promise<{ code: number; text: string }> {
  let found: ChunkRecord | undefined;
  let seen = 0;
  for await (const r of records(v)) {
    seen = r.index;
    // Stops the reading: nothing past the record asked for is read.
    if (r.index === n) { found = r; break; }
  }
  if (!found) throw usage(`chunk ${v.chunk} has ${seen} record${seen === 1 ? '' : 's'}: --record takes 1 to ${seen}`);
  const check = await crossCheck(v, [found]);
  if (v.json) return { code: 0, text: JSON.stringify({ chunk: v.chunk, ...recordJson(found, check), output: outputNote(v) }, null, 2) };
  return { code: 0, text: [...recordText(found, check), '', outputNote(v)].join('\n') };
}

async function showDistinctId(v: View, id: string): Promise<{ code: number; text: string }> {
  const shown: ChunkRecord[] = [];
  let more = false;
  for await (const r of records(v)) {
    // The source's events, before dropEvents and the finish step: a record dropped or rejected for this user shows too.
    const o = r.outcome;
    const carries = o.kind === 'events' ? o.events.some((e) => e.distinct_id === id) : r.decision.kind === 'person' && r.decision.person.distinctId === id;
    if (!carries) continue;
    if (shown.length === v.limit) { more = true; break; }
    shown.push(r);
  }
  const check = await crossCheck(v, shown);
  const tail = shown.length === 0 ? `no record of chunk ${v.chunk} has an event with distinct_id ${JSON.stringify(id)}` : more ? `the first ${v.limit} records with distinct_id ${JSON.stringify(id)}; there are more (--limit shows more)` : `${shown.length} record${shown.length === 1 ? '' : 's'} with distinct_id ${JSON.stringify(id)}`;
  if (v.json) return { code: 0, text: JSON.stringify({ chunk: v.chunk, distinctId: id, records: shown.map((r) => recordJson(r, check)), more, output: outputNote(v) }, null, 2) };
  const blocks = shown.map((r) => recordText(r, check).join('\n'));
  return { code: 0, text: [...blocks.flatMap((b) => [b, '']), tail, outputNote(v)].join('\n') };
}

/** The rejects of the chunk: the committed rejects object, or before transform, what it would hold. */
async function* rejectsOf(v: View): AsyncGenerator<Reject> {
  const ref = committed(v, 'rejects');
  if (ref) {
    for await (const line of storedLines(v.ctx.store, ref.key)) yield JSON.parse(line) as Reject;
    return;
  }
  for await (const r of records(v)) if (r.decision.kind === 'reject') yield JSON.parse(rejectLine(r.decision)) as Reject;
}

async function showRejects(v: View, code: string): Promise<{ code: number; text: string }> {
  const shown: Reject[] = [];
  let count = 0;
  const codes = new Set<string>();
  for await (const r of rejectsOf(v)) {
    codes.add(r.code);
    if (r.code !== code) continue;
    count += 1;
    if (shown.length < v.limit) shown.push(r);
  }
  const source = v.transformed.manifest ? `the committed rejects of chunk ${v.chunk} (attempt ${v.transformed.manifest.value.attempt})` : `the rejects transform would write for chunk ${v.chunk} (not transformed yet)`;
  if (v.json) return { code: 0, text: JSON.stringify({ chunk: v.chunk, code, count, rejects: shown }, null, 2) };
  if (count === 0) {
    const others = [...codes].sort();
    return { code: 0, text: `no reject of code ${code} in ${source}${others.length ? `; its codes are ${others.join(', ')}` : '; it has none'}` };
  }
  const lines = shown.flatMap((r) => [`${positionText(r.position)}: ${r.reason}`, indent(pretty(r.record) + (r.truncated ? '\n(cut: the record is longer than the rejects object keeps)' : '')), '']);
  lines.push(`${count} reject${count === 1 ? '' : 's'} of code ${code} in ${source}${count > shown.length ? `; the first ${shown.length} shown (--limit shows more)` : ''}`);
  return { code: 0, text: lines.join('\n') };
}

/** One event of a loaded chunk whose content changed since it was loaded, as load lists it. */
interface ChangedEvent { uuid: string; event: string; distinct_id: string; timestamp: string; position: number; keyChanged: boolean; resent: boolean }

/**
 * The events of a loaded chunk whose content changed since they were loaded (same uuid, other
 * content), from the list its last load wrote: which were kept out, and what sending them does.
 */
async function showChanged(ctx: Context, file: string, chunk: string, limit: number, json: boolean): Promise<{ code: number; text: string }> {
  const m = (await readControl(ctx.store, ctx.layout.manifest('load', chunk), Manifest))?.value;
  const list = m?.outputs.find((o) => o.role === 'changed');
  const shown: ChangedEvent[] = [];
  let count = 0;
  if (list) {
    for await (const line of storedLines(ctx.store, list.key)) {
      count += 1;
      if (shown.length < limit) shown.push(JSON.parse(line) as ChangedEvent);
    }
  }
  if (json) return { code: 0, text: JSON.stringify({ chunk, ...(m?.delta ? { delta: m.delta } : {}), count, changed: shown }, null, 2) };
  if (!m) return { code: 0, text: `chunk ${chunk} is not loaded yet: nothing it loaded can have changed` };
  if (!m.delta || count === 0) return { code: 0, text: `no event of chunk ${chunk} changed since it was loaded${m.delta ? ` (its last load found ${m.delta.alreadyLoaded} already loaded and ${m.delta.new} new)` : ''}` };
  const lines = [`events of chunk ${chunk} whose content changed since they were loaded (same uuid, other content):`];
  for (const e of shown) {
    const what = e.resent ? 'sent again' : 'kept out';
    const key = e.keyChanged ? '; its name, distinct_id or day changed: PostHog keeps both versions once it is sent' : '; PostHog keeps the newer version once it is sent';
    lines.push(`  ${e.uuid}  event #${e.position + 1}  ${JSON.stringify(e.event)}  distinct_id ${JSON.stringify(e.distinct_id)}  ${e.timestamp}  ${what}${e.resent ? '' : key}`);
  }
  if (count > shown.length) lines.push(`  and ${count - shown.length} more (--limit shows more)`);
  const kept = m.delta.changed - m.delta.changedResent;
  lines.push('', kept > 0 ? keptOutText(m.delta, file, chunk) : `${m.delta.changedResent} sent again by the last load (--resend-changed)`);
  return { code: 0, text: lines.join('\n') };
}

async function showSummary(v: View): Promise<{ code: number; text: string }> {
  const byCode = new Map<string, { count: number; example: Reject }>();
  let rejected = 0;
  for await (const r of rejectsOf(v)) {
    rejected += 1;
    const e = byCode.get(r.code);
    if (e) e.count += 1;
    else byCode.set(r.code, { count: 1, example: r });
  }
  const m = v.transformed.manifest?.value;
  const counts = m?.counts ?? await countsInMemory(v);
  const table = [...byCode.entries()].sort((a, b) => b[1].count - a[1].count || a[0].localeCompare(b[0]));
  if (v.json) {
    return { code: 0, text: JSON.stringify({
      chunk: v.chunk, transformed: Boolean(m), ...(m ? { attempt: m.attempt, status: v.transformed.status } : {}),
      counts: { in: counts.in, out: counts.out, rejected: counts.rejected, dropped: counts.dropped, ...(counts.events !== undefined ? { events: counts.events } : {}) },
      rejects: table.map(([code, e]) => ({ code, count: e.count, example: e.example })),
      droppedBy: counts.droppedBy,
    }, null, 2) };
  }
  const out: string[] = [];
  out.push(m ? `chunk ${v.chunk}, transform attempt ${m.attempt}${v.transformed.status === 'stale' ? ` (stale: ${v.transformed.reason ?? 'its input or configuration changed'})` : ''}` : `chunk ${v.chunk}, not transformed yet: what ${v.run('transform')} would make of it`);
  out.push(`records: ${counts.in} in, ${counts.out} kept${counts.events !== undefined ? ` as ${counts.events} events` : ''}, ${counts.rejected} rejected, ${counts.dropped} dropped`);
  out.push('');
  if (table.length === 0) out.push('rejects: none');
  else {
    out.push('rejects by code (hogport inspect … --reject CODE lists them):');
    const width = Math.max(4, ...table.map(([c]) => c.length));
    out.push(`  ${'code'.padEnd(width)}  ${'count'.padStart(7)}  example`);
    for (const [code, e] of table) out.push(`  ${code.padEnd(width)}  ${String(e.count).padStart(7)}  ${positionText(e.example.position)}: ${e.example.reason}; record ${clip(e.example.record)}`);
  }
  if (rejected !== counts.rejected) out.push(`warning: the rejects object holds ${rejected} rejects, but the manifest counts ${counts.rejected}`);
  out.push('');
  const drops = Object.entries(counts.droppedBy).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (drops.length === 0) out.push('drops: none');
  else {
    out.push('drops by rule:');
    const width = Math.max(...drops.map(([r]) => r.length));
    for (const [rule, count] of drops) out.push(`  ${rule.padEnd(width)}  ${String(count).padStart(7)}`);
  }
  return { code: 0, text: out.join('\n') };
}

/** The counts transform would commit, before it has: one pass over the chunk, holding nothing. */
async function countsInMemory(v: View): Promise<{ in: number; out: number; rejected: number; dropped: number; events: number; droppedBy: Record<string, number> }> {
  const c = { in: 0, out: 0, rejected: 0, dropped: 0, events: 0, droppedBy: {} as Record<string, number> };
  for await (const r of records(v)) {
    c.in += 1;
    const d = r.decision;
    if (d.kind === 'reject') c.rejected += 1;
    else if (d.kind === 'drop') { c.dropped += 1; c.droppedBy[d.rule] = (c.droppedBy[d.rule] ?? 0) + 1; } else {
      c.out += 1;
      if (d.kind === 'events') c.events += d.lines.length;
    }
  }
  return c;
}

/** Whether each shown event is in the committed events output, and each shown reject in the rejects. */
interface Check { events?: Set<string>; rejects?: Set<string> }

async function crossCheck(v: View, shown: ChunkRecord[]): Promise<Check> {
  const check: Check = {};
  const events = committed(v, 'events');
  if (events) check.events = await uuidsPresent(v.ctx.store, events.key, new Set(shown.flatMap((r) => (r.decision.kind === 'events' ? r.decision.events.map((e) => e.uuid) : []))));
  const rejects = committed(v, 'rejects');
  const wanted = new Set(shown.filter((r) => r.decision.kind === 'reject').map((r) => rejectKey(r.decision as Reject)));
  if (rejects && wanted.size > 0) {
    check.rejects = new Set();
    for await (const line of storedLines(v.ctx.store, rejects.key)) {
      const key = rejectKey(JSON.parse(line) as Reject);
      if (wanted.has(key)) check.rejects.add(key);
      if (check.rejects.size === wanted.size) break;
    }
  }
  return check;
}

const rejectKey = (r: { code: string; position: Position }) => `${r.code} ${JSON.stringify(r.position)}`;

function recordText(r: ChunkRecord, check: Check): string[] {
  const d = r.decision;
  const out = [`record ${r.index}: ${positionText(d.position)}`, 'source record:', indent(sourceText(r))];
  if (d.kind === 'events') {
    out.push(`became ${d.lines.length} event${d.lines.length === 1 ? '' : 's'}${d.changed?.length ? ` (changed: ${d.changed.join(', ')})` : ''}:`);
    for (const line of d.lines) {
      const uuid = (JSON.parse(line) as { uuid: string }).uuid;
      const mark = check.events ? (check.events.has(uuid) ? 'in the committed events output' : 'NOT in the committed events output (stale output)') : '';
      out.push(`event ${uuid}${mark ? `: ${mark}` : ''}`, indent(JSON.stringify(JSON.parse(line), null, 2)));
    }
    if (d.links.length > 0) out.push(`links for the identity merge: ${d.links.map((l) => `${l.anon} → ${l.user}`).join(', ')}`);
  } else if (d.kind === 'reject') {
    const mark = check.rejects ? (check.rejects.has(rejectKey(d)) ? ' (in the committed rejects)' : ' (NOT in the committed rejects: stale output)') : '';
    out.push(`rejected: ${d.code}${mark}`, indent(d.reason));
  } else if (d.kind === 'drop') {
    out.push(`dropped by rule ${d.rule}`);
  } else {
    out.push(`a person record for the identity merge (distinct_id ${d.person.distinctId}): it is sent by the merge step's ~persons chunk, not as an event of this chunk`);
  }
  return out;
}

function recordJson(r: ChunkRecord, check: Check): Record<string, unknown> {
  const d = r.decision;
  const base = { record: r.index, position: d.position, source: sourceValue(r) };
  if (d.kind === 'events') {
    return {
      ...base, outcome: 'events', ...(d.changed?.length ? { changed: d.changed } : {}),
      events: d.lines.map((l) => JSON.parse(l) as { uuid: string }).map((e) => (check.events ? { event: e, committed: check.events.has(e.uuid) } : { event: e })),
      ...(d.links.length > 0 ? { links: d.links } : {}),
    };
  }
  if (d.kind === 'reject') return { ...base, outcome: 'reject', code: d.code, reason: d.reason, ...(check.rejects ? { committed: check.rejects.has(rejectKey(d)) } : {}) };
  if (d.kind === 'drop') return { ...base, outcome: 'drop', rule: d.rule };
  return { ...base, outcome: 'person', person: d.person };
}

/** The record as read, pretty: its value, else (a reject of the reader) the text it was. */
function sourceText(r: ChunkRecord): string {
  const read = readOf(r);
  if (read) return JSON.stringify(read.value, null, 2) ?? String(read.value);
  return r.outcome.kind === 'reject' ? pretty(r.outcome.record) : '(the source gives no record text for this outcome)';
}

function sourceValue(r: ChunkRecord): unknown {
  const read = readOf(r);
  if (read) return JSON.parse(JSON.stringify(read.value) ?? 'null') as unknown;
  return r.outcome.kind === 'reject' ? r.outcome.record : null;
}

function readOf(r: ChunkRecord): SourceRecord | undefined {
  return r.outcome.kind === 'reject' ? undefined : r.outcome.read;
}

/** How a record's place is named: the file (and zip entry), then the line (the element of a JSON array, the row of Parquet). */
function positionText(p: Position | Record<string, unknown>): string {
  const pos = p as Position;
  if (typeof pos.file !== 'string') return JSON.stringify(p);
  const where = pos.entry ? `${pos.file} entry ${pos.entry}` : pos.file;
  return pos.line !== undefined ? `${where} line ${pos.line}` : where;
}

/** Record text as pretty JSON when it is JSON, else as it is. */
function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function clip(text: string): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > EXAMPLE_CHARS ? `${one.slice(0, EXAMPLE_CHARS)}…` : one;
}

function indent(text: string): string {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}

