import { STAGES, type Layout, type Stage } from '@hogport/layout';
import type { Store } from '@hogport/store';

/** What a listing of one stage's control objects shows, chunk by chunk. */
interface StageListing {
  manifests: Set<string>;
  failures: Set<string>;
}

async function listing(store: Store, layout: Layout, stage: Stage): Promise<StageListing> {
  const out: StageListing = { manifests: new Set(), failures: new Set() };
  for (const kind of ['manifests', 'failures'] as const) {
    const prefix = kind === 'manifests' ? layout.manifests(stage) : layout.failures(stage);
    for await (const obj of store.list(prefix)) {
      const id = layout.chunkOf(kind, stage, obj.key);
      if (id) out[kind].add(id);
    }
  }
  return out;
}

/**
 * The chunks whose upstream work is neither committed nor failed, so that a worker of an earlier
 * stage may still commit it: what a stage started before its upstream waits for. A chunk whose
 * upstream failed is blocked, not coming: waiting for it would only hang until someone re-runs
 * the failed stage. Read from listings, a few requests whatever the number of chunks.
 */
export async function upstreamOutstanding(store: Store, layout: Layout, stage: Stage, chunks: readonly string[]): Promise<string[]> {
  const chain = STAGES.slice(0, STAGES.indexOf(stage)).reverse();
  if (chain.length === 0) return [];
  const listings = await Promise.all(chain.map((s) => listing(store, layout, s)));
  return chunks.filter((chunk) => {
    const [nearest, ...further] = listings;
    if (nearest!.manifests.has(chunk) || nearest!.failures.has(chunk)) return false;
    // Not done upstream yet: coming, unless a stage before it failed the chunk.
    for (const l of further) {
      if (l.manifests.has(chunk)) return true;
      if (l.failures.has(chunk)) return false;
    }
    return true;
  });
}
