import { HogportError } from '@hogport/common';
import { deleteOrphans, findOrphans, type Orphan, type OrphanScan } from '@hogport/state';
import type { Context } from './context.js';

export interface GcOptions {
  minAgeHours?: string;
  delete?: boolean;
  json?: boolean;
}

/** Attempts younger than this may belong to a worker still running: a day is well past any lease. */
export const DEFAULT_MIN_AGE_HOURS = 24;

export interface GcResult extends OrphanScan {
  store: string;
  minAgeHours: number;
  /** Set when `--delete` removed the orphans. */
  deleted?: { objects: number; bytes: number };
}

function minAgeHours(value: string | undefined): number {
  if (value === undefined) return DEFAULT_MIN_AGE_HOURS;
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || n < 0) throw new HogportError('E_USAGE', `--min-age-hours takes a number of hours, 0 or more, not "${value}"`, { exitCode: 2 });
  return n;
}

/** Finds the migration's orphaned outputs and, with `--delete`, removes them. */
export async function gcCommand(ctx: Context, opts: GcOptions): Promise<GcResult> {
  const hours = minAgeHours(opts.minAgeHours);
  const scan = await findOrphans({ store: ctx.store, layout: ctx.layout, minAgeMs: hours * 3_600_000 });
  const result: GcResult = { ...scan, store: ctx.store.url, minAgeHours: hours };
  if (opts.delete && scan.orphans.length > 0) {
    const done = await deleteOrphans(ctx.store, scan.orphans);
    ctx.log.info({ deleted: done.deleted, bytes: done.bytes }, 'orphaned outputs deleted');
    result.deleted = { objects: done.deleted, bytes: done.bytes };
  } else if (opts.delete) {
    result.deleted = { objects: 0, bytes: 0 };
  }
  return result;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u += 1; }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

function whose(o: Orphan): string {
  if (!('stage' in o)) return o.kind === 'merge-part' ? `merge: group ${o.of}'s part for ${o.to}, superseded (digest ${o.digest.slice(0, 12)})` : `merge: ${o.of}'s answers to ${o.to}, superseded (digest ${o.digest.slice(0, 12)})`;
  return `${o.sample ? `sample ${o.sample} ` : ''}${o.stage} ${o.chunk} attempt ${o.attempt}`;
}

/** Orphans the text listing names one by one; a long listing is for --json. */
const SHOWN = 200;

/** What `hogport gc` prints: each orphan with whose it was, the total, and why the rest stays. */
export function formatGc(r: GcResult, file: string): string {
  const lines: string[] = [`migration ${r.migration} in ${r.store}`, ''];
  const age = `${r.minAgeHours} h`;
  if (r.orphans.length === 0) {
    lines.push(`no orphaned outputs: every stage output is named by a manifest, held by a live claim or checkpoint, or from an attempt younger than ${age}, and every merge object is named by its group's index or shard's record, or younger than ${age}`);
  } else {
    lines.push(`${r.orphans.length} orphaned outputs (no manifest, merge index or shard record names them, no live claim holds their attempt, older than ${age}), ${formatBytes(r.bytes)} in all:`);
    const shown = r.orphans.slice(0, SHOWN);
    const width = Math.max(...shown.map((o) => o.key.length));
    for (const o of shown) lines.push(`  ${o.key.padEnd(width)}  ${formatBytes(o.bytes).padStart(9)}  ${whose(o)}`);
    if (r.orphans.length > SHOWN) lines.push(`  … and ${r.orphans.length - SHOWN} more (--json lists every one)`);
  }
  const { named, held, young, unsure } = r.kept;
  lines.push('', `kept: ${named} named by a manifest, checkpoint, merge index or shard record, ${held} of attempts a live claim or checkpoint holds, ${young} younger than ${age}, ${unsure} of chunks with an unreadable control object`);
  for (const key of r.unreadable) lines.push(`  unreadable: ${key} (every output of its chunk is kept)`);
  lines.push('');
  if (r.deleted) lines.push(`deleted ${r.deleted.objects} objects, ${formatBytes(r.deleted.bytes)}`);
  else if (r.orphans.length > 0) lines.push(`nothing deleted: hogport gc ${file} --delete removes them`);
  return lines.join('\n');
}
