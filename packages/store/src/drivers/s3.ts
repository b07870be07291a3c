import { HogportError } from '@hogport/common';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { assertKey, changedWhileRead, joinKey, notFound, preconditionFailed } from '../errors.js';
import { cutBody, guardBody, lengthChecked, retrying } from '../retry.js';
import type { Body, ListOptions, ObjectInfo, ResumableReads, Store, WriteCondition } from '../types.js';

// hogport pins its AWS SDK version; the SDK's warning about future versions needing Node 22 is not
// something a user of hogport can act on, and it would clutter every run's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface S3Options {
  region?: string;
  /** For MinIO, R2, moto and other S3-compatible stores. */
  endpoint?: string;
  forcePathStyle?: boolean;
}

/** Multipart part size for streamed writes: large enough for few requests, small enough to bound memory. */
const PART_SIZE = 8 * 1024 * 1024;

/**
 * A store on an S3 bucket and prefix. Credentials come from the standard AWS chain (environment,
 * profile, instance role); conditional writes use `If-None-Match: *` and `If-Match: <etag>`.
 */
export class S3Store implements Store, ResumableReads {
  readonly url: string;
  private readonly client: S3Client;
  /** For streamed writes only, whose parts the SDK buffers and so can send again itself. */
  private readonly uploads: S3Client;

  constructor(private readonly bucket: string, private readonly prefix: string, options: S3Options = {}) {
    this.url = `s3://${bucket}/${prefix}`;
    const config = {
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
      // A store that stops answering is a fault like any other, retried, not a run that hangs.
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
    };
    // Retries are retryingStore's, for every driver alike: the SDK's own would hide from it that a
    // conditional write's first try may have landed before the retry that met a failed precondition.
    this.client = withAccessErrors(withResponseDate(new S3Client({ ...config, maxAttempts: 1 })), this.url);
    this.uploads = withAccessErrors(new S3Client({ ...config, maxAttempts: 5 }), this.url);
  }

  private keyOf(key: string): string {
    assertKey(key);
    return joinKey(this.prefix, key);
  }

  async read(key: string): Promise<Readable> {
    return (await this.openAt(key, 0)).body;
  }

  async openAt(key: string, offset: number, etag?: string): Promise<{ body: Readable; info: ObjectInfo }> {
    try {
      const out = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket, Key: this.keyOf(key),
        ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}), ...(etag !== undefined ? { IfMatch: quote(etag) } : {}),
      }));
      const body = out.Body as Readable;
      const announced = out.ContentLength;
      // Without a length the end of the object is unknown: a read broken off is never taken for complete.
      const info = { key, size: announced === undefined ? Number.POSITIVE_INFINITY : offset + announced, etag: unquote(out.ETag ?? ''), ...modified(out.LastModified) };
      if (announced === undefined) return { body, info };
      return { body: lengthChecked(body, announced, (received, cause) => cutBody(this.url, key, offset + received, offset + announced, cause)), info };
    } catch (err) {
      if (isStatus(err, 404)) throw notFound(this.url, key, err);
      if (etag !== undefined && isStatus(err, 412)) throw changedWhileRead(this.url, key, err);
      throw err;
    }
  }

  async write(key: string, body: Body): Promise<ObjectInfo> {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      return this.put(key, body, {});
    }
    guardBody(body);
    const upload = new Upload({
      client: this.uploads,
      params: { Bucket: this.bucket, Key: this.keyOf(key), Body: body },
      partSize: PART_SIZE,
      queueSize: 2,
      leavePartsOnError: false,
    });
    await upload.done();
    const info = await retrying(this.url, `looking up ${key}`, () => this.head(key));
    if (!info) throw notFound(this.url, key);
    return info;
  }

  async writeIf(key: string, body: Uint8Array | string, condition: WriteCondition): Promise<ObjectInfo> {
    return this.put(key, body, 'ifAbsent' in condition ? { IfNoneMatch: '*' } : { IfMatch: quote(condition.ifMatch) });
  }

  private async put(key: string, body: Uint8Array | string, conditions: { IfNoneMatch?: string; IfMatch?: string }): Promise<ObjectInfo> {
    const bytes = Buffer.from(body);
    try {
      const out = await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), Body: bytes, ...conditions }));
      // A PUT's answer carries no Last-Modified; its Date is the store's time just after the write.
      return { key, size: bytes.length, etag: unquote(out.ETag ?? ''), ...modified(responseDate(out)) };
    } catch (err) {
      // 409 is S3's answer when a concurrent conditional write to the same key is in progress.
      if (isStatus(err, 412) || isStatus(err, 409) || (conditions.IfMatch && isStatus(err, 404))) throw preconditionFailed(this.url, key, err);
      throw err;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
      return { key, size: out.ContentLength ?? 0, etag: unquote(out.ETag ?? ''), ...modified(out.LastModified) };
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const full = joinKey(this.prefix, prefix);
    const strip = this.prefix === '' ? 0 : joinKey(this.prefix, '').length;
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: full, ContinuationToken: token, MaxKeys: options.pageSize ?? 1000,
        ...(options.startAfter !== undefined && !token ? { StartAfter: joinKey(this.prefix, options.startAfter) } : {}),
      }));
      for (const obj of page.Contents ?? []) {
        if (!obj.Key) continue;
        yield { key: obj.Key.slice(strip), size: obj.Size ?? 0, etag: unquote(obj.ETag ?? ''), ...modified(obj.LastModified) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
  }

  /** The Date of the answer to a one-key listing: S3 tells its time on every answer, to the second. */
  async now(): Promise<number> {
    const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: joinKey(this.prefix, ''), MaxKeys: 1 }));
    const date = responseDate(out);
    if (date === undefined) throw new HogportError('E_STORE_NO_CLOCK', `${this.url} answered without a Date header, so its clock cannot be read`);
    // The header is cut to the second: the middle of that second is never more than half a second off.
    return date.getTime() + 500;
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.uploads.destroy();
  }
}

