import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { HogportError } from '@hogport/common';
import { ExternalSorter, readSortedPairs, spoolDir, writePair } from './spill.js';

export interface ComponentsOptions {
  /** Where edges and labels spill; the OS temp dir (TMPDIR) by default. */
  dir?: string;
  /** Characters each sort holds in memory before it spills. */
  maxChars?: number;
}

/** Characters each of the few sorts alive at once holds before spilling: a few tens of MB in all. */
export const COMPONENT_SORT_CHARS = 4 * 1024 * 1024;

/**
 * The connected components of an undirected graph of string ids (persons: ids linked by identity
 * events), in bounded memory whatever the number of ids: every id is labelled with the least id of its
 * component, as JavaScript compares strings.
 *
 * Edges go to an external sort; labels live in files on local disk, sorted by id, and are found by
 * rounds of min-label propagation, each a merge of the edges with the labels and one external sort of
 * what changed. Rounds are about the longest shortest path in a component: two or three for the stars
 * analytics identities form (a user and the devices it used), more for long chains of aliases.
 */
export class Components {
  private readonly edges: ExternalSorter;
  private readonly maxChars: number;
  private links = 0;

  constructor(private readonly options: ComponentsOptions = {}) {
    this.maxChars = options.maxChars ?? COMPONENT_SORT_CHARS;
    this.edges = new ExternalSorter({ dir: options.dir, maxChars: this.maxChars });
  }

  /** Links two ids; returns a promise only when edges are being spilled, which the caller awaits. */
  link(a: string, b: string): Promise<void> | undefined {
    if (a === b) return undefined;
    this.links += 1;
    // One add at a time: a second while the first spills would spill the same pairs again.
    const first = this.edges.add(a, b);
    return first ? first.then(() => this.edges.add(b, a)) : this.edges.add(b, a);
  }

  /** Links added, each counted once. */
  get size(): number {
    return this.links;
  }

  /**
   * Labels every linked id. The labels can be read (`pairs()`, by id) until `close()`, which also
   * removes the edges.
   */
  async label(): Promise<ComponentLabels> {
    const spool = await spoolDir(this.options.dir);
    try {
      // Round 0: each id's label is the least of itself and its neighbours.
      let labels = new LabelFile(spool.file('labels.tsv'));
      let node: string | undefined;
      let least = '';
      for await (const [a, b] of this.edges.sorted()) {
        if (a !== node) {
          if (node !== undefined) await labels.write(node, least, true);
          node = a;
          least = a;
        }
        if (b < least) least = b;
      }
      if (node !== undefined) await labels.write(node, least, true);
      await labels.end();

      let rounds = 1;
      for (;;) {
        // Only an id whose label fell last round has news for its neighbours.
        const offers = this.sorter(spool.path);
        const at = readLabels(labels.path);
        let current: Label | undefined;
        for await (const [a, b] of this.edges.sorted()) {
          while (!current || current.id !== a) {
            const n = await at.next();
            if (n.done) throw spillChanged(a);
            current = n.value;
          }
          if (current.changed) await offers.add(b, current.label);
        }
        await at.return(undefined);
        if (offers.size === 0) { await offers.close(); break; }
        // An id offered a lower label passes it on to the id its label names (hooking), and then
        // each id takes its label's label (jumping): together they merge whole regions at a time,
        // so a long chain of aliases takes a few rounds more than a star, not one a link.
        const hooks = this.sorter(spool.path);
        const direct = await lowered(labels, offers, spool.file('labels.tsv'), false, hooks);
        const offered = await lowered(direct, hooks, spool.file('labels.tsv'), true);
        const jumps = this.sorter(spool.path);
        for await (const l of readLabels(offered.path)) if (l.label !== l.id) await jumps.add(l.label, l.id);
        const shortcuts = this.sorter(spool.path);
        const of = readLabels(offered.path);
        let label: Label | undefined;
        for await (const [target, id] of jumps.sorted()) {
          while (!label || label.id < target) {
            const n = await of.next();
            if (n.done) throw spillChanged(target);
            label = n.value;
          }
          if (label.label < target) await shortcuts.add(id, label.label);
        }
        await of.return(undefined);
        await jumps.close();
        const next = await lowered(offered, shortcuts, spool.file('labels.tsv'), true);
        await Promise.all([labels, direct, offered].map((f) => rm(f.path, { force: true })));
        labels = next;
        rounds += 1;
        if (direct.changes + offered.changes + next.changes === 0) break;
      }
      const file = labels.path;
      return {
        rounds,
        async *pairs() {
          for await (const l of readLabels(file)) yield [l.id, l.label];
        },
        close: async () => {
          await spool.remove();
          await this.edges.close();
        },
      };
    } catch (err) {
      await spool.remove();
      throw err;
    }
  }

