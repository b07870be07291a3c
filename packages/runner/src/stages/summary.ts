import { timeKey } from '@hogport/common';
import type { FinishedLink, PersonRecord } from '@hogport/event';
import type { PostHogEvent } from '@hogport/pipeline';

/**
 * What is known of one person: when they were last seen, and each property's latest (and first)
 * value. Property names come from data (`constructor`, `__proto__`): Maps, where no name finds
 * anything it should not, and a lookup costs less than in an object used as a dictionary (every
 * event of a person looks up a few dozen).
 */
export interface PersonFacts {
  last: string;
  /** Property → [time key (`timeKey`), value] of its latest `$set`. */
  set: Map<string, [string, unknown]>;
  /** Property → [time key, value] of its earliest `$set_once`. */
  once: Map<string, [string, unknown]>;
  /**
   * An event carried this id as its distinct_id (a person known only from a profile has none): the
   * merge links the forms of an anonymous id that events carry.
   */
  carried?: true;
}

/** A person's facts as a summary line holds them: the property tables as objects. */
interface PersonFactsLine {
  last: string;
  set: Record<string, [string, unknown]>;
  once: Record<string, [string, unknown]>;
  carried?: true;
}

/**
 * One (user, anonymous id) pair across the migration: its first sighting, and what its links said
 * of it, folded order-free: an alias if any link was one, recorded if any was, the id properties of
 * the earliest link, every other form of the anonymous id any link named.
 */
export interface PairFacts {
  user: string;
  anon: string;
  first: string;
  alias?: true;
  recorded?: true;
  props?: Record<string, string>;
  forms?: string[];
}

/**
 * The facts that span chunks, folded from events: each (user, anonymous id) pair with its first
 * sighting, and each person's latest property values. Folding is order-free (min and max by time,
 * ties broken by value, unions sorted), so any chunking of the same events folds to the same facts.
 */
export class IdentityFacts {
  readonly pairs = new Map<string, PairFacts>();
  readonly persons = new Map<string, PersonFacts>();

  addPair(user: string, anon: string, at: string): void {
    this.addLink({ user, anon, at });
  }

  addLink(l: FinishedLink | PairFacts): void {
    const first = 'at' in l ? l.at : l.first;
    if (l.user === l.anon && !l.forms) return;
    const key = `${l.user}\u0000${l.anon}`;
    const seen = this.pairs.get(key);
    if (!seen) {
      const p: PairFacts = { user: l.user, anon: l.anon, first };
      if (l.alias) p.alias = true;
      if (l.recorded) p.recorded = true;
      if (l.props) p.props = l.props;
      if (l.forms) p.forms = [...l.forms].sort();
      this.pairs.set(key, p);
      return;
    }
    // A pair repeats on every event of an identified user: most sightings change nothing and allocate nothing.
    const order = timeOrder(seen.first, first);
    if (order > 0 || (order === 0 && JSON.stringify(seen.props ?? null) > JSON.stringify(l.props ?? null))) {
      seen.first = first;
      if (l.props) seen.props = l.props; else delete seen.props;
    }
    if (l.alias) seen.alias = true;
    if (l.recorded) seen.recorded = true;
    if (l.forms && !l.forms.every((f) => seen.forms?.includes(f))) seen.forms = [...new Set([...(seen.forms ?? []), ...l.forms])].sort();
  }

  /**
   * Folds an event's `$set`/`$set_once`, and `promoted`: what PostHog promotes to its person from its
   * properties, as name/value lists (`personPromotionPairs`).
   */
  addEvent(e: PostHogEvent, promoted?: { set: readonly unknown[]; once: readonly unknown[] }): void {
    const set = e.$set ?? (e.properties.$set as Record<string, unknown> | undefined);
    const once = e.$set_once ?? (e.properties.$set_once as Record<string, unknown> | undefined);
    const p = this.person(e.distinct_id, e.timestamp);
    if (!p.carried) p.carried = true;
    const key = timeKey(e.timestamp);
    fold(p, key, set, once);
    if (promoted) { foldPairs(p.set, key, promoted.set, 1); foldPairs(p.once, key, promoted.once, -1); }
  }

  /** A person record a source holds apart from any event: its values as of `at`. */
  addPerson(r: PersonRecord): void {
    fold(this.person(r.distinctId, r.at), timeKey(r.at), r.set, r.setOnce);
  }

  private person(id: string, at: string): PersonFacts {
    let p = this.persons.get(id);
    if (!p) { p = { last: at, set: new Map(), once: new Map() }; this.persons.set(id, p); }
    else if (timeOrder(at, p.last) > 0) p.last = at;
    return p;
  }

  private foldPerson(id: string, facts: PersonFactsLine): void {
    const p = this.person(id, facts.last);
    if (facts.carried) p.carried = true;
    for (const k of Object.keys(facts.set)) { const tv = held(facts.set[k]!); const cur = p.set.get(k); if (!cur || compared(tv[0], tv[1], cur) > 0) p.set.set(k, tv); }
    for (const k of Object.keys(facts.once)) { const tv = held(facts.once[k]!); const cur = p.once.get(k); if (!cur || compared(tv[0], tv[1], cur) < 0) p.once.set(k, tv); }
  }

