import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { Pool, errors as undiciErrors } from 'undici';
import { HogportError, HOGPORT_VERSION, type Logger } from '@hogport/common';
import { batchBody, type Batch, type Destination, type SendReport } from './destination.js';

const gzip = promisify(gzipCb);

export interface PostHogOptions {
  host: string;
  apiKey: string;
  /** Requests in flight at once; also the connection pool size. */
  concurrency: number;
  maxAttempts: number;
  timeoutMs: number;
  log: Logger;
  /** Backoff base and cap; tests shorten them. */
  backoff?: { baseMs: number; capMs: number };
}

const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * PostHog capture's `/batch/` endpoint with `historical_migration: true`, gzip bodies and a
 * keep-alive connection pool. Retries 408/429/5xx and network errors with exponential backoff and
 * full jitter, honouring Retry-After; a 401/403 stops the whole load at once.
 */
export class PostHogDestination implements Destination {
  readonly name = 'posthog';
  private readonly pool: Pool;
  private readonly path: string;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly options: PostHogOptions) {
    const url = new URL(options.host);
    this.path = `${url.pathname.replace(/\/+$/, '')}/batch/`;
    this.pool = new Pool(url.origin, { connections: options.concurrency, keepAliveTimeout: 30_000, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs });
  }

  async send(batch: Batch, signal?: AbortSignal): Promise<SendReport> {
    const body = await gzip(batchBody(this.options.apiKey, batch.events));
    const { baseMs, capMs } = this.options.backoff ?? { baseMs: 500, capMs: 30_000 };
    let retries = 0;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let status: number | undefined;
      let retryAfterMs: number | undefined;
      let detail = '';
      await this.slot();
      try {
        const res = await this.pool.request({
          path: this.path, method: 'POST', body,
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'user-agent': `hogport/${HOGPORT_VERSION}` },
          ...(signal ? { signal } : {}),
        });
        status = res.statusCode;
        const text = await res.body.text();
        if (status >= 200 && status < 300) return { requests: attempt, retries };
        detail = text.slice(0, 300);
        retryAfterMs = parseRetryAfter(res.headers['retry-after']);
      } catch (err) {
        if (signal?.aborted) throw err;
        if (!isNetworkError(err)) throw err;
        detail = (err as Error).message;
      } finally {
        this.release();
      }
      if (status === 401 || status === 403) {
        throw new HogportError('E_POSTHOG_AUTH', `PostHog refused the project API key (HTTP ${status}) at ${this.options.host}: check the key in the environment variable named by destination.apiKeyEnv and that destination.host is your project's region`, { exitCode: 3, details: { fatal: true } });
      }
      if (status !== undefined && !RETRYABLE.has(status)) {
        throw new HogportError(status === 413 ? 'E_POSTHOG_TOO_LARGE' : 'E_POSTHOG_REJECTED', `PostHog answered HTTP ${status} to batch ${batch.seq} of chunk ${batch.chunk}: ${detail}`);
      }
      if (attempt >= this.options.maxAttempts) {
        throw new HogportError('E_POSTHOG_UNAVAILABLE', `batch ${batch.seq} of chunk ${batch.chunk} was not accepted after ${attempt} attempts (last: ${status ?? 'network error'} ${detail}); the chunk will be retried on the next run`);
      }
      retries += 1;
      const backoff = Math.random() * Math.min(capMs, baseMs * 2 ** (attempt - 1));
      const wait = Math.max(backoff, retryAfterMs ?? 0);
      this.options.log.warn({ chunk: batch.chunk, batch: batch.seq, status, attempt, waitMs: Math.round(wait) }, 'retrying batch');
      await sleep(wait, signal);
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /** Bounds requests in flight across every chunk that shares this destination. */
  private async slot(): Promise<void> {
    if (this.inFlight < this.options.concurrency) { this.inFlight++; return; }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
  }

  private release(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }
}

/** Retry-After as seconds or an HTTP date, in ms; capped so a bad header cannot stall a load for hours. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const seconds = Number(v);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(v) - now;
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.min(ms, 10 * 60_000);
}

function isNetworkError(err: unknown): boolean {
  if (err instanceof undiciErrors.UndiciError) return true;
  const code = (err as { code?: string })?.code ?? '';
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET'].includes(code);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(signal!.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
