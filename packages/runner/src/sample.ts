import { createHash } from 'node:crypto';
import type { Logger } from '@hogport/common';
import type { Layout } from '@hogport/layout';
import { encodeControl, Manifest, readControl, SampleScope } from '@hogport/manifest';
import type { Store } from '@hogport/store';
import { storedLines } from './inspect.js';

/**
 * Names the rule below in the scope and the load's config: a changed rule is another sample, and
 * the lanes it loaded say so instead of mixing two draws.
 */
export const SAMPLE_RULE = 'any-id-sha256-v1';
const HASH_PREFIX = 'hogport.sample.v1:';

/** Link events as PostHog has them, and the property naming the id merged into distinct_id. */
const LINKS: Record<string, '$anon_distinct_id' | 'alias'> = { $identify: '$anon_distinct_id', $create_alias: 'alias', $merge_dangerously: 'alias' };

/**
 * Which distinct ids a sampled load sends: whole persons, drawn the same way on every run.
 *
 * A person is a cluster of ids linked by identity events (union-find over the linked ids). An id is
 * drawn when the first 32 bits of sha256("hogport.sample.v1:" + id) fall below percent/100 × 2^32;
 * a cluster is in the sample when any of its ids is drawn, and an id never linked to another stands
 * for itself. The draw depends on the ids alone, so chunking and the order data comes in change
 * nothing, and it is monotone: data added later can only join clusters, so a person once sent stays
 * in the sample. The price is a lean towards persons with many ids (more draws), which the scope's
 * cluster counts make visible.
 *
 * Memory holds the linked ids only; the others are drawn as the load meets them.
 */
export class SampleMembership {
  private readonly parent = new Map<string, string>();
  private readonly threshold: number;
  private roots: Set<string> | undefined;

  constructor(readonly percent: number) {
    this.threshold = (percent / 100) * 2 ** 32;
  }

  /** Whether one id on its own is drawn. */
  drawn(id: string): boolean {
    return createHash('sha256').update(HASH_PREFIX).update(id).digest().readUInt32BE(0) < this.threshold;
  }

  link(a: string, b: string): void {
    if (a === b) return;
    this.roots = undefined;
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(rb, ra);
  }

  /** Whether events of this distinct id are in the sample. */
  has(id: string): boolean {
    if (!this.parent.has(id)) return this.drawn(id);
    return this.sampledRoots().has(this.find(id));
  }

  /** The linked persons and ids, and how many of them the sample holds. */
  counts(): { clusters: { total: number; sampled: number }; linkedIds: { total: number; sampled: number } } {
    const sampled = this.sampledRoots();
    const all = new Set<string>();
    let ids = 0;
    for (const id of this.parent.keys()) {
      const root = this.find(id);
      all.add(root);
      if (sampled.has(root)) ids += 1;
    }
    return { clusters: { total: all.size, sampled: sampled.size }, linkedIds: { total: this.parent.size, sampled: ids } };
  }

  private sampledRoots(): Set<string> {
    if (this.roots) return this.roots;
    const roots = new Set<string>();
    for (const id of this.parent.keys()) if (this.drawn(id)) roots.add(this.find(id));
    this.roots = roots;
    return roots;
  }

  private find(id: string): string {
    if (!this.parent.has(id)) { this.parent.set(id, id); return id; }
    let root = id;
    for (let up = this.parent.get(root)!; up !== root; up = this.parent.get(root)!) root = up;
    // Path compression: the next look-up of any id on the way is one step.
    for (let at = id; at !== root;) { const up = this.parent.get(at)!; this.parent.set(at, root); at = up; }
    return root;
  }
}

/** A sampled load's lane: its percent, and once drawn (drawSample) who is in it. */
export interface SampleLane {
  id: string;
  percent: number;
  members?: SampleMembership;
}

export interface DrawOptions {
  store: Store;
  layout: Layout;
  lane: SampleLane;
  /** Every transformed chunk the load may send, derived ones (identities, persons) included. */
  chunks: readonly string[];
  /** The chunks of person properties, counted in the scope. */
  persons?: readonly string[];
  log: Logger;
}

/**
 * Decides the sample from the identity links the load would send (the merge's identities chunks,
 * and links events carry themselves, as a PostHog export has them), records its scope in the store
 * and gives the lane its members.
 */
export async function drawSample(options: DrawOptions): Promise<SampleScope> {
  const { store, layout, lane } = options;
  const members = new SampleMembership(lane.percent);
  for (const chunk of options.chunks) {
    for (const key of await eventsKeys(store, layout, chunk)) {
      for await (const line of storedLines(store, key)) {
        // Most lines are no link: a substring test spares them the parse.
        if (!line.includes('"$identify"') && !line.includes('"$create_alias"') && !line.includes('"$merge_dangerously"')) continue;
        const e = parsed(line);
        const prop = e && LINKS[e.event as string];
        const other = prop ? (e.properties as Record<string, unknown> | undefined)?.[prop] : undefined;
        if (typeof e?.distinct_id === 'string' && typeof other === 'string' && other !== '') members.link(e.distinct_id, other);
      }
    }
  }
  const persons = { total: 0, sampled: 0 };
  for (const chunk of options.persons ?? []) {
    for (const key of await eventsKeys(store, layout, chunk)) {
      for await (const line of storedLines(store, key)) {
        const id = parsed(line)?.distinct_id;
        if (typeof id !== 'string') continue;
        persons.total += 1;
        if (members.has(id)) persons.sampled += 1;
      }
    }
  }
  const scope: SampleScope = {
    kind: 'hogport.sample', version: 1, migration: layout.migration, sample: lane.id, percent: lane.percent, rule: SAMPLE_RULE,
    at: new Date().toISOString(), ...members.counts(), persons,
  };
  await store.write(layout.scope(lane.id), encodeControl(SampleScope, scope));
  options.log.info({ sample: lane.id, clusters: scope.clusters, persons }, 'sample drawn');
  lane.members = members;
  return scope;
}

async function eventsKeys(store: Store, layout: Layout, chunk: string): Promise<string[]> {
  const m = await readControl(store, layout.manifest('transform', chunk), Manifest);
  return m ? m.value.outputs.filter((o) => o.role === 'events').map((o) => o.key) : [];
}

function parsed(line: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