  /** Adds one line of a summary object. */
  addLine(line: string): void {
    const o = JSON.parse(line) as { pair?: [string, string, string]; alias?: true; recorded?: true; props?: Record<string, string>; forms?: string[]; person?: string; facts?: PersonFactsLine };
    if (o.pair) {
      const l: PairFacts = { user: o.pair[0], anon: o.pair[1], first: o.pair[2] };
      if (o.alias) l.alias = true;
      if (o.recorded) l.recorded = true;
      if (o.props) l.props = shared(o.props, l.user, l.anon);
      if (o.forms) l.forms = o.forms;
      this.addLink(l);
    } else if (o.person !== undefined && o.facts) this.foldPerson(o.person, o.facts);
  }

  /** The facts as summary lines, in a fixed order. */
  *lines(): Generator<string> {
    for (const p of [...this.pairs.values()].sort((a, b) => cmp(a.user, b.user) || cmp(a.anon, b.anon))) {
      const { user, anon, first, ...rest } = p;
      yield JSON.stringify({ pair: [user, anon, first], ...rest });
    }
    for (const id of [...this.persons.keys()].sort(cmp)) {
      const p = this.persons.get(id)!;
      const facts: PersonFactsLine = { last: p.last, set: entries(p.set), once: entries(p.once), ...(p.carried ? { carried: true } : {}) };
      yield JSON.stringify({ person: id, facts });
    }
  }
}

/**
 * Id properties that repeat the pair's own ids (`$amplitude_user_id` is the user) hold the pair's
 * strings rather than copies parsed from the summary: the merge holds every pair in memory.
 */
function shared(props: Record<string, string>, user: string, anon: string): Record<string, string> {
  for (const k of Object.keys(props)) {
    if (props[k] === user) props[k] = user;
    else if (props[k] === anon) props[k] = anon;
  }
  return props;
}

/**
 * Folds values seen at `key` (a `timeKey`, which is how every held pair keeps its time: one form, so
 * times compare as text without making keys per property).
 */
function fold(p: PersonFacts, key: string, set: Record<string, unknown> | undefined, once: Record<string, unknown> | undefined): void {
  // Every event of a person sets the same few dozen properties again, and in a chunk read in time
  // order each one wins: the held pair takes the new time (and value) in place rather than being
  // replaced, which would make one short-lived pair per property per event. Pairs are never shared
  // (each is made here or parsed from a summary line), so nothing else sees the change.
  if (set !== null && typeof set === 'object') {
    for (const k in set) {
      const v = set[k];
      const cur = p.set.get(k);
      if (!cur) p.set.set(k, [key, v]);
      else if (key !== cur[0] ? key > cur[0] : compared(key, v, cur) > 0) { cur[0] = key; cur[1] = v; }
    }
  }
  if (once !== null && typeof once === 'object') {
    for (const k in once) {
      const v = once[k];
      const cur = p.once.get(k);
      if (!cur) p.once.set(k, [key, v]);
      else if (key !== cur[0] ? key < cur[0] : compared(key, v, cur) < 0) { cur[0] = key; cur[1] = v; }
    }
  }
}

/** Folds name/value lists into a table: `wins` 1 keeps the latest value, -1 the earliest. */
function foldPairs(table: Map<string, [string, unknown]>, key: string, pairs: readonly unknown[], wins: 1 | -1): void {
  for (let i = 0; i < pairs.length; i += 2) {
    const k = pairs[i] as string;
    const v = pairs[i + 1];
    const cur = table.get(k);
    if (!cur) table.set(k, [key, v]);
    else if (key !== cur[0] ? (key > cur[0]) === (wins === 1) : compared(key, v, cur) === wins) { cur[0] = key; cur[1] = v; }
  }
}

/** The value at time key `key` against a held [time key, value]: by time, equal times by value, so folding is order-free. */
function compared(key: string, v: unknown, held: [string, unknown]): number {
  if (key !== held[0]) return key > held[0] ? 1 : -1;
  const x = JSON.stringify(v);
  const y = JSON.stringify(held[1]);
  return x > y ? 1 : x < y ? -1 : 0;
}

/** A pair parsed from a summary line, its time as a key (lines from before keys were kept hold times). */
function held(tv: [string, unknown]): [string, unknown] {
  if (tv[0].length !== 27) tv[0] = timeKey(tv[0]);
  return tv;
}

/**
 * Two normalised times in order (-1, 0, 1). Times of one length compare as text; only a millisecond
 * and a microsecond time need their keys, which pad the shorter, and folding meets that pair rarely.
 */
function timeOrder(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === b.length) return a > b ? 1 : -1;
  const x = timeKey(a);
  const y = timeKey(b);
  return x === y ? 0 : x > y ? 1 : -1;
}

/** A property table as an object for JSON: without a prototype, so a key `__proto__` is a key like any other. */
function entries(m: Map<string, [string, unknown]>): Record<string, [string, unknown]> {
  const o = Object.create(null) as Record<string, [string, unknown]>;
  for (const [k, tv] of m) o[k] = tv;
  return o;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