  private sorter(dir: string): ExternalSorter {
    return new ExternalSorter({ dir, maxChars: this.maxChars });
  }

  /** Removes what spilled, when `label()` was never reached. */
  async close(): Promise<void> {
    await this.edges.close();
  }
}

export interface ComponentLabels {
  /** Rounds of propagation it took. */
  rounds: number;
  /** Each linked id and its component's label (its least id), by id. */
  pairs(): AsyncGenerator<[string, string]>;
  /** Removes the label and edge files. */
  close(): Promise<void>;
}

interface Label { id: string; label: string; changed: boolean }

/**
 * Writes `labels` anew with each id's label lowered to the least of its offers, and closes the offers.
 * An id is marked changed when it fell here, or, with `keep`, when it was marked already. With
 * `hooks`, an id that fell offers its new label to the id its old label named.
 */
async function lowered(labels: LabelFile, offers: ExternalSorter, file: string, keep: boolean, hooks?: ExternalSorter): Promise<LabelFile> {
  const out = new LabelFile(file);
  try {
    const offered = offers.sorted();
    let offer = await offered.next();
    for await (const label of readLabels(labels.path)) {
      let least = label.label;
      while (!offer.done && offer.value[0] < label.id) offer = await offered.next();
      // Offers for an id come least first: the first is the only one that counts.
      if (!offer.done && offer.value[0] === label.id && offer.value[1] < least) least = offer.value[1];
      while (!offer.done && offer.value[0] === label.id) offer = await offered.next();
      const fell = least !== label.label;
      if (fell) out.changes += 1;
      if (fell && hooks && label.label !== label.id) await hooks.add(label.label, least);
      await out.write(label.id, least, fell || (keep && label.changed));
    }
    await out.end();
    return out;
  } finally {
    await offers.close();
  }
}

/** A label line's value: a flag (whether it fell in the round that wrote it), then the label. */
class LabelFile {
  /** Ids whose label fell as this file was written. */
  changes = 0;
  private readonly out: WriteStream;

  constructor(readonly path: string) {
    this.out = createWriteStream(path);
  }

  write(id: string, label: string, changed: boolean): Promise<void> | undefined {
    return writePair(this.out, id, `${changed ? '1' : '0'}${label}`);
  }

  async end(): Promise<void> {
    this.out.end();
    await once(this.out, 'finish');
    if (this.out.errored) throw this.out.errored;
  }
}

async function* readLabels(file: string): AsyncGenerator<Label> {
  for await (const [id, value] of readSortedPairs(file)) yield { id, label: value.slice(1), changed: value.charCodeAt(0) === 0x31 };
}

/** Every linked id has a label line: one missing means the spill files changed under the draw. */
function spillChanged(id: string): HogportError {
  return new HogportError('E_SPILL_CHANGED', `the labels spilled to local disk lack id ${JSON.stringify(id)}: something changed or removed hogport's files under TMPDIR while the sample was drawn; draw it again (re-run the load) with TMPDIR on a disk nothing else cleans`);
}
