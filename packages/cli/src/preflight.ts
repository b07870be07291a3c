import { Manifest, readControl } from '@hogport/manifest';
import { stageListing, type MigrationSnapshot } from '@hogport/state';
import { POSTHOG_GUIDANCE } from '@hogport/event';
import pLimit from 'p-limit';
import type { Context } from './context.js';


export interface LoadPlan {
  /** Chunk ids, oldest events first; chunks not transformed yet keep their planned order after them; chunks the source wants last (profiles) at the end. */
  order: string[];
  /** Events the transformed chunks hold. */
  events: number;
  /** Chunks holding events less than 48 hours old, and the latest such timestamp. */
  recent?: { chunks: number; latest: string };
}

/**
 * Reads the transform manifests of the chunks about to be loaded: their order, volume and age.
 * From a snapshot that read them, or else those a listing shows, so chunks not transformed yet cost
 * no request.
 */
export async function loadPlan(ctx: Context, ids: readonly string[], last: ReadonlySet<string> = new Set(), now: number = Date.now(), snapshot?: MigrationSnapshot): Promise<LoadPlan> {
  const limit = pLimit(16);
  const listed = snapshot ? undefined : (await stageListing(ctx.store, ctx.layout, 'transform')).manifests;
  const manifests = await Promise.all(ids.map((id) => limit(async () => snapshot
    ? snapshot.manifest('transform', id)
    : listed!.has(id) ? (await readControl(ctx.store, ctx.layout.manifest('transform', id), Manifest).catch(() => undefined))?.value : undefined)));
  let events = 0;
  let recent: LoadPlan['recent'];
  const keyed = ids.map((id, i) => ({ id, i, m: manifests[i] }));
  for (const { m } of keyed) {
    if (!m) continue;
    events += m.counts.events ?? m.counts.out;
    const max = m.eventTime?.max;
    if (max && Date.parse(max) > now - POSTHOG_GUIDANCE.minEventAgeMs) {
      recent = { chunks: (recent?.chunks ?? 0) + 1, latest: !recent || max > recent.latest ? max : recent.latest };
    }
  }
  // Oldest first keeps person properties right: a later event's $set lands after an earlier one's.
  keyed.sort((a, b) => {
    if (last.has(a.id) !== last.has(b.id)) return last.has(a.id) ? 1 : -1;
    const ta = a.m?.eventTime?.min;
    const tb = b.m?.eventTime?.min;
    if (ta && tb && ta !== tb) return ta < tb ? -1 : 1;
    if (Boolean(ta) !== Boolean(tb)) return ta ? -1 : 1;
    return a.i - b.i;
  });
  return { order: keyed.map((k) => k.id), events, ...(recent ? { recent } : {}) };
}

/** What the user should hear before a load starts. */
export function loadWarnings(plan: LoadPlan, perMinute: number | undefined): string[] {
  const out: string[] = [];
  if (plan.recent) {
    out.push(`${plan.recent.chunks} chunk(s) hold events less than 48 hours old (latest ${plan.recent.latest}). PostHog's guidance is to import only events at least 48 hours old: newer ones can race live ingestion of the same users.`);
  }
  if (plan.events > POSTHOG_GUIDANCE.approvalEvents) {
    out.push(`this load holds ${plan.events.toLocaleString('en-US')} events. PostHog asks you to contact them before importing more than 20M events (or more than 10k events/minute), or the project risks being rate limited.`);
  }
  if (perMinute !== undefined && perMinute > POSTHOG_GUIDANCE.approvalEventsPerMinute) {
    out.push(`--max-events-per-minute ${perMinute} is above 10,000: PostHog asks for approval above that rate.`);
  }
  return out;
}
