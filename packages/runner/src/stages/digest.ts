import { canonicalJson, sha256 } from '@hogport/common';

/** A short digest of any JSON value; equal values always give equal digests. */
export function digestOf(value: unknown): string {
  return sha256(canonicalJson(value)).slice(0, 32);
}
