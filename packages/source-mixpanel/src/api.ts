import { PassThrough, type Readable } from 'node:stream';
import { request, errors as undiciErrors } from 'undici';
import { backoffMs, HogportError, HOGPORT_VERSION, parseRetryAfter, RateGate, sleep, type Logger } from '@hogport/common';

export interface MixpanelApiOptions {
  /** Base of the export host (https://data.mixpanel.com) and of the query host (https://mixpanel.com). */
  exportBase: string;
  queryBase: string;
  projectId?: string;
  /** "user:secret" for a service account, "secret:" for a project secret. */
  credentials: string;
  maxAttempts: number;
  timeoutMs: number;
  log: Logger;
  limiter: MixpanelLimiter;
  backoff?: { baseMs: number; capMs: number };
}

/**
 * Mixpanel's query quotas, held on the client by every request of the run whatever the concurrency
 * (retries included): at most `perHour` queries in any hour and `perSecond` in any second.
 */
export class MixpanelLimiter {
  private readonly hour: RateGate;
  private readonly second: RateGate;
  constructor(perHour: number, perSecond: number, windows: { hourMs?: number; secondMs?: number } = {}) {
    // Windows a little longer than Mixpanel's: requests arrive with jitter, and one that arrives early
    // must still find its window at the quota.
    this.hour = new RateGate(perHour, { windowMs: windows.hourMs ?? 3_660_000, pace: false });
    this.second = new RateGate(perSecond, { windowMs: windows.secondMs ?? 1_250, pace: false });
  }

  async take(signal?: AbortSignal): Promise<void> {
    await this.hour.take(1, signal);
    await this.second.take(1, signal);
  }
}

/**
 * One day of raw events (`from_date` = `to_date`, both inclusive) from the Raw Event Export API,
 * with `Accept-Encoding: gzip`; the body goes to `write` exactly as it came (gzip or not).
 * 429 and 5xx are retried with backoff, honouring Retry-After; every attempt passes the limiter.
 */
export async function downloadDay(day: string, options: MixpanelApiOptions, write: (body: Readable) => Promise<unknown>, signal?: AbortSignal): Promise<void> {
  const url = new URL('/api/2.0/export', options.exportBase);
  url.searchParams.set('from_date', day);
  url.searchParams.set('to_date', day);
  if (options.projectId) url.searchParams.set('project_id', options.projectId);
  await withRetries(`day ${day}`, options, signal, async () => {
    const res = await request(url, {
      method: 'GET', headers: { ...headers(options), 'accept-encoding': 'gzip' },
      headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, ...(signal ? { signal } : {}),
    });
    if (res.statusCode !== 200) return { status: res.statusCode, detail: (await res.body.text()).slice(0, 300), retryAfter: parseRetryAfter(res.headers['retry-after']) };
    const body = new PassThrough();
    res.body.on('error', (err) => body.destroy(err));
    res.body.pipe(body);
    await write(body);
    return undefined;
  });
}

/** Every Engage profile page, in order (`session_id` + `page`), each handed to `write` as it came. */
export async function downloadProfiles(options: MixpanelApiOptions, write: (page: number, body: Buffer) => Promise<unknown>, signal?: AbortSignal): Promise<void> {
  let sessionId: string | undefined;
  for (let page = 0; ; page++) {
    const url = new URL('/api/query/engage', options.queryBase);
    if (options.projectId) url.searchParams.set('project_id', options.projectId);
    const form = new URLSearchParams({ page: String(page), ...(sessionId ? { session_id: sessionId } : {}) });
    let body: Buffer | undefined;
    await withRetries(`profiles page ${page}`, options, signal, async () => {
      const res = await request(url, {
        method: 'POST', body: form.toString(), headers: { ...headers(options), 'content-type': 'application/x-www-form-urlencoded' },
        headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, ...(signal ? { signal } : {}),
      });
      if (res.statusCode !== 200) return { status: res.statusCode, detail: (await res.body.text()).slice(0, 300), retryAfter: parseRetryAfter(res.headers['retry-after']) };
      body = Buffer.from(await res.body.arrayBuffer());
      return undefined;
    });
    // One page (at most 1,000 profiles) is small; the next page's request needs its session_id.
    const parsed = JSON.parse(body!.toString('utf8')) as { results?: unknown[]; session_id?: string; page_size?: number };
    await write(page, body!);
    const results = parsed.results ?? [];
    if (results.length === 0 || results.length < (parsed.page_size ?? 1000)) return;
    sessionId = parsed.session_id;
  }
}

function headers(options: MixpanelApiOptions): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(options.credentials).toString('base64')}`, 'user-agent': `hogport/${HOGPORT_VERSION}`, accept: 'application/json' };
}

type Attempt = () => Promise<{ status: number; detail: string; retryAfter?: number | undefined } | undefined>;

async function withRetries(what: string, options: MixpanelApiOptions, signal: AbortSignal | undefined, attempt: Attempt): Promise<void> {
  const { baseMs, capMs } = options.backoff ?? { baseMs: 2000, capMs: 120_000 };
  for (let n = 1; ; n++) {
    signal?.throwIfAborted();
    await options.limiter.take(signal);
    let failure: Awaited<ReturnType<Attempt>>;
    try {
      failure = await attempt();
    } catch (err) {
      if (signal?.aborted) throw err;
      if (!(err instanceof undiciErrors.UndiciError) && !['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes((err as { code?: string }).code ?? '') && !/terminated|aborted|premature/i.test((err as Error).message)) throw err;
      failure = { status: 0, detail: (err as Error).message };
    }
    if (!failure) return;
    const { status, detail } = failure;
    if (status === 401 || status === 403) {
      throw new HogportError('E_MIXPANEL_AUTH', `Mixpanel refused the credentials (HTTP ${status}: ${detail}): check the service account (and source.projectId) or the project secret in the environment variables the definition names`, { exitCode: 3, details: { fatal: true } });
    }
    const retryable = status === 0 || status === 429 || status >= 500;
    const last = status ? `HTTP ${status}: ${detail}` : detail;
    if (!retryable) throw new HogportError('E_MIXPANEL_REFUSED', `Mixpanel answered ${last} for ${what}`);
    if (n >= options.maxAttempts) throw new HogportError('E_MIXPANEL_UNAVAILABLE', `${what} could not be exported after ${n} attempts (last ${last}); it will be retried on the next run`);
    const wait = Math.max(backoffMs(n, baseMs, capMs), failure.retryAfter ?? 0);
    options.log.warn({ what, status, attempt: n, waitMs: Math.round(wait) }, 'retrying the Mixpanel request');
    await sleep(wait, signal);
  }
}
