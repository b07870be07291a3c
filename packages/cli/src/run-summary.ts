import type { Stage } from '@hogport/layout';
import type { Counts, Manifest, SampleScope } from '@hogport/manifest';
import type { ChunkOutcome } from '@hogport/runner';
import { scopeText } from './sample.js';

/** Where a run's events went: PostHog at a host, or the dry-run outbox in the store. */
export type SummaryDestination = { type: 'posthog'; host: string } | { type: 'dry-run'; outbox: string };

/** What the end of a run is made of: its outcomes, and the manifests of the chunks it did. */
export interface RunFacts {
  /** The definition as the user named it, for the commands the summary suggests. */
  definition: string;
  stages: readonly Stage[];
  outcomes: readonly ChunkOutcome[];
  destination: SummaryDestination;
  /** The store's location, which every key below is relative to. */
  store: string;
  /** Counts of the chunks this run transformed, and the key of their rejects. */
  transformed: ReadonlyArray<{ chunk: string; counts: Counts; rejects?: string }>;
  /** Counts of the chunks this run loaded, with the keys of the events refused while loading. */
  loaded: ReadonlyArray<{ chunk: string; counts: Counts; rejects: readonly string[]; delta?: Manifest['delta'] }>;
  /** "stage chunk" of chunks this run did whose manifest could not be read back: left out of the counts. */
  unread?: readonly string[];
  /** A sampled run (`--sample`): its lane, and its scope once the load drew it. */
  sample?: { id: string; percent: number; scope?: Pick<SampleScope, 'percent' | 'clusters' | 'linkedIds' | 'persons'> };
  /** The report written at the end of the run: where it is, or why it could not be written. */
  report?: { location: string } | { error: string };
}

/** Reject codes named at the end of a run; `hogport status` and the rejects hold the rest. */
const TOP_CODES = 5;
/** Rejects objects named one by one before the summary names their folder instead. */
const LISTED_OBJECTS = 3;

/**
 * The end of a run, in lines for stderr: each stage's chunks, what was sent and where, what
 * transform made of the records, and the commonest reasons records were rejected with the command
 * that shows them. A pure function of the run's outcomes and manifests, so what it says is testable
 * without a run.
 */
export function summaryLines(f: RunFacts): string[] {
  const lines = f.sample ? sampleLines(f) : [];
  lines.push(...stageLines(f.outcomes, f.stages));
  if (f.stages.includes('load')) lines.push(...sentLines(f), ...reloadLines(f));
  if (f.stages.includes('transform')) lines.push(...recordLines(f));
  lines.push(...loadRejectLines(f));
  if (f.unread?.length) lines.push(`not counted above: ${f.unread.length} chunk(s) whose manifest could not be read back (${f.unread.slice(0, 3).join(', ')}); hogport status shows them`);
  if (f.report) lines.push('location' in f.report ? `report: ${f.report.location}` : `report: not written (${f.report.error}); the run is not affected, and hogport report ${shellWord(f.definition)} tries again`);
  return lines;
}

/** One line per stage: chunks done, already done, failed and waiting; then each failure. */
export function stageLines(outcomes: readonly ChunkOutcome[], stages: readonly Stage[]): string[] {
  const lines: string[] = [];
  for (const stage of stages) {
    const of = (r: ChunkOutcome['result']) => outcomes.filter((o) => o.stage === stage && o.result === r).length;
    const extra = [
      of('waiting') ? `, ${of('waiting')} waiting for an earlier stage` : '',
      of('blocked') ? `, ${of('blocked')} waiting for their identities` : '',
      of('refused') ? `, ${of('refused')} refused` : '',
      of('lost') ? `, ${of('lost')} taken over by another worker` : '',
    ].join('');
    lines.push(`${stage}: ${of('done')} done, ${of('skipped')} already done, ${of('failed')} failed${extra}`);
  }
  for (const o of outcomes.filter((x) => x.result === 'failed' || x.result === 'refused')) {
    lines.push(`  ${o.stage} ${o.chunk}: ${o.error?.code ?? ''} ${o.error?.message ?? ''}`);
  }
  return lines;
}

/** What a sampled run sent: whose events, and how many it passed over. */
function sampleLines(f: RunFacts): string[] {
  const s = f.sample!;
  const passed = sum(f.loaded.map((l) => l.counts.droppedBy.notSampled ?? 0));
  return [
    `sampled run ${s.id}: a test migration of ${s.percent}% of persons, in its own lane; the full load is unaffected`,
    s.scope ? `  scope: ${scopeText(s.scope)}` : '  scope: not drawn yet (the load has not started)',
    ...(f.stages.includes('load') ? [`  ${passed} events of persons outside the sample passed over in this run`] : []),
  ];
}

function sentLines(f: RunFacts): string[] {
  const events = sum(f.loaded.map((l) => l.counts.out));
  if (f.destination.type === 'dry-run') {
    return [`dry run: ${events} events written to the outbox, nothing sent`, `  outbox: ${f.destination.outbox}`];
  }
  return [`${events} events sent to ${f.destination.host}`];
}

/**
 * Chunks loaded again after their events changed (re-extracts, late events): what was already
 * loaded, what was new, and the changed events kept out with the command that sends them.
 */
