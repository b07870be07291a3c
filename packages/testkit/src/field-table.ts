import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { DELIBERATE, KNOWN_DEFECTS, valueAt, type RecordOutcome } from './conformance.js';
import { asPersonSees } from './person-view.js';

/**
 * The README's field tables (source field | PostHog's way | hogport | record), made checkable. The
 * hogport cell is a list of claims separated by `;`, each about what hogport sends for the record
 * the last cell names:
 *
 * - `` `properties.$host` ``: that field holds the source field's value;
 * - `` `properties.$device_type` = `"Mobile"` ``: it holds this JSON value;
 * - `` `$session_id` exists ``, `` no `properties.$city` ``;
 * - `` rejected `missing_identity` ``, `` dropped `amplitude_session_event` ``.
 *
 * A path may start with the output it is about: `$identify:`, `$create_alias:`, `$groupidentify:` or `~persons:`
 * (the person's final `$set` event); without one it is the record's own event. `(todo: id)` marks a
 * row whose behaviour is a known defect (a key of KNOWN_DEFECTS): it is reported as a todo while it
 * fails. `(deliberate: id)` names the entry of DELIBERATE that says why hogport differs from PostHog.
 */
export interface FieldRow {
  /** The line in the document, for messages. */
  line: number;
  cells: string[];
  /** The source field's path in the record (the first code span of the first cell). */
  source: string;
  record: string;
  claims: Claim[];
  todo?: string;
  deliberate?: string;
}

export type Claim =
  | { kind: 'value'; output: ClaimOutput; path: string; equals?: unknown }
  | { kind: 'exists' | 'absent'; output: ClaimOutput; path: string }
  | { kind: 'rejected' | 'dropped'; code: string };
export type ClaimOutput = 'event' | '$identify' | '$create_alias' | '$groupidentify' | '~persons';

const code = /`([^`]+)`/g;

function splitRow(line: string): string[] {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
}

function target(spec: string): { output: ClaimOutput; path: string } {
  const m = /^(\$identify|\$create_alias|\$groupidentify|~persons):(.+)$/.exec(spec);
  return m ? { output: m[1] as ClaimOutput, path: m[2]! } : { output: 'event', path: spec };
}

/** One claim of a hogport cell, or an error saying why it cannot be read. */
export function parseClaim(text: string): Claim {
  const t = text.trim();
  let m: RegExpExecArray | null;
  if ((m = /^(rejected|dropped) `([^`]+)`$/.exec(t))) return { kind: m[1] as 'rejected' | 'dropped', code: m[2]! };
  if ((m = /^no `([^`]+)`$/.exec(t))) return { kind: 'absent', ...target(m[1]!) };
  if ((m = /^`([^`]+)` exists$/.exec(t))) return { kind: 'exists', ...target(m[1]!) };
  if ((m = /^`([^`]+)` = `(.+)`$/.exec(t))) return { kind: 'value', ...target(m[1]!), equals: JSON.parse(m[2]!) as unknown };
  if ((m = /^`([^`]+)`$/.exec(t))) return { kind: 'value', ...target(m[1]!) };
  throw new Error(`cannot read the claim "${t}"`);
}

/**
 * The rows of the table whose header row starts with `firstHeader` (e.g. "Amplitude field").
 * Throws when there is no such table, or a row cannot be read: a table the test cannot read is
 * not kept true.
 */
export function parseFieldTable(markdown: string, firstHeader: string): FieldRow[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim().startsWith('|') && splitRow(l)[0] === firstHeader);
  if (start < 0) throw new Error(`no table with the header "${firstHeader}"`);
  const width = splitRow(lines[start]!).length;
  const rows: FieldRow[] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++) {
    const cells = splitRow(lines[i]!);
    if (cells.length !== width) throw new Error(`line ${i + 1}: ${cells.length} cells, the header has ${width}`);
    const source = [...cells[0]!.matchAll(code)][0]?.[1];
    const record = [...cells[width - 1]!.matchAll(code)][0]?.[1];
    if (!source || !record) throw new Error(`line ${i + 1}: the first cell must name the source field and the last the record, in code spans`);
    let hogport = cells[width - 2]!;
    const marks: Record<string, string> = {};
    hogport = hogport.replace(/\((todo|deliberate): ([a-z0-9-]+)\)/g, (_, kind: string, id: string) => { marks[kind] = id; return ''; });
    const claims = hogport.split(';').map((c) => c.trim()).filter(Boolean).map((c) => {
      try { return parseClaim(c); } catch (e) { throw new Error(`line ${i + 1}: ${(e as Error).message}`); }
    });
    if (claims.length === 0) throw new Error(`line ${i + 1}: the hogport cell makes no claim`);
    if (marks.todo && !KNOWN_DEFECTS.some((d) => d.id === marks.todo)) throw new Error(`line ${i + 1}: (todo: ${marks.todo}) is not a known defect`);
    if (marks.deliberate && !DELIBERATE.some((d) => d.id === marks.deliberate)) throw new Error(`line ${i + 1}: (deliberate: ${marks.deliberate}) is not a listed deliberate difference`);
    rows.push({ line: i + 1, cells, source, record, claims, ...(marks.todo ? { todo: marks.todo } : {}), ...(marks.deliberate ? { deliberate: marks.deliberate } : {}) });
  }
  if (rows.length === 0) throw new Error(`the table "${firstHeader}" has no rows`);
  return rows;
}

