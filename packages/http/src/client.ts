import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Pool, getGlobalDispatcher, errors as undiciErrors, type Dispatcher } from 'undici';
import { backoffMs, HogportError, HOGPORT_VERSION, parseRetryAfter, sleep, type Logger } from '@hogport/common';
import type { Breaker } from './breaker.js';
import { CompleteBody, isBodyIncomplete, type BodyCheck } from './complete.js';

/** Statuses that mean "try again later", for every service hogport talks to. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 425, 429, 500, 502, 503, 504]);

/** An answer that is not 2xx, its body read (at most a few KB) for the message. */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  attempts: number;
  retries: number;
}

/** A 2xx answer, its body checked for completeness on the way through. */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable;
}

export interface HttpClientOptions {
  /** The service, in messages: "PostHog capture", "Amplitude". */
  service: string;
  /** Where requests go: `https://host[:port]`. */
  origin: string;
  /** Error codes of this caller: `unexpected` for a status with no retry, `unavailable` past the attempts or budget. */
  codes: { unexpected: string; unavailable: string };
  maxAttempts: number;
  timeoutMs: number;
  /** Keep-alive pool of this many connections, owned by the client; without it the process-wide dispatcher. */
  connections?: number;
  /** Requests in flight at once across every caller of this client (attempts, not retries waiting). */
  concurrency?: number;
  backoff?: { baseMs: number; capMs: number };
  breaker?: Breaker;
  log?: Logger;
}

export interface CallOptions<T> {
  method: 'GET' | 'POST';
  /** Path and query, from the origin. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** What this request is for, in messages: "hour 2024-03-01T05". */
  what: string;
  signal?: AbortSignal;
  /** Retries left, shared by every request that spends it (a chunk's). */
  budget?: { left: number };
  /** Before every attempt, retries included: quota limiters and rate gates. */
  beforeAttempt?: (signal?: AbortSignal) => Promise<void>;
  /**
   * `beforeAttempt` slows down on a 429 itself (a cut shared rate): a 429 with Retry-After then waits
   * just that long, not the growing backoff, which would leave the rate unused long after capture recovered.
   */
  pacedOn429?: boolean;
  /**
   * The caller's meaning of a status that is not 2xx: an error to throw at once, 'retry', or
   * undefined for the shared rule (retryable statuses retried, any other the `unexpected` error).
   */
  classify?: (reply: Reply) => Error | 'retry' | undefined;
  /** Checks a 2xx body must pass before its end reaches the reader (Content-Length always). */
  complete?: () => BodyCheck[];
  /**
   * Reads a 2xx answer. When its body is cut (a reset, a timeout, or a check that fails), whatever
   * `read` throws is a network error and the request is retried, as is `bodyIncomplete` thrown by
   * `read` itself (an answer it finds unfinished); any other throw stops it.
   */
  read: (answer: Answer) => Promise<T>;
}

export interface CallResult<T> {
  value: T;
  /** Requests sent, the first included. */
  attempts: number;
  retries: number;
}

/**
 * The one HTTP client of hogport. A request is retried with exponential backoff and full jitter,
 * honouring Retry-After, on network errors, resets, timeouts, a body cut mid-read (whatever its
 * status line said) and the retryable statuses; up to `maxAttempts` per request and the shared
 * `budget`; each connection failure feeds the breaker, each answer resets it. The abort signal stops
 * a request and any wait at once. Callers keep their own meaning of statuses through `classify`.
 */
