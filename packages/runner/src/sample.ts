import { createHash } from 'node:crypto';
import type { Logger } from '@hogport/common';
import type { Layout } from '@hogport/layout';
import { encodeControl, Manifest, readControl, SampleScope } from '@hogport/manifest';
import type { Store } from '@hogport/store';
import { COMPONENT_SORT_CHARS, Components, type ComponentsOptions } from './components.js';
import { storedLines } from './inspect.js';
import { Cursor, ExternalSorter } from './spill.js';

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
 * A person is a cluster of ids linked by identity events (connected components of the linked ids).
 * An id is drawn when the first 32 bits of sha256("hogport.sample.v1:" + id) fall below
 * percent/100 × 2^32; a cluster is in the sample when any of its ids is drawn, and an id never linked
 * to another stands for itself. The draw depends on the ids alone, so chunking and the order data
 * comes in change nothing, and it is monotone: data added later can only join clusters, so a person
 * once sent stays in the sample. The price is a lean towards persons with many ids (more draws), which
 * the scope's cluster counts make visible.
 *
 * The clusters are found on local disk (Components), so the draw's memory does not grow with the
 * number of persons. What is held afterwards, for the load to ask about each event, is 16 bytes for
 * each id that is in the sample only through another id of its cluster: drawn ids and unlinked ids are
 * answered from their own hash, so a 1% sample of ten million linked ids holds a few MB.
 */
export class SampleMembership {
  private readonly threshold: number;

  /** `through`: the 128-bit hashes (high, low halves, sorted) of the ids in the sample only through their cluster. */
  constructor(readonly percent: number, private readonly through: { high: BigUint64Array; low: BigUint64Array } = { high: new BigUint64Array(0), low: new BigUint64Array(0) }) {
    this.threshold = (percent / 100) * 2 ** 32;
  }

  /** Whether one id on its own is drawn. */
  drawn(id: string): boolean {
    return digestOf(id).readUInt32BE(0) < this.threshold;
  }

  /** Whether events of this distinct id are in the sample. */
  has(id: string): boolean {
    const digest = digestOf(id);
    if (digest.readUInt32BE(0) < this.threshold) return true;
    const { high, low } = this.through;
    const h = digest.readBigUInt64BE(8);
    const l = digest.readBigUInt64BE(16);
    for (let lo = 0, hi = high.length; lo < hi;) {
      const mid = (lo + hi) >>> 1;
      const mh = high[mid]!;
      const ml = low[mid]!;
      if (mh === h && ml === l) return true;
      if (mh < h || (mh === h && ml < l)) lo = mid + 1;
      else hi = mid;
    }
    return false;
  }

  /** Ids held for `has`: those in the sample only through their cluster. */
  get held(): number {
    return this.through.high.length;
  }
}

/** The ids' clusters, drawn: who is in the sample, and the counts the scope records. */
export async function drawMembers(percent: number, links: AsyncIterable<[string, string]>, options: ComponentsOptions = {}): Promise<{
  members: SampleMembership; clusters: { total: number; sampled: number }; linkedIds: { total: number; sampled: number }; rounds: number;
}> {
  const draw = new SampleMembership(percent);
  const components = new Components(options);
  const sorter = () => new ExternalSorter({ dir: options.dir, maxChars: options.maxChars ?? COMPONENT_SORT_CHARS });
  const [byCluster, drawnClusters, through] = [sorter(), sorter(), sorter()];
  try {
    // Once per linked id and more: the loops await only when a sort spills or a batch runs out.
    for await (const [a, b] of links) { const w = components.link(a, b); if (w) await w; }
    const labels = await components.label();
    try {
      for await (const batch of labels.batches()) {
        for (const [id, label] of batch) {
          const drawn = draw.drawn(id);
          const w = byCluster.add(label, `${drawn ? '1' : '0'}${id}`);
          if (w) await w;
          if (drawn) { const d = drawnClusters.add(label, ''); if (d) await d; }
        }
      }
    } finally {
      await labels.close();
    }
    const clusters = { total: 0, sampled: 0 };
    const linkedIds = { total: 0, sampled: 0 };
    const sampled = new Cursor(drawnClusters.batches());
    try {
      let next = sampled.take() ?? (await sampled.next());
      let cluster: string | undefined;
      let inSample = false;
      for await (const batch of byCluster.batches()) {
        for (const [label, value] of batch) {
          if (label !== cluster) {
            cluster = label;
            clusters.total += 1;
            while (next && next[0] < label) next = sampled.take() ?? (await sampled.next());
            inSample = next !== undefined && next[0] === label;
            if (inSample) clusters.sampled += 1;
          }
          linkedIds.total += 1;
          if (!inSample) continue;
          linkedIds.sampled += 1;
          if (value.charCodeAt(0) !== 0x31) { const w = through.add(digestOf(value.slice(1)).subarray(8, 24).toString('hex'), ''); if (w) await w; }
        }
      }
    } finally {
      await sampled.close();
    }
    const high = new BigUint64Array(through.size);
    const low = new BigUint64Array(through.size);
    let i = 0;
    for await (const batch of through.batches()) {
      for (const [hex] of batch) {
        // Hex of equal length sorts as the numbers do.
        high[i] = BigInt(`0x${hex.slice(0, 16)}`);
        low[i] = BigInt(`0x${hex.slice(16)}`);
        i += 1;
      }
    }
    return { members: new SampleMembership(percent, { high, low }), clusters, linkedIds, rounds: labels.rounds };
  } finally {
    await Promise.all([components.close(), byCluster.close(), drawnClusters.close(), through.close()]);
  }
}

function digestOf(id: string): Buffer {
  return createHash('sha256').update(HASH_PREFIX).update(id).digest();
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
  const { members, clusters, linkedIds, rounds } = await drawMembers(lane.percent, links(store, layout, options.chunks));
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
    at: new Date().toISOString(), clusters, linkedIds, persons,
  };
  await store.write(layout.scope(lane.id), encodeControl(SampleScope, scope));
  options.log.info({ sample: lane.id, clusters, persons, rounds, held: members.held }, 'sample drawn');
  lane.members = members;
  return scope;
}

/** The identity links among the chunks' events, as PostHog has them. */
async function* links(store: Store, layout: Layout, chunks: readonly string[]): AsyncGenerator<[string, string]> {
  for (const chunk of chunks) {
    for (const key of await eventsKeys(store, layout, chunk)) {
      for await (const line of storedLines(store, key)) {
        // Most lines are no link: a substring test spares them the parse.
        if (!line.includes('"$identify"') && !line.includes('"$create_alias"') && !line.includes('"$merge_dangerously"')) continue;
        const e = parsed(line);
        const prop = e && LINKS[e.event as string];
        const other = prop ? (e.properties as Record<string, unknown> | undefined)?.[prop] : undefined;
        if (typeof e?.distinct_id === 'string' && typeof other === 'string' && other !== '') yield [e.distinct_id, other];
      }
    }
  }
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