function sentOf(outcome: RecordOutcome, output: ClaimOutput): Record<string, any> | undefined {
  // The merge step's identity events: a record's link is sent as one or the other.
  if (output === '$identify' || output === '$create_alias') return outcome.identifies.find((s) => s.event.event === output)?.event;
  if (output === '$groupidentify') return outcome.groupIdentifies[0]?.event;
  if (output === '~persons') return outcome.person?.event;
  return outcome.events[0]?.event;
}

/**
 * How a table's source-field paths are read from a record: a dotted path by default. A source whose
 * records keep fields in another shape (GA4's `event_params` as a list of typed slots) passes its own.
 */
export type SourceReader = (record: Record<string, unknown>, path: string) => unknown;

/** What is wrong with a row against the record it names and what hogport made of it: nothing when it holds. */
export function checkFieldRow(row: FieldRow, record: Record<string, unknown> | undefined, outcome: RecordOutcome | undefined, read: SourceReader = valueAt): string[] {
  if (!record || !outcome) return [`line ${row.line}: no record "${row.record}" was run`];
  const problems: string[] = [];
  const sourceValue = read(record, row.source);
  // A row about a field its record lacks would hold whatever hogport does with the field (a `no …`
  // claim passes on nothing), unless the row is about the field being missing.
  if (sourceValue === undefined && !/\bmissing\b/.test(row.cells[0]!)) problems.push(`the record "${row.record}" has no ${row.source}`);
  for (const c of row.claims) {
    if ('code' in c) {
      const got = c.kind === 'rejected' ? outcome.rejected.map((r) => r.code) : outcome.dropped;
      if (!got.includes(c.code)) problems.push(`expected ${c.kind} ${c.code}, hogport has ${JSON.stringify({ rejected: outcome.rejected.map((r) => r.code), dropped: outcome.dropped, events: outcome.events.length })}`);
      continue;
    }
    const sent = sentOf(outcome, c.output);
    const value = sent === undefined ? undefined : valueAt(c.output === 'event' && /^\$set(_once)?\./.test(c.path) ? asPersonSees(sent) : sent, c.path);
    const where = `${c.output === 'event' ? '' : `${c.output}:`}${c.path}`;
    if (c.kind === 'absent') { if (value !== undefined) problems.push(`expected no ${where}, hogport has ${JSON.stringify(value)}`); continue; }
    if (c.kind === 'exists') { if (value === undefined) problems.push(`expected ${where}, hogport has none`); continue; }
    const want = 'equals' in c ? c.equals : sourceValue;
    if (!isDeepStrictEqual(value, want)) problems.push(`expected ${where} = ${JSON.stringify(want)}, hogport has ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
  }
  return problems.map((p) => `line ${row.line} (${row.source}): ${p}`);
}

/**
 * One subtest per row of a README field table, checked against a run of the named records: passing
 * when every claim holds, a todo naming the defect when the row is marked `(todo: id)` and does not
 * hold yet, failing otherwise.
 */
export async function checkFieldTable(t: TestContext, markdown: string, firstHeader: string, records: Record<string, Record<string, unknown>>, outcomes: Record<string, RecordOutcome>, options: { read?: SourceReader } = {}): Promise<void> {
  for (const row of parseFieldTable(markdown, firstHeader)) {
    const problems = checkFieldRow(row, records[row.record], outcomes[row.record], options.read);
    const name = `line ${row.line}: ${row.cells[0]} (${row.record})`;
    const todo = row.todo ? KNOWN_DEFECTS.find((d) => d.id === row.todo) : undefined;
    await t.test(name, problems.length && todo ? { todo: `${todo.id}: ${todo.defect}` } : {}, () => {
      if (problems.length) throw new Error(problems.join('\n'));
    });
  }
}

/** A record of a field-table file that is a line of a published sample rather than written out. */
interface SampleRef { sample: string; line: number }
const isSampleRef = (v: unknown): v is SampleRef => typeof v === 'object' && v !== null && typeof (v as SampleRef).sample === 'string' && Number.isInteger((v as SampleRef).line) && Object.keys(v).length === 2;

/**
 * A package's `fixtures/field-table.json`: `{ records: { name: record } }`, where a record may instead be
 * `{ "sample": "segment/spec-full-messages.jsonl", "line": 3 }`, line 3 (from 1) of a published sample
 * under `samplesDir`, so a row can be checked on real data without a copy of it drifting from the
 * sample. Other top-level keys are returned as they are. A reference to no line fails: a row whose
 * record is missing would check nothing.
 */
export async function readFieldTableRecords(file: string, samplesDir: string): Promise<{ records: Record<string, Record<string, unknown>>; [key: string]: unknown }> {
  const parsed = JSON.parse(await readFile(file, 'utf8')) as { records: Record<string, unknown>; [key: string]: unknown };
  const records: Record<string, Record<string, unknown>> = {};
  for (const [name, r] of Object.entries(parsed.records)) {
    if (!isSampleRef(r)) { records[name] = r as Record<string, unknown>; continue; }
    const line = (await readFile(path.join(samplesDir, r.sample), 'utf8')).split('\n')[r.line - 1];
    if (!line?.trim()) throw new Error(`${path.basename(file)}: record "${name}" names line ${r.line} of ${r.sample}, which has none`);
    records[name] = JSON.parse(line) as Record<string, unknown>;
  }
  return { ...parsed, records };
}
