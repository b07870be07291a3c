import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { HogportError } from '@hogport/common';
import type { Store } from '@hogport/store';
import picomatch from 'picomatch';
import { fileChunkId } from './chunks.js';
import { resolveLocation } from './definition.js';
import type { ExtractContext, PlannedChunk, SourceFactoryContext } from './source.js';

/**
 * The plan and extract of every file source: the files under a location (a directory, one file, or
 * any store URI) that match a glob, one chunk per file, copied byte for byte.
 */
export function filesInStore(ctx: SourceFactoryContext, location: string, pattern: string): { plan(): Promise<PlannedChunk[]>; extract(ectx: ExtractContext): Promise<void>; check(): Promise<string> } {
  const where = resolveLocation(ctx.baseDir, location);
  let opened: Promise<{ store: Store; only?: string }> | undefined;
  const open = () => (opened ??= (async () => {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(where)) {
      const s = await stat(where).catch(() => undefined);
      if (!s) throw new HogportError('E_SOURCE_MISSING', `source.location ${where} does not exist`, { exitCode: 2 });
      if (s.isFile()) return { store: ctx.openStore(path.dirname(where)), only: path.basename(where) };
    }
    return { store: ctx.openStore(where) };
  })());
  const match = picomatch(pattern, { dot: false });
  return {
    async check() {
      const { store, only } = await open();
      return only ? `${where} can be read` : listable(store);
    },
    async plan() {
      const { store, only } = await open();
      const chunks: PlannedChunk[] = [];
      for await (const obj of store.list(only ?? '')) {
        if (only ? obj.key !== only : !match(obj.key)) continue;
        chunks.push({ id: fileChunkId(obj.key), inputs: [{ key: `${store.url.replace(/\/$/, '')}/${obj.key}`, etag: obj.etag, bytes: obj.size }] });
      }
      if (chunks.length === 0) throw new HogportError('E_SOURCE_EMPTY', `no files match "${pattern}" under ${where}`, { exitCode: 2 });
      return chunks;
    },
    async extract(ectx) {
      const { store } = await open();
      const base = store.url.replace(/\/$/, '');
      for (const input of ectx.chunk.inputs) {
        const key = input.key.slice(base.length + 1);
        const name = path.posix.basename(key).replace(/[^A-Za-z0-9._~=+#-]/g, '_').replace(/^[^A-Za-z0-9]/, 'f');
        await ectx.writeRaw(name, await store.read(key));
      }
    },
  };
}

/**
 * Proves a store location can be listed by asking for its first object only: a bucket of millions
 * answers as fast as an empty one. Fails as the store fails (missing bucket, refused credentials).
 */
export async function listable(store: Store): Promise<string> {
  for await (const obj of store.list('', { pageSize: 1 })) return `${store.url} can be listed (first object ${obj.key})`;
  return `${store.url} can be listed (nothing there yet)`;
}
