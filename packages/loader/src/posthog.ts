import { Pool, errors as undiciErrors } from 'undici';
import { HogportError, HOGPORT_VERSION, parseRetryAfter, backoffMs, sleep, type Logger } from '@hogport/common';
import { gzipBatchBody, type Batch, type Destination, type SendOptions, type SendReport } from './destination.js';
import type { RateGate } from '@hogport/common';

export interface PostHogOptions {
  host: string;
  apiKey: string;
  /** Requests in flight at once; also the connection pool size. */
  concurrency: number;
  /** Attempts per request before the batch (and its chunk) gives up until the next run. */
  maxAttempts: number;
  timeoutMs: number;
  log: Logger;
  /** False leaves `historical_migration` out of requests; only on the user's explicit opt-out. */
  historicalMigration?: boolean;
  /** Every request attempt takes its events from this gate first. */
  rate?: RateGate;
  /** Backoff base and cap; tests shorten them. */
  backoff?: { baseMs: number; capMs: number };
}

const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * PostHog capture's `/batch/` endpoint with `historical_migration: true`, gzip bodies and a
 * keep-alive connection pool. Retries 408/429/5xx, timeouts and network errors with exponential
 * backoff and full jitter, honouring Retry-After; a 401/403 stops the whole load at once; a 400 or
 * 413 is thrown with capture's answer so the caller can isolate the refused events.
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

  async send(batch: Batch, opts: SendOptions = {}): Promise<SendReport> {
    const { signal, budget } = opts;
    // Built once: every retry of this batch sends the same events with the same uuids and timestamps.
    const body = await gzipBatchBody(this.options.apiKey, batch.events, { historicalMigration: this.options.historicalMigration !== false });
    const { baseMs, capMs } = this.options.backoff ?? { baseMs: 500, capMs: 30_000 };
    const where = `batch ${batch.part ?? batch.seq} of chunk ${batch.chunk}`;
    let retries = 0;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      await this.options.rate?.take(batch.events.length, signal);
      let status: number | undefined;
      let retryAfterMs: number | undefined;
      let reply = '';
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
        reply = text.slice(0, 500);
        retryAfterMs = parseRetryAfter(res.headers['retry-after']);
      } catch (err) {
        if (signal?.aborted) throw err;
        if (!isNetworkError(err)) throw err;
        reply = (err as Error).message;
      } finally {
        this.release();
      }
      if (status === 401 || status === 403) {
        throw new HogportError('E_POSTHOG_AUTH', `PostHog refused the project API key (HTTP ${status}) at ${this.options.host}: check the project API key in the environment variable named by destination.apiKeyEnv, and that destination.host is your project's host (us.i.posthog.com, eu.i.posthog.com or your own)`, { exitCode: 3, details: { fatal: true } });
      }
      if (status === 404 || status === 405) {
        throw new HogportError('E_POSTHOG_NOT_CAPTURE', `${this.options.host} answered HTTP ${status} to POST ${this.path}: it does not look like PostHog capture; check destination.host (https://us.i.posthog.com, https://eu.i.posthog.com or your instance's URL)`, { exitCode: 3, details: { fatal: true } });
      }
      if (status === 400 || status === 413) {
        throw new HogportError(status === 413 ? 'E_POSTHOG_TOO_LARGE' : 'E_POSTHOG_REJECTED', `PostHog answered HTTP ${status} to ${where}: ${reply}`, { details: { status, reply, requests: attempt, retries } });
      }
      const last = `${status ? `HTTP ${status}` : 'network error'}: ${reply}`;
      if (status !== undefined && !RETRYABLE.has(status)) {
        throw new HogportError('E_POSTHOG_UNEXPECTED', `PostHog answered ${last} to ${where}; the chunk will be retried on the next run`);
      }
      if (attempt >= this.options.maxAttempts) {
        throw new HogportError('E_POSTHOG_UNAVAILABLE', `${where} was not accepted after ${attempt} attempts (last ${last}); the chunk will be retried on the next run`);
      }
      if (budget && budget.left-- <= 0) {
        throw new HogportError('E_POSTHOG_UNAVAILABLE', `chunk ${batch.chunk} used up its retry budget (last ${last}); it will be retried on the next run`);
      }
      retries += 1;
      const backoff = backoffMs(attempt, baseMs, capMs);
      const wait = Math.max(backoff, retryAfterMs ?? 0);
      this.options.log.warn({ chunk: batch.chunk, batch: batch.part ?? batch.seq, status, attempt, waitMs: Math.round(wait) }, 'retrying batch');
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

function isNetworkError(err: unknown): boolean {
  if (err instanceof undiciErrors.UndiciError) return true;
  const code = (err as { code?: string })?.code ?? '';
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET'].includes(code);
}
