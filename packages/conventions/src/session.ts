import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/** The latest instant a UUIDv7 can hold: its time part is 48 bits of milliseconds. */
export const MAX_UUIDV7_MS = 2 ** 48 - 1;

/**
 * A deterministic UUIDv7 `$session_id` for a source's session: its time part is the session's start
 * (ms since 1970), so PostHog orders and buckets sessions by it as it does its own; its random part
 * is the first bytes of a SHA-256 of `key`, which names the session (the source's session id and
 * what scopes it, such as the device), so the same session gets the same id in every chunk and run.
 * A start before 1970 or past what 48 bits hold (year 10889) gives no session id: the uuid library
 * would wrap it into another time.
 */
export function sessionUuidV7(startMs: number, key: string): string | undefined {
  const ms = Math.floor(startMs);
  if (!(ms >= 0 && ms <= MAX_UUIDV7_MS)) return undefined;
  const cacheKey = `${ms}\u0000${key}`;
  // Records of one session come in runs: remembering recent sessions saves a hash per record.
  const known = recent.get(cacheKey);
  if (known) return known;
  const random = createHash('sha256').update(key).digest().subarray(0, 16);
  const uuid = uuidv7({ msecs: ms, random });
  if (recent.size >= 4096) recent.clear();
  recent.set(cacheKey, uuid);
  return uuid;
}
const recent = new Map<string, string>();
