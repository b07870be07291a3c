import { request, errors as undiciErrors } from 'undici';
import { HogportError, HOGPORT_VERSION, sleep } from '@hogport/common';

export interface QueryOptions {
  /** The app host (https://us.posthog.com, https://eu.posthog.com or your own), not the ingestion host. */
  host: string;
  projectId: string;
  personalKey: string;
  timeoutMs?: number;
  maxAttempts?: number;
}

export interface QueryResult {
  columns: string[];
  results: unknown[][];
}

/** Runs HogQL through PostHog's query API (`POST /api/projects/:id/query/`), retrying 429 and 5xx. */
export class PostHogQuery {
  constructor(private readonly options: QueryOptions) {}

  async hogql(query: string): Promise<QueryResult> {
    const text = (await this.hogqlRaw(query)).toString('utf8');
    const body = JSON.parse(text) as Partial<QueryResult>;
    if (!Array.isArray(body.results)) throw new HogportError('E_QUERY_FAILED', `PostHog's query API answered without results: ${text.slice(0, 300)}`);
    return { columns: body.columns ?? [], results: body.results };
  }

  /** The query API's answer to a HogQL query, as it came (for sources, which store it unchanged). */
  async hogqlRaw(query: string): Promise<Buffer> {
    const url = new URL(`api/projects/${encodeURIComponent(this.options.projectId)}/query/`, this.options.host.endsWith('/') ? this.options.host : `${this.options.host}/`);
    const maxAttempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      let status = 0;
      let text = '';
      try {
        const res = await request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.personalKey}`, 'user-agent': `hogport/${HOGPORT_VERSION}` },
          body: JSON.stringify({ query: { kind: 'HogQLQuery', query } }),
          headersTimeout: this.options.timeoutMs ?? 120_000, bodyTimeout: this.options.timeoutMs ?? 120_000,
        });
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        if (!(err instanceof undiciErrors.UndiciError) && !(err as { code?: string }).code) throw err;
        text = (err as Error).message;
      }
      if (status === 200) return Buffer.from(text, 'utf8');
      if (status === 401 || status === 403) {
        throw new HogportError('E_QUERY_AUTH', `PostHog's query API refused the personal API key (HTTP ${status}) for project ${this.options.projectId} at ${this.options.host}: check the key has Query Read access to that project, and the project id`, { exitCode: 3 });
      }
      const retryable = status === 0 || status === 429 || status >= 500;
      if (!retryable || attempt >= maxAttempts) {
        throw new HogportError('E_QUERY_FAILED', `PostHog's query API answered ${status ? `HTTP ${status}` : 'with a network error'}: ${text.slice(0, 300)}`);
      }
      await sleep(Math.min(30_000, 1000 * 2 ** (attempt - 1)));
    }
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
