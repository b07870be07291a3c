import { Readable } from 'node:stream';
import { HogportError } from '@hogport/common';
import { pipeline } from 'node:stream/promises';
import { Storage, type Bucket } from '@google-cloud/storage';
import { assertKey, changedWhileRead, joinKey, notFound, preconditionFailed } from '../errors.js';
import { cutBody, guardBody, lengthChecked } from '../retry.js';
import type { Body, ListOptions, ObjectInfo, ResumableReads, Store, WriteCondition } from '../types.js';

export interface GcsOptions {
  /** A custom JSON API endpoint (an emulator); the real service when absent. */
  endpoint?: string;
  projectId?: string;
  /**
   * A download that gives no byte for this long while hogport waits for one is taken for cut (30 s
   * by default): the client library never tells when a connection closes in the middle of a body.
   */
  stallMs?: number;
}

/**
 * A store on a GCS bucket and prefix, through the JSON API with Application Default Credentials.
 * The etag is the object's generation, and conditional writes use `ifGenerationMatch` (0 = absent).
 * Uploads are single-request multipart uploads, which need no upload session state to resume.
 */
export class GcsStore implements Store, ResumableReads {
  readonly url: string;
  private readonly bucket: Bucket;
  private readonly stallMs: number;

  constructor(bucket: string, private readonly prefix: string, options: GcsOptions = {}) {
    this.url = `gs://${bucket}/${prefix}`;
    this.stallMs = options.stallMs ?? 30_000;
    const storage = new Storage({
      ...(options.endpoint ? { apiEndpoint: options.endpoint } : {}),
      ...(options.projectId ? { projectId: options.projectId } : {}),
      // Retries are retryingStore's, for every driver alike (see the S3 driver for why).
      retryOptions: { autoRetry: false },
    });
    this.bucket = storage.bucket(bucket);
  }

  private fileOf(key: string) {
    assertKey(key);
    return this.bucket.file(joinKey(this.prefix, key));
  }

  async read(key: string): Promise<Readable> {
    return (await this.openAt(key, 0)).body;
  }

  async openAt(key: string, offset: number, etag?: string): Promise<{ body: Readable; info: ObjectInfo }> {
    const file = this.fileOf(key);
    // Metadata first, so that a missing object fails here, not later inside a pipeline, and so that
    // the bytes read are those of one generation even if the object is replaced meanwhile.
    const meta = await (etag === undefined ? file : this.bucket.file(file.name, { generation: Number(etag) })).getMetadata().catch((err: unknown) => {
      if (status(err) === 404) throw etag === undefined ? notFound(this.url, key, err) : changedWhileRead(this.url, key, err);
      throw err;
    });
    const info = this.infoFromMetadata(key, meta[0]);
    const generation = meta[0].generation;
    const stream = this.bucket.file(file.name, generation === undefined ? {} : { generation: Number(generation) })
      .createReadStream(offset > 0 ? { start: offset } : {});
    const size = Number(meta[0].size ?? NaN);
    if (!Number.isFinite(size)) return { body: stream, info };
    return { body: lengthChecked(stream, size - offset, (received, cause) => cutBody(this.url, key, offset + received, size, cause), this.stallMs), info };
  }

  async write(key: string, body: Body): Promise<ObjectInfo> {
    guardBody(body);
    const file = this.fileOf(key);
    const source = typeof body === 'string' || body instanceof Uint8Array ? Readable.from([Buffer.from(body)]) : body;
    await pipeline(source, file.createWriteStream({ resumable: false, contentType: 'application/octet-stream' }));
    return this.infoFromMetadata(key, file.metadata);
  }

  async writeIf(key: string, body: Uint8Array | string, condition: WriteCondition): Promise<ObjectInfo> {
    const file = this.fileOf(key);
    const ifGenerationMatch = 'ifAbsent' in condition ? 0 : Number(condition.ifMatch);
    try {
      await file.save(Buffer.from(body), { resumable: false, preconditionOpts: { ifGenerationMatch }, contentType: 'application/octet-stream' });
    } catch (err) {
      if (status(err) === 412) throw preconditionFailed(this.url, key, err);
      throw err;
    }
    return this.infoFromMetadata(key, file.metadata);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const [meta] = await this.fileOf(key).getMetadata();
      return this.infoFromMetadata(key, meta);
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw err;
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const full = joinKey(this.prefix, prefix);
    const strip = this.prefix === '' ? 0 : joinKey(this.prefix, '').length;
    let pageToken: string | undefined;
    do {
      const [files, next] = await this.bucket.getFiles({
        prefix: full, autoPaginate: false, maxResults: options.pageSize ?? 1000, ...(pageToken ? { pageToken } : {}),
        ...(options.startAfter !== undefined ? { startOffset: joinKey(this.prefix, options.startAfter) } : {}),
      });
      for (const f of files) {
        // startOffset is inclusive; startAfter is not.
        if (options.startAfter !== undefined && f.name.slice(strip) <= options.startAfter) continue;
        yield this.infoFromMetadata(f.name.slice(strip), f.metadata);
      }
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
  }

  async delete(key: string): Promise<void> {
    await this.fileOf(key).delete({ ignoreNotFound: true });
  }

  /** The Date of the answer to a one-object listing: the service's clock, to the second. */
  async now(): Promise<number> {
    const res = await new Promise<{ headers?: Record<string, string | undefined> } | undefined>((resolve, reject) => {
      this.bucket.request({ uri: '/o', qs: { prefix: joinKey(this.prefix, ''), maxResults: 1 } }, (err: Error | null, _body: unknown, response: unknown) => {
        if (err) reject(err);
        else resolve(response as { headers?: Record<string, string | undefined> } | undefined);
      });
    });
    const date = Date.parse(res?.headers?.date ?? '');
    if (Number.isNaN(date)) throw new HogportError('E_STORE_NO_CLOCK', `${this.url} answered without a Date header, so its clock cannot be read`);
    // The header is cut to the second: the middle of that second is never more than half a second off.
    return date + 500;
  }

  async close(): Promise<void> {}

  private infoFromMetadata(key: string, meta: { size?: string | number; generation?: string | number; updated?: string }): ObjectInfo {
    const updated = meta.updated === undefined ? Number.NaN : Date.parse(meta.updated);
    return { key, size: Number(meta.size ?? 0), etag: String(meta.generation ?? ''), ...(Number.isNaN(updated) ? {} : { modifiedAt: updated }) };
  }
}

function status(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}
