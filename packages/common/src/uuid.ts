import { hash } from 'node:crypto';

/** RFC 4122's URL namespace, for deriving hogport's own namespaces from a name. */
export const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

const namespaces = new Map<string, Buffer>();
// Hashing is synchronous: one buffer serves every call.
const SCRATCH = Buffer.allocUnsafe(16 + 3 * 1024);
const SCRATCH_NAME_UNITS = 1024;

/**
 * A name-based UUID (version 5, SHA-1), as RFC 4122 defines it: the same name in the same namespace
 * (a uuid, or 16 raw bytes as PostHog's Mixpanel importer uses) always gives the same uuid, which is what makes re-runs collapse in PostHog. Equal to the `uuid`
 * package's v5; one-shot hashing makes it several times cheaper, which matters at one per event.
 */
export function uuidV5(name: string, namespace: string | Uint8Array): string {
  let ns: Uint8Array | undefined = typeof namespace === 'string' ? namespaces.get(namespace) : namespace;
  if (!ns) {
    ns = Buffer.from((namespace as string).replace(/-/g, ''), 'hex');
    if (ns.length !== 16) throw new TypeError(`not a UUID namespace: ${String(namespace)}`);
    namespaces.set(namespace as string, ns as Buffer);
  }
  if (ns.length !== 16) throw new TypeError('a UUID namespace is 16 bytes');
  let input: Buffer;
  // Names fit the scratch buffer nearly always (a UTF-16 unit is at most 3 bytes of UTF-8): the hash
  // input is then written in place, with no buffer made per uuid.
  if (name.length <= SCRATCH_NAME_UNITS) {
    SCRATCH.set(ns, 0);
    input = SCRATCH.subarray(0, 16 + SCRATCH.write(name, 16, 'utf8'));
  } else {
    const name8 = Buffer.from(name, 'utf8');
    input = Buffer.allocUnsafe(16 + name8.length);
    input.set(ns, 0);
    name8.copy(input, 16);
  }
  const b = hash('sha1', input, 'buffer') as unknown as Buffer;
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex', 0, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
