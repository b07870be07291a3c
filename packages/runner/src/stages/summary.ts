import { timeKey } from '@hogport/common';
import type { PostHogEvent } from '@hogport/pipeline';

/**
 * What is known of one person: when they were last seen, and each property's latest (and first)
 * value. `set` and `once` are keyed by property names from data (`constructor`, `__proto__`), so
 * they are objects without a prototype: no name can find Object.prototype's members.
 */
export interface PersonFacts {
  last: string;
  /** Property → [timestamp, value] of its latest `$set`. */
  set: Record<string, [string, unknown]>;
  /** Property → [timestamp, value] of its earliest `$set_once`. */
  once: Record<string, [string, unknown]>;
}

/**
 * The facts that span chunks, folded from events: each (user, anonymous id) pair with its first
 * sighting, and each person's latest property values. Folding is order-free (min and max by time,
 * ties broken by value), so any chunking of the same events folds to the same facts.
 */
export class IdentityFacts {
  readonly pairs = new Map<string, { user: string; anon: string; first: string }>();
  readonly persons = new Map<string, PersonFacts>();

  addPair(user: string, anon: string, at: string): void {
    if (user === anon) return;
    const key = `${user}\u0000${anon}`;
    const seen = this.pairs.get(key);
    if (!seen || timeKey(at) < timeKey(seen.first)) this.pairs.set(key, { user, anon, first: at });
  }

  addEvent(e: PostHogEvent): void {
    const set = e.$set ?? (e.properties.$set as Record<string, unknown> | undefined);
    const once = e.$set_once ?? (e.properties.$set_once as Record<string, unknown> | undefined);
    let p = this.persons.get(e.distinct_id);
    if (!p) { p = { last: e.timestamp, set: table(), once: table() }; this.persons.set(e.distinct_id, p); }
    else if (timeKey(e.timestamp) > timeKey(p.last)) p.last = e.timestamp;
    if (set !== null && typeof set === 'object') for (const k of Object.keys(set)) { const tv: [string, unknown] = [e.timestamp, set[k]]; if (!p.set[k] || later(tv, p.set[k]!)) p.set[k] = tv; }
    if (once !== null && typeof once === 'object') for (const k of Object.keys(once)) { const tv: [string, unknown] = [e.timestamp, once[k]]; if (!p.once[k] || later(p.once[k]!, tv)) p.once[k] = tv; }
  }

  addPerson(id: string, facts: PersonFacts): void {
    const p = this.persons.get(id);
    if (!p) { this.persons.set(id, { last: facts.last, set: Object.assign(table(), facts.set), once: Object.assign(table(), facts.once) }); return; }
    if (timeKey(facts.last) > timeKey(p.last)) p.last = facts.last;
    for (const [k, tv] of Object.entries(facts.set)) if (!p.set[k] || later(tv, p.set[k]!)) p.set[k] = tv;
    for (const [k, tv] of Object.entries(facts.once)) if (!p.once[k] || later(p.once[k]!, tv)) p.once[k] = tv;
  }

  /** Adds one line of a summary object. */
  addLine(line: string): void {
    const o = JSON.parse(line) as { pair?: [string, string, string]; person?: string; facts?: PersonFacts };
    if (o.pair) this.addPair(o.pair[0], o.pair[1], o.pair[2]);
    else if (o.person !== undefined && o.facts) this.addPerson(o.person, o.facts);
  }

  /** The facts as summary lines, in a fixed order. */
  *lines(): Generator<string> {
    for (const p of [...this.pairs.values()].sort((a, b) => cmp(a.user, b.user) || cmp(a.anon, b.anon))) yield JSON.stringify({ pair: [p.user, p.anon, p.first] });
    for (const id of [...this.persons.keys()].sort(cmp)) yield JSON.stringify({ person: id, facts: this.persons.get(id) });
  }
}

/** An empty property table with no prototype, for keys that come from data. */
function table(): Record<string, [string, unknown]> {
  return Object.create(null) as Record<string, [string, unknown]>;
}

/** Whether [t, v] is later than [u, w]; equal times are ordered by value, so folding is order-free. */
function later([t, v]: [string, unknown], [u, w]: [string, unknown]): boolean {
  const a = timeKey(t);
  const b = timeKey(u);
  return a !== b ? a > b : JSON.stringify(v) > JSON.stringify(w);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