/** Every call (multipart uploads included) turns setup problems into errors a user can act on. */
function withAccessErrors(client: S3Client, url: string): S3Client {
  const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
  client.send = ((...args: unknown[]) => send(...args).catch((err: unknown) => { throw storeAccessError(url, err) ?? err; })) as S3Client['send'];
  return client;
}

/** The Date header of the answer a command's output came with, kept where `responseDate` finds it. */
const RESPONSE_DATE = Symbol('hogport.responseDate');

function withResponseDate(client: S3Client): S3Client {
  client.middlewareStack.add((next) => async (args) => {
    const result = await next(args);
    const headers = (result.response as { headers?: Record<string, string | undefined> } | undefined)?.headers;
    const date = headers?.date ?? headers?.Date;
    if (date && result.output && typeof result.output === 'object') (result.output as unknown as Record<symbol, unknown>)[RESPONSE_DATE] = new Date(date);
    return result;
  }, { step: 'build', name: 'hogportResponseDate' });
  return client;
}

function responseDate(output: object): Date | undefined {
  const date = (output as Record<symbol, unknown>)[RESPONSE_DATE];
  return date instanceof Date && !Number.isNaN(date.getTime()) ? date : undefined;
}

function modified(date: Date | undefined): { modifiedAt?: number } {
  return date && !Number.isNaN(date.getTime()) ? { modifiedAt: date.getTime() } : {};
}

function isStatus(err: unknown, status: number): boolean {
  if (err instanceof S3ServiceException) return err.$metadata?.httpStatusCode === status;
  const meta = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata;
  return meta?.httpStatusCode === status;
}

function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}

function quote(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

/** The errors every S3 call can meet that are about setup, not about one object. */
function storeAccessError(url: string, err: unknown): HogportError | undefined {
  const name = (err as { name?: string })?.name ?? '';
  if (name === 'CredentialsProviderError') {
    return new HogportError('E_STORE_CREDENTIALS', `no AWS credentials for ${url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an IAM role`, { exitCode: 2, cause: err, details: { fatal: true } });
  }
  if (name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || isStatus(err, 403)) {
    return new HogportError('E_STORE_ACCESS', `access to ${url} was refused (${name || 'HTTP 403'}): check the credentials and that they may read and write this bucket and prefix`, { exitCode: 2, cause: err, details: { fatal: true } });
  }
  if (name === 'NoSuchBucket') {
    return new HogportError('E_STORE_NO_BUCKET', `the bucket of ${url} does not exist (or is in another region or endpoint)`, { exitCode: 2, cause: err, details: { fatal: true } });
  }
  return undefined;
}
