import { STAGES, type Layout, type Stage } from '@hogport/layout';
import { stageListing, type StageListing } from '@hogport/state';
import type { Store } from '@hogport/store';

/**
 * Where the upstream work of chunks a stage waits for stands: `ready`, committed by the stage just
 * before (since the stage last looked); `coming`, neither committed nor failed, so that a worker of
 * an earlier stage may still commit it. A chunk whose upstream failed is in neither: waiting for it
 * would only hang until someone re-runs the failed stage. Read from listings, a few requests whatever
 * the number of chunks.
 */
export async function upstreamProgress(store: Store, layout: Layout, stage: Stage, chunks: readonly string[]): Promise<{ ready: string[]; coming: string[] }> {
  const out = { ready: [] as string[], coming: [] as string[] };
  const chain = STAGES.slice(0, STAGES.indexOf(stage)).reverse();
  if (chain.length === 0) return out;
  const listings = await Promise.all(chain.map((s) => stageListing(store, layout, s)));
  const [nearest, ...further] = listings as [StageListing, ...StageListing[]];
  for (const chunk of chunks) {
    if (nearest.manifests.has(chunk)) { out.ready.push(chunk); continue; }
    if (nearest.failures.has(chunk)) continue;
    // Not done by the stage before: coming, unless a stage before that failed the chunk.
    let blocked = false;
    for (const l of further) {
      if (l.manifests.has(chunk)) break;
      if (l.failures.has(chunk)) { blocked = true; break; }
    }
    if (!blocked) out.coming.push(chunk);
  }
  return out;
}
