import { HogportError, HOGPORT_VERSION, timeKey } from '@hogport/common';
import { Manifest, readControl, type OutputRef } from '@hogport/manifest';
import type { PostHogEvent, Source, TransformContext, TransformSpec } from '@hogport/pipeline';
import type { Layout } from '@hogport/layout';
import { isUnreadableRaw, markUnreadable } from '@hogport/state';
import type { Store } from '@hogport/store';
import type { StageJob } from '../job.js';
import { digestOf } from './digest.js';
import { personPromotionPairs } from '@hogport/conventions';
import { Changed } from '@hogport/event';
import { rawFileInputs } from './raw.js';
import { decideRecord, recordRules } from './record.js';
import { IdentityFacts } from './summary.js';
import { EventTally } from './tally.js';
import { GzipLinesWriter, rejectLine } from './writer.js';

/** Bumped when hogport's own transform logic changes output, so done chunks become stale. */
const TRANSFORM_LOGIC = 3;

/**
 * Transform: turns a chunk's raw files into PostHog events and rejects. Up to date while the raw
 * bytes (by sha256) and the transform configuration are unchanged. The raw bytes are verified
 * against the extract manifest as they stream through.
 */
export function transformJob(opts: { source: Source; spec: TransformSpec; store: Store; layout: Layout }): StageJob {
  const { source, spec, store, layout } = opts;
  const migration = layout.migration;
  const configHash = digestOf({ logic: TRANSFORM_LOGIC, migration, source: source.type, sourceConfig: source.transformConfig(), transform: spec });
  const expectFrom = (_chunk: string, up: Manifest | undefined) =>
    up ? { inputDigest: digestOf(up.outputs.map((o) => [layout.rawName(o.key), o.sha256])), configHash } : undefined;
  return {
    stage: 'transform',
    // Manifests are small; reading one per chunk keeps the state derivable from the store alone.
    expect: async (chunk) => expectFrom(chunk, (await readControl(store, layout.manifest('extract', chunk), Manifest))?.value),
    expectFrom,
    async process(ctx) {
      const up = await readControl(ctx.store, ctx.layout.manifest('extract', ctx.chunk), Manifest);
      if (!up) throw new HogportError('E_NOT_EXTRACTED', `chunk ${ctx.chunk} has no extract manifest`);
      const raw = up.value.outputs.filter((o) => o.role === 'raw');
      const tctx: TransformContext = { migration, chunk: ctx.chunk, transform: spec, hogportVersion: HOGPORT_VERSION, log: ctx.log, signal: ctx.signal };
      const events = new GzipLinesWriter(ctx.store, ctx.layout.events(ctx.chunk, ctx.attempt), 'events');
      const rejects = new GzipLinesWriter(ctx.store, ctx.layout.rejects('transform', ctx.chunk, ctx.attempt), 'rejects');
      const counts = { in: 0, out: 0, rejected: 0, dropped: 0, events: 0 };
      const droppedBy: Record<string, number> = {};
      const rejectedBy: Record<string, number> = {};
      const changedBy: Record<string, number> = {};
      let min: string | undefined;
      let max: string | undefined;
      let minKey: string | undefined;
      let maxKey: string | undefined;
      const tally = new EventTally();
      const rules = recordRules(source, spec, tctx);
      // Facts that span chunks, for sources whose users move between anonymous and known ids.
      const facts = source.identities ? new IdentityFacts() : undefined;
      // One pair of lists for every event's promoted values: the fold reads them at once.
      const promoted = { set: [] as unknown[], once: [] as unknown[] };
      const promotedOf = (e: PostHogEvent, signature: string) => {
        if (signature === '') return undefined;
        personPromotionPairs(e, signature, promoted.set, promoted.once);
        return promoted;
      };
      const files = rawFileInputs(ctx.store, layout, raw);
      const writers = [events, rejects];
      const outputs: OutputRef[] = [];
      try {
        for await (const outcome of source.transform(files, tctx)) {
          ctx.signal.throwIfAborted();
          counts.in += 1;
          const d = decideRecord(outcome, rules);
          if (d.kind === 'reject') { counts.rejected += 1; rejectedBy[d.code] = (rejectedBy[d.code] ?? 0) + 1; await rejects.writeLine(rejectLine(d)); continue; }
          if (d.kind === 'drop') {
            counts.dropped += 1; droppedBy[d.rule] = (droppedBy[d.rule] ?? 0) + 1;
            if (d.learned && facts) {
              for (let i = 0; i < d.learned.events.length; i++) facts.addEvent(d.learned.events[i]!, promotedOf(d.learned.events[i]!, d.learned.signatures[i]!));
              for (const l of d.learned.links) facts.addLink(l);
            }
            continue;
          }
          if (d.kind === 'person') {
            // decideRecord refuses a person from a source without identities, so facts are there.
            facts!.addPerson(d.person);
            for (const l of d.links) facts!.addLink(l);
            counts.out += 1;
            for (const c of d.changed) changedBy[c] = (changedBy[c] ?? 0) + 1;
            continue;
          }
          const { lines, events: kept, signatures } = d;
          for (let i = 0; i < lines.length; i++) {
            const flushing = events.writeLine(lines[i]!);
            if (flushing) await flushing;
            const ts = kept[i]!.timestamp;
            tally.add(kept[i]!.event, ts);
            const key = timeKey(ts);
            if (minKey === undefined || key < minKey) { min = ts; minKey = key; }
            if (maxKey === undefined || key > maxKey) { max = ts; maxKey = key; }
            // The person's view of the event, as PostHog's ingestion promotes it: ~persons follows the same rules.
            if (facts) facts.addEvent(kept[i]!, promotedOf(kept[i]!, signatures[i]!));
          }
          if (facts) for (const l of d.links) facts.addLink(l);
          counts.out += 1;
          counts.events += lines.length;
          if (d.changed) for (const c of d.changed) changedBy[c] = (changedBy[c] ?? 0) + 1;
          if (counts.in % 5000 === 0) ctx.progress(5000);
        }
        ctx.progress(counts.in % 5000);
        if (changedBy[Changed.nonMergeableDistinctId]) ctx.log.warn({ chunk: ctx.chunk, records: changedBy[Changed.nonMergeableDistinctId] }, 'events whose distinct_id PostHog refuses to merge (anonymous, null, 0…): PostHog puts every one of them on one person (transform.nonMergeableIds: reject refuses them)');
        outputs.push(await events.finish(), await rejects.finish());
        if (facts) {
          const summary = new GzipLinesWriter(ctx.store, ctx.layout.summary(ctx.chunk, ctx.attempt), 'summary');
          writers.push(summary);
          for (const line of facts.lines()) await summary.writeLine(line);
          outputs.push(await summary.finish());
        }
      } catch (err) {
        // Every writer, finished or not: an open upload left behind is an unfinished multipart upload on S3.
        for (const w of writers) w.abort(err as Error);
        // Raw data that cannot be read as stored is fetched again by the next extract, a few times.
        if (isUnreadableRaw(err) && !ctx.signal.aborted) throw await markUnreadable(ctx.store, ctx.layout, ctx.chunk, up.value.attempt, err);
        throw err;
      }
      return {
        inputs: raw.map((o) => ({ key: o.key, sha256: o.sha256, bytes: o.bytes })),
        outputs,
        counts: { unit: 'records', ...counts, droppedBy, rejectedBy, ...(Object.keys(changedBy).length > 0 ? { changedBy } : {}) },
        // Every raw byte was verified against the extract manifest on the way through.
        bytes: { in: raw.reduce((a, o) => a + o.bytes, 0), out: outputs.reduce((a, o) => a + o.bytes, 0) },
        ...(min !== undefined && max !== undefined ? { eventTime: { min, max } } : {}),
        ...tally.fields(),
      };
    },
  };
}
