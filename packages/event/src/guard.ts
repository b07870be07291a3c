import { canonicalJson } from '@hogport/common';
import { RejectCode, type Refusal } from './contract.js';

function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A throw from mapping one record, as that record's refusal. */
export function mappingFailure(err: unknown): Refusal {
  if (isStackOverflow(err)) return { code: RejectCode.tooDeep, reason: `the record is nested too deeply to map (${messageOf(err)})` };
  return { code: RejectCode.mappingFailed, reason: `mapping the record failed: ${messageOf(err)}` };
}

/** A throw from serialising one event, as that event's refusal. */
export function serialisationFailure(err: unknown): Refusal {
  if (isStackOverflow(err)) return { code: RejectCode.tooDeep, reason: `the event is nested too deeply to serialise (${messageOf(err)})` };
  return { code: RejectCode.notSerialisable, reason: `the event cannot be serialised as JSON: ${messageOf(err)}` };
}

/**
 * A source's mapping function that cannot throw: whatever it throws on a record (a RangeError, a
 * stack overflow on a record nested 100,000 deep, a bug) becomes that record's refusal, so one
 * record costs one record and the chunk goes on.
 */
export function guardedMapping<A extends unknown[], R>(map: (...args: A) => R): (...args: A) => R | Refusal {
  return (...args) => {
    try {
      return map(...args);
    } catch (err) {
      return mappingFailure(err);
    }
  };
}

/** At most this much of a refused record is kept in its reject. */
export const MAX_RECORD_TEXT = 65_536;

/**
 * A refused record as text for its reject line, whatever it holds: JSON.stringify where it can, and
 * the stack-free canonical form where the record is too deep for it.
 */
export function recordText(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    try { text = canonicalJson(value); } catch (err) { text = `(unserialisable: ${messageOf(err)})`; }
  }
  return (text ?? String(value)).slice(0, MAX_RECORD_TEXT);
}
