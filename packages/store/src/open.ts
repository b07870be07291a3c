import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HogportError } from '@hogport/common';
import { FileStore } from './drivers/file.js';
import { GcsStore } from './drivers/gcs.js';
import { S3Store } from './drivers/s3.js';
import type { Store } from './types.js';

/** Driver options that a URI's query string or the pipeline definition can set. */
export interface StoreOptions {
  s3?: { region?: string; endpoint?: string; forcePathStyle?: boolean };
  gcs?: { endpoint?: string; projectId?: string };
}

/**
 * Opens a store from a URI: `s3://bucket/prefix`, `gs://bucket/prefix`, `file:///dir` or a plain path.
 * S3 and GCS options may ride in the query string (`?endpoint=…&region=…&path_style=true`), which is
 * how a store on MinIO, R2 or an emulator is named on the command line.
 */
export function openStore(uri: string, options: StoreOptions = {}): Store {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return new FileStore(path.resolve(uri));
  if (scheme === 'file') return new FileStore(fileURLToPath(uri));
  const url = new URL(uri);
  const bucket = url.hostname;
  const prefix = decodeURIComponent(url.pathname.replace(/^\/+/, '').replace(/\/+$/, ''));
  const q = url.searchParams;
  if (!bucket) throw new HogportError('E_STORE_URI', `"${uri}" names no bucket: write ${scheme}://bucket/prefix`, { exitCode: 2 });
  if (scheme === 's3') {
    const endpoint = q.get('endpoint') ?? options.s3?.endpoint ?? process.env.HOGPORT_S3_ENDPOINT;
    const region = q.get('region') ?? options.s3?.region;
    const pathStyle = q.get('path_style');
    return new S3Store(bucket, prefix, {
      ...(endpoint ? { endpoint } : {}),
      ...(region ? { region } : {}),
      ...(pathStyle !== null ? { forcePathStyle: pathStyle === 'true' || pathStyle === '1' } : options.s3?.forcePathStyle !== undefined ? { forcePathStyle: options.s3.forcePathStyle } : {}),
    });
  }
  if (scheme === 'gs') {
    const endpoint = q.get('endpoint') ?? options.gcs?.endpoint ?? process.env.HOGPORT_GCS_ENDPOINT;
    const projectId = q.get('project') ?? options.gcs?.projectId;
    return new GcsStore(bucket, prefix, { ...(endpoint ? { endpoint } : {}), ...(projectId ? { projectId } : {}) });
  }
  throw new HogportError('E_STORE_URI', `unsupported store "${uri}": use a path, file://, s3:// or gs://`, { exitCode: 2 });
}
