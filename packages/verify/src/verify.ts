import type { Layout } from '@hogport/layout';
import { Manifest, readControl } from '@hogport/manifest';
import type { Store } from '@hogport/store';
import pLimit from 'p-limit';
import { hogqlProperty, hogqlString, type PostHogQuery } from '@hogport/query';

export interface VerifyOptions {
  store: Store;
  layout: Layout;
  chunks: readonly string[];
  query: Pick<PostHogQuery, 'hogql'>;
  /** The property names transform tagged events with. */
  tags: { migration: string; chunk: string };
  /** Chunks per query: bounded so each query stays cheap, with a time range of just those chunks. */
  chunksPerQuery?: number;
  /** The load manifests, when a snapshot of the migration already read them; else each is read. */
  loadManifest?: (chunk: string) => Manifest | undefined;
}

export type ChunkVerdict = 'ok' | 'missing' | 'duplicated' | 'unexpected' | 'not-loaded';

export interface ChunkCheck {
  chunk: string;
  /** Events the load manifest says PostHog acknowledged. */
  expected: number;
  /** Rows PostHog holds for the chunk. */
  found: number;
  /** Distinct uuids among them. */
  uuids: number;
  /** Rows beyond one per uuid: re-sends PostHog has not merged (yet), or a load sent twice. */
  duplicates: number;
  /** Acknowledged events PostHog does not hold. */
  missing: number;
  /** Distinct uuids beyond what was sent: events from another load of the chunk with other uuids. */
  unexpected: number;
  verdict: ChunkVerdict;
}

export interface VerifyReport {
  migration: string;
  chunks: ChunkCheck[];
  totals: { expected: number; found: number; uuids: number; duplicates: number; missing: number; unexpected: number };
  ok: boolean;
}

/**
 * Compares every loaded chunk's manifest with what PostHog holds for it: one HogQL query per group
 * of chunks, filtered by the migration and chunk tags and bounded by the chunks' event times, so it
 * stays cheap on a large project. Catches what capture hides, such as a billing-limited project
 * answering 200 while dropping events.
 */
/**
 * The uuids PostHog should hold for a loaded chunk: those its load sent, or for a chunk loaded
 * again after its events changed, every uuid its ledger holds (sent by any of its loads).
 */
function expectedUuids(m: Manifest): number {
  const ledger = m.stats.uuidsLoaded;
  return m.delta && typeof ledger === 'number' ? ledger : m.counts.out;
}

export async function verifyMigration(options: VerifyOptions): Promise<VerifyReport> {
  const { store, layout } = options;
  const limit = pLimit(16);
  const known = options.loadManifest;
  const loaded = await Promise.all(options.chunks.map((chunk) => limit(async () => ({ chunk, m: known ? known(chunk) : (await readControl(store, layout.manifest('load', chunk), Manifest))?.value }))));
  const checks = new Map<string, ChunkCheck>();
  for (const { chunk, m } of loaded) {
    checks.set(chunk, { chunk, expected: m ? expectedUuids(m) : 0, found: 0, uuids: 0, duplicates: 0, missing: 0, unexpected: 0, verdict: m ? 'ok' : 'not-loaded' });
  }
  const timed = loaded.filter((l): l is { chunk: string; m: Manifest } => Boolean(l.m?.eventTime)).sort((a, b) => (a.m.eventTime!.min < b.m.eventTime!.min ? -1 : 1));
  const size = options.chunksPerQuery ?? 200;
  for (let i = 0; i < timed.length; i += size) {
    const group = timed.slice(i, i + size);
    const from = group.reduce((t, g) => (g.m.eventTime!.min < t ? g.m.eventTime!.min : t), group[0]!.m.eventTime!.min);
    const to = group.reduce((t, g) => (g.m.eventTime!.max > t ? g.m.eventTime!.max : t), group[0]!.m.eventTime!.max);
    const result = await options.query.hogql(countQuery(layout.migration, group.map((g) => g.chunk), from, to, options.tags));
    for (const row of result.results) {
      const check = checks.get(String(row[0]));
      if (!check) continue;
      check.found = Number(row[1]);
      check.uuids = Number(row[2]);
    }
  }
  for (const c of checks.values()) {
    if (c.verdict === 'not-loaded') continue;
    c.duplicates = c.found - c.uuids;
    c.missing = Math.max(0, c.expected - c.uuids);
    c.unexpected = Math.max(0, c.uuids - c.expected);
    c.verdict = c.missing > 0 ? 'missing' : c.unexpected > 0 ? 'unexpected' : c.duplicates > 0 ? 'duplicated' : 'ok';
  }
  const chunks = options.chunks.map((id) => checks.get(id)!);
  const sum = (f: (c: ChunkCheck) => number) => chunks.reduce((a, c) => a + f(c), 0);
  return {
    migration: layout.migration, chunks,
    totals: { expected: sum((c) => c.expected), found: sum((c) => c.found), uuids: sum((c) => c.uuids), duplicates: sum((c) => c.duplicates), missing: sum((c) => c.missing), unexpected: sum((c) => c.unexpected) },
    ok: chunks.every((c) => c.verdict === 'ok'),
  };
}

/** The per-chunk count query for a group of chunks within [from, to] (widened to whole seconds). */
export function countQuery(migration: string, chunks: readonly string[], from: string, to: string, tags: { migration: string; chunk: string }): string {
  const lower = new Date(Math.floor(Date.parse(from) / 1000) * 1000);
  const upper = new Date(Math.floor(Date.parse(to) / 1000) * 1000 + 1000);
  const dt = (d: Date) => `toDateTime(${hogqlString(d.toISOString().slice(0, 19).replace('T', ' '))}, 'UTC')`;
  return [
    `SELECT ${hogqlProperty(tags.chunk)} AS chunk, count() AS events, count(DISTINCT uuid) AS uuids`,
    'FROM events',
    `WHERE ${hogqlProperty(tags.migration)} = ${hogqlString(migration)}`,
    `AND timestamp >= ${dt(lower)} AND timestamp < ${dt(upper)}`,
    `AND ${hogqlProperty(tags.chunk)} IN (${chunks.map(hogqlString).join(', ')})`,
    'GROUP BY chunk',
    `LIMIT ${chunks.length}`,
  ].join('\n');
}

/** The report as a table a person reads. */
export function formatVerify(report: VerifyReport): string {
  const head = ['chunk', 'expected', 'found', 'uuids', 'duplicates', 'missing', 'unexpected', 'verdict'];
  const rows = report.chunks.map((c) => [c.chunk, c.expected, c.found, c.uuids, c.duplicates, c.missing, c.unexpected, c.verdict].map(String));
  const t = report.totals;
  rows.push(['total', t.expected, t.found, t.uuids, t.duplicates, t.missing, t.unexpected, report.ok ? 'ok' : 'MISMATCH'].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((v, i) => (i === 0 || i === r.length - 1 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ').trimEnd();
  const lines = [fmt(head), ...rows.map(fmt)];
  if (t.duplicates > 0) lines.push('duplicates: rows sharing a uuid. Exact re-sends (same uuid, event, distinct_id and day) collapse when PostHog merges; run verify again later to see whether they did.');
  if (t.missing > 0) lines.push('missing: events PostHog acknowledged but does not hold. Ingestion can lag by minutes; if it persists, check the project\'s billing limits, then re-load those chunks with --force (their uuids make the re-send safe).');
  if (t.unexpected > 0) lines.push('unexpected: uuids PostHog holds beyond those loaded; the chunk was loaded before with other events (another mapping), which PostHog cannot delete.');
  return lines.join('\n');
}
