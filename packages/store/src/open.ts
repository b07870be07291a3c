import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HogportError } from '@hogport/common';
import { FileStore } from './drivers/file.js';
import type { GcsOptions } from './drivers/gcs.js';
import type { S3Options } from './drivers/s3.js';
import { retryingStore } from './retry.js';
import type { ResumableReads, Store } from './types.js';

/** Driver options that a URI's query string or the pipeline definition can set. */
export interface StoreOptions {
  s3?: { region?: string; endpoint?: string; forcePathStyle?: boolean };
  gcs?: { endpoint?: string; projectId?: string; stallMs?: number };
}

/**
 * Opens a store from a URI: `s3://bucket/prefix`, `gs://bucket/prefix`, `file:///dir` or a plain path.
 * S3 and GCS options may ride in the query string (`?endpoint=…&region=…&path_style=true`), which is
 * how a store on MinIO, R2 or an emulator is named on the command line. Every store comes wrapped
 * in the retries of `retryingStore`, whatever its driver.
 */
export function openStore(uri: string, options: StoreOptions = {}): Store {
  return retryingStore(openDriver(uri, options));
}

function openDriver(uri: string, options: StoreOptions): Store {
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
    const s3: S3Options = {
      ...(endpoint ? { endpoint } : {}),
      ...(region ? { region } : {}),
      ...(pathStyle !== null ? { forcePathStyle: pathStyle === 'true' || pathStyle === '1' } : options.s3?.forcePathStyle !== undefined ? { forcePathStyle: options.s3.forcePathStyle } : {}),
    };
    return lazyStore(`s3://${bucket}/${prefix}`, async () => new (await import('./drivers/s3.js')).S3Store(bucket, prefix, s3));
  }
  if (scheme === 'gs') {
    const endpoint = q.get('endpoint') ?? options.gcs?.endpoint ?? process.env.HOGPORT_GCS_ENDPOINT;
    const projectId = q.get('project') ?? options.gcs?.projectId;
    const gcs: GcsOptions = { ...(endpoint ? { endpoint } : {}), ...(projectId ? { projectId } : {}), ...(options.gcs?.stallMs ? { stallMs: options.gcs.stallMs } : {}) };
    return lazyStore(`gs://${bucket}/${prefix}`, async () => new (await import('./drivers/gcs.js')).GcsStore(bucket, prefix, gcs));
  }
  throw new HogportError('E_STORE_URI', `unsupported store "${uri}": use a path, file://, s3:// or gs://`, { exitCode: 2 });
}

/**
 * A store whose driver is loaded on first use: the cloud SDKs cost tens of MB of memory and a
 * noticeable start-up time, which a run on local disk should not pay.
 */
function lazyStore(url: string, load: () => Promise<Store & ResumableReads>): Store & ResumableReads {
  let driver: Promise<Store & ResumableReads> | undefined;
  const get = () => (driver ??= load());
  const call = async <T>(fn: (s: Store & ResumableReads) => Promise<T>): Promise<T> => {
    try {
      return await fn(await get());
    } catch (err) {
      throw setupError(url, err) ?? err;
    }
  };
  return {
    url,
    read: (key) => call((s) => s.read(key)),
    openAt: (key, offset, etag) => call((s) => s.openAt(key, offset, etag)),
    write: (key, body) => call((s) => s.write(key, body)),
    writeIf: (key, body, condition) => call((s) => s.writeIf(key, body, condition)),
    head: (key) => call((s) => s.head(key)),
    async *list(prefix, options) {
      try {
        yield* (await get()).list(prefix, options);
      } catch (err) {
        throw setupError(url, err) ?? err;
      }
    },
    delete: (key) => call((s) => s.delete(key)),
    now: () => call((s) => s.now()),
    close: async () => { if (driver) await (await driver).close(); },
  };
}

/**
 * A cloud store without credentials: the same words for every driver. (One that cannot be reached
 * is told by the retries, once they are spent.)
 */
function setupError(url: string, err: unknown): HogportError | undefined {
  if (err instanceof HogportError) return undefined;
  const message = (err as Error)?.message ?? '';
  if (/Could not load the default credentials|could not refresh access token/i.test(message)) {
    return new HogportError('E_STORE_CREDENTIALS', `no Google Cloud credentials for ${url}: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or run where Application Default Credentials exist`, { exitCode: 2, cause: err, details: { fatal: true } });
  }
  return undefined;
}
