import { Changed, MAX_DISTINCT_ID_LENGTH, RejectCode, type LongDistinctIds, type Refusal } from './contract.js';

/** Whether an id is longer than capture keeps, counted in characters (code points), as capture counts. */
export function idTooLong(id: string): boolean {
  // A string has at least as many UTF-16 units as code points: short ones need no count.
  if (id.length <= MAX_DISTINCT_ID_LENGTH) return false;
  let n = 0;
  for (const _ of id) if (++n > MAX_DISTINCT_ID_LENGTH) return true;
  return false;
}

/** The first MAX_DISTINCT_ID_LENGTH characters of an id: what capture would keep. */
export function truncatedId(id: string): string {
  return Array.from(id).slice(0, MAX_DISTINCT_ID_LENGTH).join('');
}

/**
 * The rule for ids longer than capture keeps, applied to one id: the id as it goes out, whether it
 * was changed, or why it is refused. `what` names the id in the reason.
 */
export function checkedId(id: string, mode: LongDistinctIds, what: string): { id: string; changed?: string } | Refusal {
  if (!idTooLong(id)) return { id };
  if (mode === 'truncate') return { id: truncatedId(id), changed: Changed.distinctIdTruncated };
  const length = Array.from(id).length;
  return {
    code: RejectCode.distinctIdTooLong,
    reason: `${what} is ${length} characters (${JSON.stringify(id.slice(0, 40))}…); capture keeps only the first ${MAX_DISTINCT_ID_LENGTH}, which would merge this user with any other sharing them. Set transform.longDistinctIds: truncate to send the first ${MAX_DISTINCT_ID_LENGTH} on purpose`,
  };
}
