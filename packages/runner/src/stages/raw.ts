import { pipeline, type Readable } from 'node:stream';
import { HashingCounter, HogportError } from '@hogport/common';
import type { Layout } from '@hogport/layout';
import type { OutputRef } from '@hogport/manifest';
import type { RawFileInput } from '@hogport/pipeline';
import type { Store } from '@hogport/store';

/**
 * A chunk's raw files as a source reads them, each verified against its sha256 in the extract
 * manifest as it streams through: a file changed in the store fails the read before its end.
 */
export function rawFileInputs(store: Store, layout: Layout, raw: readonly OutputRef[]): RawFileInput[] {
  return raw.map((o) => ({
    name: layout.rawName(o.key),
    async open(): Promise<Readable> {
      const verify = new HashingCounter({ sha256: o.sha256, mismatch: (actual) => rawCorrupt(o.key, actual, o.sha256) });
      const stream = await store.read(o.key);
      // Readers stop early and fail mid-file: pipeline carries an error either way and leaves no
      // stream with an 'error' nobody listens to, which would end the process for one chunk.
      pipeline(stream, verify, () => undefined);
      return verify;
    },
  }));
}

function rawCorrupt(key: string, actual: string, expected: string): HogportError {
  return new HogportError('E_RAW_CORRUPT', `raw file ${key} does not match its extract manifest (sha256 ${actual.slice(0, 12)}…, expected ${expected.slice(0, 12)}…): it was changed in the store`);
}
