import { createHash } from 'node:crypto';
import { HogportError } from '@hogport/common';
import { Manifest, readControl } from '@hogport/manifest';
import { selectChunks } from '@hogport/pipeline';
import { MigrationProfile, type ProfileJSON } from '@hogport/profile';
import { chunkRecords } from '@hogport/runner';
import { listedChunks } from '@hogport/state';
import type { Context } from './context.js';
import { positiveFlag } from './flags.js';

export interface ProfileOptions {
  chunks?: string;
  /** Profile this many of the extracted chunks, picked by their ids' hashes: the same ones every run. */
  sampleChunks?: string;
  json?: boolean;
}

/**
 * `hogport profile`: every extracted chunk (or a deterministic sample of them) read through the
 * source and the steps transform applies, in memory, folded into one `MigrationProfile`. Reads the
 * store only (the command then keeps the profile for the report, and writes nothing else), so it can
 * run while extract still runs.
 */
export async function profileMigration(ctx: Context, file: string, opts: ProfileOptions): Promise<ProfileJSON> {
  const extracted = [...await listedChunks(ctx.store, ctx.layout, 'extract')].sort();
  if (extracted.length === 0) throw new HogportError('E_USAGE', `nothing is extracted yet: run hogport extract ${file} (or a day of it, with --chunks) first`, { exitCode: 2 });
  let chosen = opts.chunks ? selectChunks(extracted, opts.chunks) : extracted;
  if (chosen.length === 0) throw new HogportError('E_USAGE', `--chunks ${opts.chunks} names no extracted chunk (like ${extracted.slice(0, 3).join(', ')})`, { exitCode: 2 });
  const of = chosen.length;
  if (opts.sampleChunks !== undefined) {
    const n = positiveFlag(opts.sampleChunks, '--sample-chunks')!;
    // The chunks whose ids hash lowest: spread over the whole range, and the same on every run.
    const rank = (id: string) => createHash('sha256').update(id).digest('hex');
    chosen = [...chosen].sort((a, b) => (rank(a) < rank(b) ? -1 : 1)).slice(0, n).sort();
  }
  const profile = new MigrationProfile();
  const def = ctx.pipeline.definition;
  for (const chunk of chosen) {
    const extract = await readControl(ctx.store, ctx.layout.manifest('extract', chunk), Manifest);
    if (!extract) continue;
    for await (const r of chunkRecords({ source: ctx.source, spec: def.transform, store: ctx.store, layout: ctx.layout, chunk, extract: extract.value, log: ctx.log })) profile.add(r.decision);
  }
  const perMinute = def.destination.type === 'posthog' && def.destination.maxEventsPerMinute !== 'none' ? def.destination.maxEventsPerMinute : undefined;
  return profile.toJSON({ chunks: { profiled: chosen.length, of }, ...(perMinute ? { eventsPerMinute: perMinute } : {}) });
}
