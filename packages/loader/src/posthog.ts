import { HogportError, parseRetryAfter, type Logger, type RateLimit } from '@hogport/common';
import { Breaker, HttpClient, unreachable, type Reply } from '@hogport/http';
import { gzipBatchBody, type Batch, type Destination, type SendOptions, type SendReport } from './destination.js';

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
  /** Every request attempt takes its events from this first; a 429 is reported to it (with Retry-After) so it can slow down. */
  rate?: RateLimit;
  /** Backoff base and cap; tests shorten them. */
  backoff?: { baseMs: number; capMs: number };
  /** Connection failures in a row, across every chunk, that stop the load (default 8). */
  breakerThreshold?: number;
}

/**
 * PostHog capture's `/batch/` endpoint with `historical_migration: true`, gzip bodies and a
 * keep-alive connection pool, through hogport's HTTP client (retries, Retry-After, budget, breaker).
 * Capture's own meaning of statuses: 401/403 stops the whole load at once; 404/405 and a 2xx that is
 * not capture's answer mean the host is not capture; 400 or 413 is thrown with capture's answer so
 * the caller can isolate the refused events. Capture down for several requests in a row, across
 * chunks, stops the load with E_POSTHOG_UNREACHABLE (exit 5) instead of every chunk spending its
 * own retries.
 */
export class PostHogDestination implements Destination {
  readonly name = 'posthog';
  private readonly client: HttpClient;
  private readonly path: string;

  constructor(private readonly options: PostHogOptions) {
    const url = new URL(options.host);
    this.path = `${url.pathname.replace(/\/+$/, '')}/batch/`;
    const breaker = new Breaker({
      ...(options.breakerThreshold ? { threshold: options.breakerThreshold } : {}),
      unreachable: (last, failures) => unreachable('E_POSTHOG_UNREACHABLE', `PostHog capture at ${options.host} could not be reached: ${failures} requests in a row failed (last ${last}). The load stopped; nothing is lost: re-run it once ${url.host} answers (check destination.host and the network)`),
    });
    this.client = new HttpClient({
      service: 'PostHog capture', origin: url.origin, codes: { unexpected: 'E_POSTHOG_UNEXPECTED', unavailable: 'E_POSTHOG_UNAVAILABLE' },
      maxAttempts: options.maxAttempts, timeoutMs: options.timeoutMs, connections: options.concurrency, concurrency: options.concurrency,
      backoff: options.backoff ?? { baseMs: 500, capMs: 30_000 }, breaker, log: options.log,
    });
  }

  async send(batch: Batch, opts: SendOptions = {}): Promise<SendReport> {
    // Built once: every retry of this batch sends the same events with the same uuids and timestamps.
    const body = await gzipBatchBody(this.options.apiKey, batch.events, { historicalMigration: this.options.historicalMigration !== false });
    const what = `batch ${batch.part ?? batch.seq} of chunk ${batch.chunk}`;
    const rate = this.options.rate;
    const { attempts, retries } = await this.client.call({
      method: 'POST', path: this.path, body, what,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.budget ? { budget: opts.budget } : {}),
      ...(rate ? { beforeAttempt: (signal?: AbortSignal) => rate.take(batch.events.length, signal), pacedOn429: rate.throttled !== undefined } : {}),
      classify: (reply) => {
        if (reply.status === 429) rate?.throttled?.(parseRetryAfter(reply.headers['retry-after']));
        return this.refusal(reply, what);
      },
      read: async ({ status, body: answer }) => {
        const text = (await readText(answer)).trim();
        if (!isCaptureAnswer(status, text)) throw this.notCapture(`HTTP ${status} with ${text ? JSON.stringify(text.slice(0, 120)) : 'an empty body'}`);
      },
    });
    return { requests: attempts, retries };
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private refusal(reply: Reply, what: string): Error | undefined {
    const { status, text } = reply;
    if (status === 401 || status === 403) {
      return new HogportError('E_POSTHOG_AUTH', `PostHog refused the project API key (HTTP ${status}) at ${this.options.host}: check the project API key in the environment variable named by destination.apiKeyEnv, and that destination.host is your project's host (us.i.posthog.com, eu.i.posthog.com or your own)`, { exitCode: 3, details: { fatal: true } });
    }
    if (status === 404 || status === 405) return this.notCapture(`HTTP ${status}`);
    if (status === 400 || status === 413) {
      const answer = text.slice(0, 500);
      return new HogportError(status === 413 ? 'E_POSTHOG_TOO_LARGE' : 'E_POSTHOG_REJECTED', `PostHog answered HTTP ${status} to ${what}: ${answer}`, { details: { status, reply: answer, requests: reply.attempts, retries: reply.retries } });
    }
    return undefined;
  }

  private notCapture(answer: string): HogportError {
    return new HogportError('E_POSTHOG_NOT_CAPTURE', `${this.options.host} answered ${answer} to POST ${this.path}: that is not PostHog capture's answer, so nothing counts as sent; check destination.host (https://us.i.posthog.com, https://eu.i.posthog.com or your instance's URL)`, { exitCode: 3, details: { fatal: true } });
  }
}

/**
 * Capture's acknowledgement, and nothing else: the Python capture answers `{"status": 1}`, the Rust
 * capture `{"status": "Ok"}` (with `quota_limited` when a quota applies) or 204 with no body. A proxy's
 * or another host's 200 (an HTML page, `{}`) does not acknowledge anything.
 */
export function isCaptureAnswer(status: number, text: string): boolean {
  if (status === 204) return text === '';
  if (status !== 200) return false;
  try {
    const body = JSON.parse(text) as unknown;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
    const s = (body as { status?: unknown }).status;
    return s === 1 || s === 'Ok';
  } catch {
    return false;
  }
}

/** A capture answer is a few bytes; more than this is not capture's. */
async function readText(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    if (length < 65_536) { parts.push(chunk); length += chunk.length; }
  }
  return Buffer.concat(parts).toString('utf8');
}
