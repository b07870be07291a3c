import { backoffMs, hasCode, HogportError, readAll, sleep } from '@hogport/common';
import { Readable, Transform } from 'node:stream';
import type { Body, ObjectInfo, ResumableReads, Store, WriteCondition } from './types.js';

/** How often and how patiently a store operation that met a passing fault is tried again. */
export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseMs: number;
  capMs: number;
}

/**
 * Enough to ride out a store that fails one request in four (0.25^8 ≈ 1.5e-5 per operation) while
 * giving up on a store that is down within about ten seconds.
 */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, baseMs: 50, capMs: 2_000 };

/** Network codes that mean the request never reached a store, or its answer never came back whole. */
const NETWORK_CODES = new Set([
  'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ESOCKETTIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE', 'CONTENT_DOWNLOAD_MISMATCH',
]);
/** Of those, the ones that mean the store cannot be reached at all: after the retries, the run stops. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN']);
/** S3 error names for throttling and faults on the store's side. */
const TRANSIENT_NAMES = new Set(['SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout', 'TimeoutError', 'ThrottlingException', 'RequestTimeTooSkewed']);

/** A store answer cut short: the bytes that arrived are fewer than the store announced. */
export function cutBody(url: string, key: string, received: number, announced: number, cause?: unknown): HogportError {
  return new HogportError('E_STORE_CUT', `the answer for ${key} from ${url} was cut after ${received} of ${announced} bytes by a network or store fault: nothing is wrong with the object, and a re-run reads it again`, {
    cause, details: { retryable: true, received, announced },
  });
}

/**
 * Whether an error is a passing fault on the store's side or the way to it (a reset, a timeout, a
 * 5xx, throttling, an answer cut short), as opposed to an answer about the object or the setup
 * (not found, precondition, access refused), which a retry cannot change.
 */
export function isTransientStoreError(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof HogportError) return (e.details as { retryable?: boolean } | undefined)?.retryable === true;
    const { code, name, message } = e as { code?: unknown; name?: string; message?: string };
    // hogport stopping its own work (a lost lease, a signal) is not a fault to ride out.
    if (name === 'AbortError' || code === 'ABORT_ERR') return false;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    const status = statusOf(e);
    if (status !== undefined && (status === 408 || status === 429 || status >= 500)) return true;
    if (name && TRANSIENT_NAMES.has(name)) return true;
    // The SDKs' words for a connection dropped mid-answer, which come without a code.
    if (typeof message === 'string' && /socket hang up|premature close|Deserialization error|other side closed|ECONNRESET|Unexpected end of/i.test(message)) return true;
  }
  return false;
}

function statusOf(err: unknown): number | undefined {
  const meta = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (typeof meta === 'number') return meta;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number') return code;
  const status = (err as { status?: unknown }).status ?? (err as { response?: { status?: unknown } }).response?.status;
  return typeof status === 'number' ? status : undefined;
}

function networkCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return code;
    const message = (e as { message?: unknown }).message;
    const m = typeof message === 'string' ? /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ENETDOWN)\b/.exec(message) : null;
    if (m) return m[1];
  }
  return undefined;
}

/** What a fault that outlasted every retry becomes: a code and words a user can act on. */
function exhausted(url: string, what: string, attempts: number, err: unknown): unknown {
  const unreachable = networkCode(err);
  if (unreachable) {
    return new HogportError('E_STORE_UNREACHABLE', `cannot reach ${url} (${unreachable}, ${attempts} tries): check the network, and the endpoint if the store sets one; nothing is lost, re-run later`, {
      exitCode: 5, cause: err, details: { fatal: true },
    });
  }
  if (err instanceof HogportError) return err;
  const message = (err as Error)?.message ?? String(err);
  return new HogportError('E_STORE_UNAVAILABLE', `${what} in ${url} kept failing (${message.slice(0, 120)}) after ${attempts} tries: nothing is lost; re-run later`, {
    exitCode: 5, cause: err, details: { retryable: true },
  });
}

/**
 * Runs an idempotent store operation, trying again with full-jitter backoff while it meets passing
 * faults. `onRetry` hears of every fault that will be retried.
 */
export async function retrying<T>(url: string, what: string, fn: () => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY, onRetry?: (err: unknown) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientStoreError(err)) throw err;
      if (attempt >= policy.attempts) throw exhausted(url, what, attempt, err);
      onRetry?.(err);
      await sleep(backoffMs(attempt, policy.baseMs, policy.capMs));
    }
  }
}

/**
 * The store every driver is used through: idempotent operations (head, opening a read, list pages,
 * delete, writes of bytes) are retried on passing faults, in this one place for every driver.
 *
 * A conditional write is retried too, with care: when an attempt's answer was lost, the write may
 * have landed, and the retry then meets its own write as a failed precondition. The object is read
 * back: when it holds exactly our bytes it is our write (hogport's conditional objects carry an
 * attempt id, so nobody else writes the same bytes); otherwise the precondition really failed.
 *
 * A streamed write cannot be replayed (its body is gone), so it is tried once; it fails cleanly.
 */
