import { HogportError } from '@hogport/common';
import { applyConventions } from '@hogport/conventions';
import { finishPerson, finishRecord, recordText, type FinishContext, type FinishedLink } from '@hogport/event';
import type { Outcome, PersonRecord, Position, PostHogEvent, Source, TransformSpec } from '@hogport/pipeline';

/** What decides a record the same way in transform and in inspect. */
export interface RecordRules {
  finish: FinishContext;
  drop: ReadonlySet<string>;
  conventions: { promote: boolean };
  importEvents: boolean;
  identities: boolean;
  sourceType: string;
}

export function recordRules(source: Source, spec: TransformSpec, finish: FinishContext): RecordRules {
  // Sources with identities promote person properties in the merge step, not in each event.
  return { finish, drop: new Set(spec.dropEvents), conventions: { promote: !source.identities }, importEvents: spec.importEvents !== false, identities: Boolean(source.identities), sourceType: source.type };
}

/** What the identity facts still learn from a record whose events are not imported (`importEvents: false`). */
export interface Learned { events: PostHogEvent[]; signatures: string[]; links: FinishedLink[] }

/**
 * What transform makes of one source record: the events lines it writes, a reject, a drop by a
 * named rule, or a person for the identity facts. The events and links are the finished ones.
 */
export type RecordDecision =
  | { kind: 'reject'; code: string; reason: string; position: Position; record: string }
  | { kind: 'drop'; rule: string; position: Position; learned?: Learned }
  | { kind: 'person'; position: Position; person: PersonRecord; links: readonly FinishedLink[]; changed: readonly string[] }
  | {
    kind: 'events'; position: Position;
    /** The events lines, byte for byte as transform writes them, one per event. */
    lines: string[];
    events: PostHogEvent[];
    /** Each event's promotion signature (`applyConventions`), for the identity facts. */
    signatures: string[];
    links: FinishedLink[];
    /** What the source and the finish step changed, each name once per step. */
    changed?: readonly string[];
  };

/**
 * One record's outcome through the steps every source shares: `dropEvents`, PostHog's conventions,
 * the finish step, `importEvents`. Pure but for the events it finishes in place; transform writes
 * what it decides, inspect shows it, so both show the same bytes.
 */
export function decideRecord(outcome: Outcome, rules: RecordRules): RecordDecision {
  if (outcome.kind === 'reject' || outcome.kind === 'drop') return outcome.kind === 'drop' ? { kind: 'drop', rule: outcome.rule, position: outcome.position } : outcome;
  const { position } = outcome;
  if (outcome.kind === 'person') {
    if (!rules.identities) throw new HogportError('E_SOURCE', `the ${rules.sourceType} source gave a person record, but it does not declare identities, so nothing would send it`);
    const done = finishPerson(outcome.person, rules.finish);
    if ('code' in done) return { kind: 'reject', code: done.code, reason: done.reason, position, record: recordText(outcome.person) };
    // Its links meet the rules of any record's; a refused one costs the link, not the person.
    const linked = outcome.identify ? finishRecord([], outcome.identify, rules.finish) : undefined;
    const sent = linked && !('code' in linked) ? linked : undefined;
    const changed = [...new Set([...(outcome.changed ?? []), ...(done.changed ?? []), ...(sent?.changed ?? [])])];
    return { kind: 'person', position, person: done.person, links: sent?.links ?? [], changed };
  }
  // Without dropEvents every event is kept: no copy of each record's list.
  const kept = rules.drop.size === 0 ? outcome.events : outcome.events.filter((e) => !rules.drop.has(e.event));
  if (kept.length === 0 && outcome.events.length > 0) return { kind: 'drop', rule: 'dropEvents', position };
  // PostHog's conventions once here, for every source: sources only name what they have.
  const signatures = kept.length === 1 ? [applyConventions(kept[0]!, rules.conventions)] : kept.map((e) => applyConventions(e, rules.conventions));
  const done = finishRecord(kept, outcome.identify, rules.finish);
  if ('code' in done) return { kind: 'reject', code: done.code, reason: done.reason, position, record: recordText(outcome.events) };
  if (done.drop) return { kind: 'drop', rule: done.drop, position };
  // Identities only: what the events say of their people and links is kept, the events are not.
  if (!rules.importEvents) return { kind: 'drop', rule: 'importEvents', position, learned: { events: kept, signatures, links: done.links } };
  const changed = !done.changed ? outcome.changed : !outcome.changed ? done.changed : [...outcome.changed, ...done.changed.filter((c) => !outcome.changed!.includes(c))];
  const d: RecordDecision = { kind: 'events', position, lines: done.lines, events: kept, signatures, links: done.links };
  if (changed) d.changed = changed;
  return d;
}
