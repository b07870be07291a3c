import type { Readable } from 'node:stream';
import { HogportError, RateGate, readAll, type Logger } from '@hogport/common';
import type { Store } from '@hogport/store';
import { SharedQuota } from './quota.js';
import { bodyIncomplete, HttpClient, jsonLinesComplete, type Breaker, type CallOptions } from '@hogport/http';

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
  /** Shared by every request of a run: a Mixpanel that stopped answering stops the extract. */
  breaker?: Breaker;
}

/**
 * Mixpanel's query quotas, held on the client by every request (retries included) whatever the
 * concurrency: at most `perHour` queries in any hour and `perSecond` in any second. Mixpanel counts
 * them per project, so with `shared` they are held through the store by every process that extracts
 * the project, and the hour's queries outlive a killed process; without it, by this process alone.
 */
export class MixpanelLimiter {
  private readonly hour: RateGate;
  private readonly second: RateGate;
  private readonly shared: SharedQuota | undefined;
  constructor(perHour: number, perSecond: number, windows: { hourMs?: number; secondMs?: number } = {}, shared?: { store: Store; key: string; scope: string; log: Logger }) {
    // Windows a little longer than Mixpanel's: requests arrive with jitter, and one that arrives early
    // must still find its window at the quota.
    const hourMs = windows.hourMs ?? 3_660_000;
    const secondMs = windows.secondMs ?? 1_250;
    this.hour = new RateGate(perHour, { windowMs: hourMs, pace: false });
    this.second = new RateGate(perSecond, { windowMs: secondMs, pace: false });
    this.shared = shared && new SharedQuota({ ...shared, source: 'mixpanel', limits: [{ max: perHour, windowMs: hourMs }, { max: perSecond, windowMs: secondMs }] });
  }

  async take(signal?: AbortSignal): Promise<void> {
    if (this.shared) return this.shared.take(signal);
    await this.hour.take(1, signal);
    await this.second.take(1, signal);
  }
}

/**
 * One day of raw events (`from_date` = `to_date`, both inclusive) from the Raw Event Export API,
 * with `Accept-Encoding: gzip`; the body goes to `write` exactly as it came (gzip or not). The body
 * must be whole before its end reaches `write` (Content-Length, a gzip stream that ends properly, a
 * final newline after a last line that parses): a body that ends early, even cleanly, fails the store
 * write and is retried, never committed short. Every attempt passes the limiter.
 */
export async function downloadDay(day: string, options: MixpanelApiOptions, write: (body: Readable) => Promise<unknown>, signal?: AbortSignal): Promise<void> {
  const url = new URL('/api/2.0/export', options.exportBase);
  url.searchParams.set('from_date', day);
  url.searchParams.set('to_date', day);
  if (options.projectId) url.searchParams.set('project_id', options.projectId);
  await call(options, url, {
    method: 'GET', what: `day ${day}`, headers: { ...headers(options), 'accept-encoding': 'gzip' },
    ...(signal ? { signal } : {}),
    complete: () => [jsonLinesComplete()],
    read: async ({ body }) => { await write(body); },
  });
}

/** Every Engage profile page, in order (`session_id` + `page`), each handed to `write` as it came. */
export async function downloadProfiles(options: MixpanelApiOptions, write: (page: number, body: Buffer) => Promise<unknown>, signal?: AbortSignal): Promise<void> {
  let sessionId: string | undefined;
  for (let page = 0; ; page++) {
    const url = new URL('/api/query/engage', options.queryBase);
    if (options.projectId) url.searchParams.set('project_id', options.projectId);
    const form = new URLSearchParams({ page: String(page), ...(sessionId ? { session_id: sessionId } : {}) });
    const { raw, parsed } = await call(options, url, {
      method: 'POST', what: `profiles page ${page}`, body: form.toString(),
      headers: { ...headers(options), 'content-type': 'application/x-www-form-urlencoded' },
      ...(signal ? { signal } : {}),
      // One page (at most 1,000 profiles) is small: read whole. It is stored as it came, so one that
      // does not parse was cut.
      read: async ({ body }) => {
        const parts: Buffer[] = [];
        for await (const c of body as AsyncIterable<Buffer>) parts.push(c);
        const bytes = Buffer.concat(parts);
        try { return { raw: bytes, parsed: JSON.parse(bytes.toString('utf8')) as { results?: unknown[]; session_id?: string; page_size?: number } }; }
        catch (err) { throw bodyIncomplete(`profiles page ${page}`, `it is not JSON (${(err as Error).message})`); }
      },
    });
    // The next page's request needs this page's session_id.
    await write(page, raw);
    const results = parsed.results ?? [];
    if (results.length === 0 || results.length < (parsed.page_size ?? 1000)) return;
    sessionId = parsed.session_id;
  }
}

