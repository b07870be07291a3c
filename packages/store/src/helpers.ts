import type { ObjectInfo, Store } from './types.js';
import { readSmall } from './retry.js';

export { readSmall };

/** Reads a small JSON object with the etag it had when read, so it can be replaced only if unchanged. */
export async function readJsonWithEtag(store: Store, key: string): Promise<{ value: unknown; info: ObjectInfo } | undefined> {
  // head then read could straddle a replacement; retry until the etag is the same on both sides.
  for (let i = 0; i < 5; i++) {
    const before = await store.head(key);
    if (!before) return undefined;
    const data = await readSmall(store, key);
    if (data === undefined) return undefined;
    const after = await store.head(key);
    if (after && after.etag === before.etag) return { value: JSON.parse(data.toString('utf8')), info: after };
  }
  const data = await readSmall(store, key);
  const info = await store.head(key);
  if (data === undefined || !info) return undefined;
  return { value: JSON.parse(data.toString('utf8')), info };
}
