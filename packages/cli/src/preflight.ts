import { Manifest, readControl } from '@hogport/manifest';
import { stageListing, type MigrationSnapshot } from '@hogport/state';
import { POSTHOG_GUIDANCE } from '@hogport/event';
import { planLoad, type LoadPlan } from '@hogport/runner';
import pLimit from 'p-limit';
import type { Context } from './context.js';


export type { LoadPlan };

/**
 * The load's plan (`planLoad`) over the transform manifests of the chunks about to be loaded: from
 * a snapshot that read them, or else those a listing shows, so chunks not transformed yet cost no request.
 */
export async function loadPlan(ctx: Context, ids: readonly string[], last: ReadonlySet<string> = new Set(), now: number = Date.now(), snapshot?: MigrationSnapshot): Promise<LoadPlan> {
  const limit = pLimit(16);
  const listed = snapshot ? undefined : (await stageListing(ctx.store, ctx.layout, 'transform')).manifests;
  const manifests = await Promise.all(ids.map((id) => limit(async () => snapshot
    ? snapshot.manifest('transform', id)
    : listed!.has(id) ? (await readControl(ctx.store, ctx.layout.manifest('transform', id), Manifest).catch(() => undefined))?.value : undefined)));
  const byId = new Map(ids.map((id, i) => [id, manifests[i]]));
  return planLoad(ids, (id) => byId.get(id), last, now);
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