/**
 * Proves the credentials with one cheap request, through the run's limiter like every other. A
 * service account asks `GET /api/app/me` on the query host (Mixpanel's documented way to test one),
 * whose answer also lists the projects it can reach; a project secret, which that endpoint does not
 * take, asks the Raw Export API for at most one event of `day`. 401/403 is a refusal (exit code 3).
 */
export async function checkCredentials(options: MixpanelApiOptions, serviceAccount: boolean, day: string, signal?: AbortSignal): Promise<string> {
  const quick = { ...options, maxAttempts: Math.min(options.maxAttempts, 4), timeoutMs: Math.min(options.timeoutMs, 20_000), backoff: { baseMs: 1000, capMs: 3000 } };
  if (serviceAccount) {
    const me = await call(quick, new URL('/api/app/me', options.queryBase), {
      method: 'GET', what: 'the service account (/api/app/me)', headers: headers(options),
      ...(signal ? { signal } : {}),
      read: async ({ body }) => JSON.parse((await readAll(body)).toString('utf8')) as { results?: { projects?: Record<string, unknown> } },
    });
    const projects = me.results?.projects;
    if (options.projectId && projects && typeof projects === 'object' && !Object.hasOwn(projects, options.projectId)) {
      throw new HogportError('E_MIXPANEL_AUTH', `Mixpanel accepted the service account, but it has no access to project ${options.projectId}: give it a role in that project, or check source.projectId`, { exitCode: 3, details: { fatal: true } });
    }
    return `Mixpanel at ${new URL(options.queryBase).origin} accepted the service account${options.projectId ? ` for project ${options.projectId}` : ''}`;
  }
  const url = new URL('/api/2.0/export', options.exportBase);
  url.searchParams.set('from_date', day);
  url.searchParams.set('to_date', day);
  url.searchParams.set('limit', '1');
  if (options.projectId) url.searchParams.set('project_id', options.projectId);
  await call(quick, url, {
    method: 'GET', what: `one event of day ${day}`, headers: headers(options),
    ...(signal ? { signal } : {}),
    read: async ({ body }) => { await readAll(body); },
  });
  return `Mixpanel's Raw Export API at ${new URL(options.exportBase).origin} accepted the project secret`;
}

function headers(options: MixpanelApiOptions): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(options.credentials).toString('base64')}`, accept: 'application/json' };
}

/** One Mixpanel request through hogport's HTTP client, with Mixpanel's meaning of statuses. */
async function call<T>(options: MixpanelApiOptions, url: URL, req: Omit<CallOptions<T>, 'path' | 'beforeAttempt' | 'classify'>): Promise<T> {
  const client = new HttpClient({
    service: 'Mixpanel', origin: url.origin, codes: { unexpected: 'E_MIXPANEL_REFUSED', unavailable: 'E_MIXPANEL_UNAVAILABLE' },
    maxAttempts: options.maxAttempts, timeoutMs: options.timeoutMs, backoff: options.backoff ?? { baseMs: 2000, capMs: 120_000 },
    ...(options.breaker ? { breaker: options.breaker } : {}), log: options.log,
  });
  const { value } = await client.call({
    ...req, path: `${url.pathname}${url.search}`,
    beforeAttempt: (signal) => options.limiter.take(signal),
    classify: ({ status, text }) => {
      if (status !== 401 && status !== 403) return undefined;
      return new HogportError('E_MIXPANEL_AUTH', `Mixpanel refused the credentials (HTTP ${status}: ${text.slice(0, 300)}): check the service account (and source.projectId) or the project secret in the environment variables the definition names`, { exitCode: 3, details: { fatal: true } });
    },
  });
  return value;
}
