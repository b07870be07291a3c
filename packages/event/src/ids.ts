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

// PostHog's person merge refuses these ids ("Refused to merge with an illegal distinct ID"): an
// anonymous id that a broken SDK or integration sends for everybody.
const ILLEGAL_ANY_CASE = new Set(['anonymous', 'guest', 'distinctid', 'distinct_id', 'id', 'not_authenticated', 'email', 'undefined', 'true', 'false']);
const ILLEGAL_EXACT = new Set(['[object Object]', 'NaN', 'None', 'none', 'null', '0']);
/** ASCII codes a refused id, quoted or padded with white space, can begin with (either case of a letter). */
const MAY_BEGIN_REFUSED: boolean[] = [];
for (const id of [...ILLEGAL_ANY_CASE, ...ILLEGAL_EXACT, '"', "'", ' ', '\t', '\n', '\v', '\f', '\r']) {
  MAY_BEGIN_REFUSED[id.toLowerCase().charCodeAt(0)] = true;
  MAY_BEGIN_REFUSED[id.toUpperCase().charCodeAt(0)] = true;
}
/** The longest refused id with quotes around it: anything longer can only be refused for being blank. */
const LONGEST_ILLEGAL = '"not_authenticated"'.length;

/**
 * Whether PostHog refuses to merge persons on this id: the ids above in any case (or exactly), the
 * same in quotes (`"null"`, as a value serialised twice arrives), and empty or blank ids. Events
 * with one are ingested, but every one of them lands on one person, and a `$identify` or
 * `$create_alias` naming one is refused.
 */
export function isNonMergeableId(id: string): boolean {
  if (id.length > LONGEST_ILLEGAL) {
    // Only a blank id is refused at this length, and a blank id starts with white space.
    const c = id.charCodeAt(0);
    return (c <= 0x20 || c === 0xa0 || c >= 0x1680) && id.trim() === '';
  }
  // A short id is looked at closer only if its first character can begin a refused one.
  if (id.length === 0) return true;
  if (!MAY_BEGIN_REFUSED[id.charCodeAt(0)]) return id.charCodeAt(0) > 0x7f && id.trim() === '';
  const bare = id.length >= 2 && (id[0] === '"' || id[0] === "'") && id.at(-1) === id[0] ? id.slice(1, -1) : id;
  return bare.trim() === '' || ILLEGAL_EXACT.has(bare) || ILLEGAL_ANY_CASE.has(bare.toLowerCase());
}

/**
 * The rules an id a user link names must pass, as the merge step sends it: capture's length rule
 * (`checkedId`), then PostHog's merge rule. A link with a refused id is left out, never sent.
 */
export function checkedLinkId(id: string, mode: LongDistinctIds, what: string): { id: string; changed?: string } | Refusal {
  const checked = checkedId(id, mode, what);
  if ('code' in checked) return checked;
  if (isNonMergeableId(checked.id)) return { code: Changed.nonMergeableLink, reason: `${what} ${JSON.stringify(checked.id.slice(0, 40))} is an id PostHog refuses to merge` };
  return checked;
}