function reloadLines(f: RunFacts): string[] {
  const again = f.loaded.filter((l) => l.delta);
  if (again.length === 0) return [];
  const d = again.map((l) => l.delta!);
  const kept = sum(d.map((x) => x.changed - x.changedResent));
  const lines = [`load: ${again.length} chunk(s) loaded before were compared with what they loaded: ${sum(d.map((x) => x.alreadyLoaded))} events already loaded (not sent again), ${sum(d.map((x) => x.new))} new, ${sum(d.map((x) => x.changed))} changed (${sum(d.map((x) => x.changedResent))} sent again)`];
  if (kept > 0) {
    const twice = sum(d.map((x) => (x.changedResent === 0 ? x.changedKey : 0)));
    const chunks = again.filter((l) => l.delta!.changed > l.delta!.changedResent).map((l) => l.chunk);
    lines.push(`load: ${kept} events changed since they were loaded (same uuid, other content) were kept out, in ${chunks.length} chunk(s); hogport load ${shellWord(f.definition)} --resend-changed sends them${twice > 0 ? ` (${twice} with another name, distinct_id or day: PostHog would keep both versions)` : ''}`);
    for (const c of chunks.slice(0, LISTED_OBJECTS)) lines.push(`  hogport inspect ${shellWord(f.definition)} ${shellWord(c)} --changed`);
    if (chunks.length > LISTED_OBJECTS) lines.push(`  and ${chunks.length - LISTED_OBJECTS} more chunk(s); hogport status lists them`);
  }
  return lines;
}

function recordLines(f: RunFacts): string[] {
  if (f.transformed.length === 0) return ['records: no chunk transformed in this run'];
  const c = f.transformed.map((t) => t.counts);
  const total = { in: sum(c.map((x) => x.in)), out: sum(c.map((x) => x.out)), events: sum(c.map((x) => x.events ?? x.out)), rejected: sum(c.map((x) => x.rejected)), dropped: sum(c.map((x) => x.dropped)) };
  const droppedBy = tally(c.map((x) => x.droppedBy));
  const rules = ranked(droppedBy).map(([rule, n]) => `${rule} ${n}`).join(', ');
  const lines = [
    `records: ${total.in} in, ${total.out} out as ${total.events} events, ${total.rejected} rejected, ${total.dropped} dropped${rules ? ` (${rules})` : ''}`,
  ];
  if (total.rejected === 0) return lines;
  const byCode = tally(c.map((x) => x.rejectedBy ?? {}));
  const codes = ranked(byCode);
  lines.push(`rejected: ${total.rejected} records; see them with hogport inspect:`);
  const width = Math.max(...codes.slice(0, TOP_CODES).map(([code]) => code.length));
  for (const [code, n] of codes.slice(0, TOP_CODES)) {
    lines.push(`  ${code.padEnd(width)}  ${String(n).padStart(String(codes[0]![1]).length)}  ${inspectCommand(f.definition, mostOf(f.transformed, code), code)}`);
  }
  const rest = codes.slice(TOP_CODES);
  if (rest.length > 0) lines.push(`  and ${sum(rest.map(([, n]) => n))} more under ${rest.length} other code(s)`);
  const unnamed = total.rejected - sum(codes.map(([, n]) => n));
  if (unnamed > 0) lines.push(`  and ${unnamed} whose code this run could not read`);
  lines.push(...objectLines('rejects', f.store, f.transformed.filter((t) => t.counts.rejected > 0 && t.rejects).map((t) => t.rejects!)));
  return lines;
}

function loadRejectLines(f: RunFacts): string[] {
  const refused = sum(f.loaded.map((l) => l.counts.rejected));
  if (refused === 0) return [];
  return [`load: ${refused} events refused while loading (invalid, or refused by PostHog)`, ...objectLines('rejects', f.store, f.loaded.flatMap((l) => l.rejects))];
}

/** The objects by key, the first few, then the folder they share. */
function objectLines(what: string, store: string, keys: readonly string[]): string[] {
  if (keys.length === 0) return [];
  const sorted = [...keys].sort();
  const lines = sorted.slice(0, LISTED_OBJECTS).map((k) => `  ${what}: ${storePath(store, k)}`);
  if (sorted.length > LISTED_OBJECTS) lines.push(`  and ${sorted.length - LISTED_OBJECTS} more under ${storePath(store, commonFolder(sorted))}`);
  return lines;
}

/** The command that shows a chunk's rejects of one code, as a user would type it. */
export function inspectCommand(definition: string, chunk: string, code: string): string {
  return `hogport inspect ${shellWord(definition)} ${shellWord(chunk)} --reject ${shellWord(code)}`;
}

/** A key's full location: the store's URL and the key. */
export function storePath(store: string, key: string): string {
  return `${store.replace(/\/+$/, '')}/${key}`;
}

function mostOf(transformed: RunFacts['transformed'], code: string): string {
  let best = transformed[0]!;
  for (const t of transformed) if ((t.counts.rejectedBy?.[code] ?? 0) > (best.counts.rejectedBy?.[code] ?? 0)) best = t;
  return best.chunk;
}

function commonFolder(keys: readonly string[]): string {
  let prefix = keys[0]!;
  for (const k of keys) while (!k.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.slice(0, prefix.lastIndexOf('/') + 1);
}

function shellWord(s: string): string {
  return /^[\w@%+=:,./~-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function tally(maps: ReadonlyArray<Record<string, number>>): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of maps) for (const [k, n] of Object.entries(m)) out.set(k, (out.get(k) ?? 0) + n);
  return out;
}

/** Most first; ties by name, so the same run always reads the same. */
function ranked(m: Map<string, number>): Array<[string, number]> {
  return [...m.entries()].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}