export class HttpClient {
  private readonly dispatcher: Dispatcher;
  private readonly owned: Pool | undefined;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly options: HttpClientOptions) {
    const origin = new URL(options.origin).origin;
    this.owned = options.connections ? new Pool(origin, { connections: options.connections, keepAliveTimeout: 30_000 }) : undefined;
    this.dispatcher = this.owned ?? getGlobalDispatcher();
  }

  get breaker(): Breaker | undefined {
    return this.options.breaker;
  }

  async call<T>(call: CallOptions<T>): Promise<CallResult<T>> {
    const { signal, budget } = call;
    const { baseMs, capMs } = this.options.backoff ?? { baseMs: 1000, capMs: 60_000 };
    const origin = new URL(this.options.origin).origin;
    let retries = 0;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      this.options.breaker?.check();
      await call.beforeAttempt?.(signal);
      let last: string;
      let retryAfterMs: number | undefined;
      let connectionFailure = false;
      let paced = false;
      await this.slot();
      try {
        // Again after the wait for a slot: the breaker may have opened meanwhile.
        this.options.breaker?.check();
        let res: Dispatcher.ResponseData;
        try {
          res = await this.dispatcher.request({
            origin, path: call.path, method: call.method,
            headers: { 'user-agent': `hogport/${HOGPORT_VERSION}`, ...call.headers },
            ...(call.body !== undefined ? { body: call.body } : {}),
            headersTimeout: this.options.timeoutMs, bodyTimeout: this.options.timeoutMs,
            ...(signal ? { signal } : {}),
          });
        } catch (err) {
          if (signal?.aborted || !isNetworkError(err)) throw err;
          throw new Retry((err as Error).message, true);
        }
        const status = res.statusCode;
        if (status >= 200 && status < 300) {
          const value = await this.readAnswer(call, res);
          this.options.breaker?.success();
          return { value, attempts: attempt, retries };
        }
        let text: string;
        try {
          text = await shortText(res.body);
        } catch (err) {
          if (signal?.aborted || !isNetworkError(err)) throw err;
          throw new Retry(`HTTP ${status}, then ${(err as Error).message}`, true);
        }
        const reply: Reply = { status, headers: res.headers, text, attempts: attempt, retries };
        const verdict = call.classify?.(reply);
        // 5xx and 408 say the service is not working; anything else is an answer from a working one.
        const failing = status >= 500 || status === 408;
        if (!failing) this.options.breaker?.success();
        if (verdict instanceof Error) throw verdict;
        last = `HTTP ${status}: ${text.slice(0, 300)}`;
        if (verdict !== 'retry' && !RETRYABLE_STATUSES.has(status)) {
          throw new HogportError(this.options.codes.unexpected, `${this.options.service} answered ${last} to ${call.what}; it will be retried on the next run`, { details: { status, reply: text.slice(0, 500) } });
        }
        connectionFailure = failing;
        retryAfterMs = parseRetryAfter(res.headers['retry-after']);
        paced = status === 429 && call.pacedOn429 === true && retryAfterMs !== undefined;
      } catch (err) {
        if (!(err instanceof Retry)) throw err;
        last = err.message;
        connectionFailure = err.connection;
      } finally {
        this.release();
      }
      if (connectionFailure) this.options.breaker?.failure(`${last} (${call.what})`);
      if (attempt >= this.options.maxAttempts) {
        throw new HogportError(this.options.codes.unavailable, `${this.options.service} did not answer ${call.what} after ${attempt} attempts (last ${last}); it will be retried on the next run`, { details: { attempts: attempt, retries } });
      }
      if (budget && budget.left-- <= 0) {
        throw new HogportError(this.options.codes.unavailable, `${call.what} used up its retry budget with ${this.options.service} (last ${last}); it will be retried on the next run`, { details: { attempts: attempt, retries } });
      }
      retries += 1;
      const wait = paced ? retryAfterMs! : Math.max(backoffMs(attempt, baseMs, capMs), retryAfterMs ?? 0);
      this.options.log?.warn({ service: this.options.service, what: call.what, attempt, last: last.slice(0, 200), waitMs: Math.round(wait) }, 'retrying a request');
      await sleep(wait, signal);
    }
  }

  /** Hands the body to the reader through the completeness checks; a cut body becomes a Retry. */
  private async readAnswer<T>(call: CallOptions<T>, res: Dispatcher.ResponseData): Promise<T> {
    const length = res.headers['content-length'];
    const expected = typeof length === 'string' && /^\d+$/.test(length) ? Number(length) : undefined;
    const checked = new CompleteBody(call.what, expected, call.complete?.() ?? []);
    let cut: Error | undefined;
    // Only failures of the body itself make a retry; a reader that fails for its own reasons (a
    // store that refuses the write) stops the request with its own error.
    res.body.on('error', (err: Error) => { cut ??= err; checked.destroy(err); });
    checked.on('error', (err: Error) => { if (isBodyIncomplete(err)) cut ??= err; });
    checked.on('close', () => { if (!res.body.readableEnded) res.body.destroy(); });
    res.body.pipe(checked);
    try {
      const value = await call.read({ status: res.statusCode, headers: res.headers, body: checked });
      if (cut) throw cut;
      return value;
    } catch (err) {
      if (call.signal?.aborted) throw err;
      const broken = cut ?? (isBodyIncomplete(err) ? err as Error : undefined);
      if (broken) throw new Retry(`HTTP ${res.statusCode}, then the body was cut: ${broken.message}`, true);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.owned?.close();
  }

  private async slot(): Promise<void> {
    const limit = this.options.concurrency;
    if (!limit) return;
    if (this.inFlight < limit) { this.inFlight++; return; }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
  }

  private release(): void {
    if (!this.options.concurrency) return;
    this.inFlight--;
    this.waiting.shift()?.();
  }
}

/** A failed attempt that may be tried again. */
class Retry extends Error {
  constructor(message: string, readonly connection: boolean) {
    super(message);
  }
}

/** The first few KB of an error answer's body, for its message; the rest is discarded. */
async function shortText(body: Readable): Promise<string> {
  const parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (length < 4096) { parts.push(chunk); length += chunk.length; }
  }
  return Buffer.concat(parts).toString('utf8').slice(0, 4096);
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET']);

/** Errors of the connection, not of the request: worth another attempt. */
export function isNetworkError(err: unknown): boolean {
  if (err instanceof undiciErrors.InvalidArgumentError || err instanceof undiciErrors.InvalidReturnValueError
    || err instanceof undiciErrors.NotSupportedError || err instanceof undiciErrors.RequestAbortedError
    || err instanceof undiciErrors.ClientDestroyedError || err instanceof undiciErrors.ClientClosedError) return false;
  if (err instanceof undiciErrors.UndiciError) return true;
  if (isBodyIncomplete(err)) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}
