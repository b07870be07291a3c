import { HogportError, type Logger } from '@hogport/common';
import { bodyIncomplete, HttpClient, type Breaker } from '@hogport/http';

export interface QueryOptions {
  /** The app host (https://us.posthog.com, https://eu.posthog.com or your own), not the ingestion host. */
  host: string;
  projectId: string;
  personalKey: string;
  timeoutMs?: number;
  maxAttempts?: number;
  backoff?: { baseMs: number; capMs: number };
  /** Shared by every query of a run: a source instance that stopped answering stops the run. */
  breaker?: Breaker;
  log?: Logger;
}

export interface QueryResult {
  columns: string[];
  results: unknown[][];
}

/**
 * Runs HogQL through PostHog's query API (`POST /api/projects/:id/query/`) with hogport's HTTP
 * client: network errors, 408/429/5xx and cut answers are retried; a refused personal key stops the
 * run (every other query would be refused the same way).
 */
export class PostHogQuery {
  private readonly client: HttpClient;
  private readonly path: string;

  constructor(private readonly options: QueryOptions) {
    const base = new URL(options.host.endsWith('/') ? options.host : `${options.host}/`);
    this.path = new URL(`api/projects/${encodeURIComponent(options.projectId)}/query/`, base).pathname;
    this.client = new HttpClient({
      service: "PostHog's query API", origin: base.origin, codes: { unexpected: 'E_QUERY_FAILED', unavailable: 'E_QUERY_FAILED' },
      maxAttempts: options.maxAttempts ?? 5, timeoutMs: options.timeoutMs ?? 120_000,
      backoff: options.backoff ?? { baseMs: 1000, capMs: 30_000 },
      ...(options.breaker ? { breaker: options.breaker } : {}), ...(options.log ? { log: options.log } : {}),
    });
  }

  async hogql(query: string): Promise<QueryResult> {
    const text = (await this.hogqlRaw(query)).toString('utf8');
    const body = JSON.parse(text) as Partial<QueryResult>;
    if (!Array.isArray(body.results)) throw new HogportError('E_QUERY_FAILED', `PostHog's query API answered without results: ${text.slice(0, 300)}`);
    return { columns: body.columns ?? [], results: body.results };
  }

  /** The query API's answer to a HogQL query, as it came (for sources, which store it unchanged). */
  async hogqlRaw(query: string, signal?: AbortSignal): Promise<Buffer> {
    const { value } = await this.client.call({
      method: 'POST', path: this.path, what: 'a HogQL query',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.personalKey}` },
      body: JSON.stringify({ query: { kind: 'HogQLQuery', query } }),
      ...(signal ? { signal } : {}),
      classify: ({ status }) => {
        if (status !== 401 && status !== 403) return undefined;
        return new HogportError('E_QUERY_AUTH', `PostHog's query API refused the personal API key (HTTP ${status}) for project ${this.options.projectId} at ${this.options.host}: check the key has Query Read access to that project, and the project id`, { exitCode: 3, details: { fatal: true } });
      },
      // A page is at most a query's LIMIT rows: read whole. An answer that does not parse was cut
      // (it is stored as it came, so it must be whole).
      read: async ({ body }) => {
        const parts: Buffer[] = [];
        for await (const c of body as AsyncIterable<Buffer>) parts.push(c);
        const raw = Buffer.concat(parts);
        try { JSON.parse(raw.toString('utf8')); } catch (err) { throw bodyIncomplete('a HogQL query', `it is not JSON (${(err as Error).message})`); }
        return raw;
      },
    });
    return value;
  }
}

/** A HogQL string literal. */
export function hogqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A HogQL property access, quoted so any property name is safe. */
export function hogqlProperty(name: string): string {
  return `properties.\`${name.replace(/`/g, '``')}\``;
}
