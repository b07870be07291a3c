import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { HogportError } from '@hogport/common';
import { Cursor, ExternalSorter, PieceWriter, readSortedPairBatches, spoolDir, writePair } from './spill.js';

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
   * Labels every linked id. The labels can be read (`batches()`, by id) until `close()`, which also
   * removes the edges.
   */
  async label(): Promise<ComponentLabels> {
    const spool = await spoolDir(this.options.dir);
    try {
      // Round 0: each id's label is the least of itself and its neighbours. The loops below run once
      // per edge and round: they await only when a write is full or a batch runs out.
      let labels = new LabelFile(spool.file('labels.tsv'));
      let node: string | undefined;
      let least = '';
      for await (const batch of this.edges.batches()) {
        for (const [a, b] of batch) {
          if (a !== node) {
            if (node !== undefined) { const w = labels.write(node, least, true); if (w) await w; }
            node = a;
            least = a;
          }
          if (b < least) least = b;
        }
      }
      if (node !== undefined) await labels.write(node, least, true);
      await labels.end();

      let rounds = 1;
      for (;;) {
        // Only an id whose label fell last round has news for its neighbours.
        const offers = this.sorter(spool.path);
        const at = labelCursor(labels.path);
        let current: Label | undefined;
        try {
          for await (const batch of this.edges.batches()) {
            for (const [a, b] of batch) {
              while (!current || current.id !== a) {
                current = at.take() ?? (await at.next());
                if (!current) throw spillChanged(a);
              }
              if (current.changed) { const w = offers.add(b, current.label); if (w) await w; }
            }
          }
        } finally {
          await at.close();
        }
        if (offers.size === 0) { await offers.close(); break; }
        // An id offered a lower label passes it on to the id its label names (hooking), and then
        // each id takes its label's label (jumping): together they merge whole regions at a time,
        // so a long chain of aliases takes a few rounds more than a star, not one a link.
        const hooks = this.sorter(spool.path);
        const direct = await lowered(labels, offers, spool.file('labels.tsv'), false, hooks);
        const offered = await lowered(direct, hooks, spool.file('labels.tsv'), true);
        const jumps = this.sorter(spool.path);
        for await (const batch of labelBatches(offered.path)) {
          for (const l of batch) if (l.label !== l.id) { const w = jumps.add(l.label, l.id); if (w) await w; }
        }
        const shortcuts = this.sorter(spool.path);
        const of = labelCursor(offered.path);
        let label: Label | undefined;
        try {
          for await (const batch of jumps.batches()) {
            for (const [target, id] of batch) {
              while (!label || label.id < target) {
                label = of.take() ?? (await of.next());
                if (!label) throw spillChanged(target);
              }
              if (label.label < target) { const w = shortcuts.add(id, label.label); if (w) await w; }
            }
          }
        } finally {
          await of.close();
          await jumps.close();
        }
        const next = await lowered(offered, shortcuts, spool.file('labels.tsv'), true);
        await Promise.all([labels, direct, offered].map((f) => rm(f.path, { force: true })));
        labels = next;
        rounds += 1;
        if (direct.changes + offered.changes + next.changes === 0) break;
      }
      const file = labels.path;
      return {
        rounds,
        async *batches() {
          for await (const batch of labelBatches(file)) yield batch.map((l): [string, string] => [l.id, l.label]);
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
  /** Each linked id and its component's label (its least id), by id, in arrays. */
  batches(): AsyncGenerator<Array<[string, string]>>;
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
  const offered = new Cursor(offers.batches());
  try {
    let offer = offered.take() ?? (await offered.next());
    for await (const batch of labelBatches(labels.path)) {
      for (const label of batch) {
        let least = label.label;
        while (offer && offer[0] < label.id) offer = offered.take() ?? (await offered.next());
        // Offers for an id come least first: the first is the only one that counts.
        if (offer && offer[0] === label.id && offer[1] < least) least = offer[1];
        while (offer && offer[0] === label.id) offer = offered.take() ?? (await offered.next());
        const fell = least !== label.label;
        if (fell) out.changes += 1;
        if (fell && hooks && label.label !== label.id) { const w = hooks.add(label.label, least); if (w) await w; }
        const w = out.write(label.id, least, fell || (keep && label.changed));
        if (w) await w;
      }
    }
    await out.end();
    return out;
  } finally {
    await offered.close();
    await offers.close();
  }
}

/** A label line's value: a flag (whether it fell in the round that wrote it), then the label. */
class LabelFile {
  /** Ids whose label fell as this file was written. */
  changes = 0;
  private readonly out: PieceWriter;

  constructor(readonly path: string) {
    this.out = new PieceWriter(createWriteStream(path));
  }

  write(id: string, label: string, changed: boolean): Promise<void> | undefined {
    return writePair(this.out, id, `${changed ? '1' : '0'}${label}`);
  }

  end(): Promise<void> {
    return this.out.close();
  }
}

async function* labelBatches(file: string): AsyncGenerator<Label[]> {
  for await (const batch of readSortedPairBatches(file)) yield batch.map(([id, value]) => ({ id, label: value.slice(1), changed: value.charCodeAt(0) === 0x31 }));
}

function labelCursor(file: string): Cursor<Label> {
  return new Cursor(labelBatches(file));
}

/** Every linked id has a label line: one missing means the spill files changed under the draw. */
function spillChanged(id: string): HogportError {
  return new HogportError('E_SPILL_CHANGED', `the labels spilled to local disk lack id ${JSON.stringify(id)}: something changed or removed hogport's files under TMPDIR while the sample was drawn; draw it again (re-run the load) with TMPDIR on a disk nothing else cleans`);
}