export function retryingStore(store: Store, policy: RetryPolicy = DEFAULT_RETRY): Store {
  const url = store.url;
  const run = <T>(what: string, fn: () => Promise<T>, onRetry?: (err: unknown) => void) => retrying(url, what, fn, policy, onRetry);
  const wrapped: Store = {
    url,
    async read(key) {
      if (!resumable(store)) return run(`reading ${key}`, () => store.read(key));
      const first = await run(`reading ${key}`, () => store.openAt(key, 0));
      return Readable.from(resumed(first, (offset, etag) => run(`reading ${key}`, () => store.openAt(key, offset, etag)), policy), { objectMode: false, highWaterMark: 256 * 1024 });
    },
    write(key, body: Body) {
      if (typeof body === 'string' || body instanceof Uint8Array) return run(`writing ${key}`, () => store.write(key, body));
      // Before anything awaits (a driver loading, a directory being made), or its error ends the process.
      guardBody(body);
      return store.write(key, body);
    },
    async writeIf(key: string, body: Uint8Array | string, condition: WriteCondition): Promise<ObjectInfo> {
      let mayHaveLanded = false;
      try {
        return await run(`writing ${key}`, () => store.writeIf(key, body, condition), () => { mayHaveLanded = true; });
      } catch (err) {
        if (!mayHaveLanded || !hasCode(err, 'E_PRECONDITION')) throw err;
        const ours = await landed(wrapped, key, Buffer.from(body));
        if (ours) return ours;
        throw err;
      }
    },
    head: (key) => run(`looking up ${key}`, () => store.head(key)),
    async *list(prefix, options = {}) {
      // Listings come in key order, so a listing cut by a fault starts again after the last key it
      // gave: a driver's iterator that threw is finished and cannot be asked for the next page.
      let after = options.startAfter;
      let faults = 0;
      for (;;) {
        const it = store.list(prefix, { ...options, ...(after !== undefined ? { startAfter: after } : {}) })[Symbol.asyncIterator]();
        try {
          for (;;) {
            const next = await it.next();
            if (next.done) return;
            faults = 0;
            after = next.value.key;
            yield next.value;
          }
        } catch (err) {
          if (!isTransientStoreError(err)) throw err;
          faults += 1;
          if (faults >= policy.attempts) throw exhausted(url, `listing ${prefix}`, faults, err);
          await sleep(backoffMs(faults, policy.baseMs, policy.capMs));
        }
      }
    },
    delete: (key) => run(`deleting ${key}`, () => store.delete(key)),
    now: () => run('reading the store\'s clock', () => store.now()),
    close: () => store.close(),
  };
  return wrapped;
}

function resumable(store: Store): store is Store & ResumableReads {
  return typeof (store as Partial<ResumableReads>).openAt === 'function';
}

/**
 * The bytes of an object read to its end, going on from the byte where a read was cut short, from
 * the same version (a replaced object fails with E_STORE_CHANGED rather than mixing two versions).
 */
async function* resumed(
  first: { body: Readable; info: ObjectInfo },
  reopen: (offset: number, etag: string) => Promise<{ body: Readable }>,
  policy: RetryPolicy,
): AsyncGenerator<Buffer> {
  let body = first.body;
  let offset = 0;
  let faults = 0;
  for (;;) {
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        offset += chunk.length;
        faults = 0;
        yield chunk;
      }
      return;
    } catch (err) {
      if (!isTransientStoreError(err)) throw err;
      // Every byte arrived, and only the connection's end went wrong.
      if (offset >= first.info.size) return;
      faults += 1;
      if (faults >= policy.attempts) throw err;
      await sleep(backoffMs(faults, policy.baseMs, policy.capMs));
      body = (await reopen(offset, first.info.etag)).body;
    }
  }
}

/** The object's info when it holds exactly `bytes`, read so that the info belongs to those bytes. */
async function landed(store: Store, key: string, bytes: Buffer): Promise<ObjectInfo | undefined> {
  const before = await store.head(key);
  if (!before || before.size !== bytes.length) return undefined;
  const data = await readSmall(store, key);
  if (!data || !data.equals(bytes)) return undefined;
  const after = await store.head(key);
  return after && after.etag === before.etag ? after : undefined;
}

/**
 * Reads a small object whole, reading again when its answer was cut short (drivers fail a body
 * shorter than the length the store announced with a retryable error). Undefined when absent.
 */
export async function readSmall(store: Store, key: string, policy: RetryPolicy = DEFAULT_RETRY): Promise<Buffer | undefined> {
  return retrying(store.url, `reading ${key}`, async () => {
    let stream: Readable;
    try {
      stream = await store.read(key);
    } catch (err) {
      if (hasCode(err, 'E_NOT_FOUND')) return undefined;
      throw err;
    }
    return readAll(stream);
  }, policy);
}

/**
 * Passes a read stream through, failing it with `cut(received)` when it ends, breaks or closes before
 * the length the store announced: a read that ends early must never look like a shorter object.
 * With `stallMs`, a source that gives nothing for that long while the reader waits for it counts as
 * cut too (some HTTP clients never tell that a connection closed mid-body; time spent held back by
 * a slow reader does not count).
 */
export function lengthChecked(source: Readable, announced: number, cut: (received: number, cause?: unknown) => Error, stallMs?: number): Readable {
  let received = 0;
  let lastData = Date.now();
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) { received += chunk.length; lastData = Date.now(); cb(null, chunk); },
    flush(cb) { cb(received === announced ? null : cut(received)); },
  });
  source.on('error', (err) => out.destroy(cut(received, err)));
  source.on('close', () => { if (!source.readableEnded) out.destroy(cut(received)); });
  let watch: NodeJS.Timeout | undefined;
  if (stallMs !== undefined) {
    watch = setInterval(() => {
      if (out.writableNeedDrain || source.isPaused() || source.readableEnded) { lastData = Date.now(); return; }
      if (Date.now() - lastData > stallMs) out.destroy(cut(received, new Error(`no data for ${stallMs} ms`)));
    }, Math.max(10, stallMs / 4));
    watch.unref();
  }
  // A reader that stops early releases the connection.
  out.on('close', () => {
    clearInterval(watch);
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

/**
 * Keeps an early error of a streamed body from going unheard (an `error` event without a listener
 * ends the process) while a write is still setting up; the reader of the body meets it later, since
 * a stream that failed throws its error to whoever iterates it.
 */
export function guardBody(body: Body): void {
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) body.on('error', () => undefined);
}
