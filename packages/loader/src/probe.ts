import { HogportError, type Logger } from '@hogport/common';
import { HttpClient, type Reply } from '@hogport/http';

export interface ProbeOptions {
  /** The capture host the load sends to (destination.host). */
  host: string;
  apiKey: string;
  /** The environment variable holding the key, for the fix: never the key itself. */
  apiKeyEnv: string;
  timeoutMs?: number;
  log?: Logger;
}

/**
 * Proves, without sending an event, that `host` is PostHog and takes the project key. Capture
 * answers 200 to any well-formed token and drops events of unknown ones later, so it cannot tell;
 * the flags endpoint on the same host checks the token at once: `POST /flags/?v=2` (or `/decide/?v=3`
 * on instances from before /flags/) with the token and a distinct_id answers 200 with the project's
 * flags, or 401 for a key no project has. A refused key throws with exit code 3; a host whose
 * answers are not PostHog's (HTML, a 404, other JSON), or that cannot be reached, with exit code 2.
 */
export async function probeProjectKey(options: ProbeOptions): Promise<string> {
  const base = new URL(options.host.endsWith('/') ? options.host : `${options.host}/`);
  const client = new HttpClient({
    service: `PostHog at ${base.origin}`, origin: base.origin, codes: { unexpected: 'E_NOT_POSTHOG', unavailable: 'E_POSTHOG_UNAVAILABLE' },
    maxAttempts: 4, timeoutMs: options.timeoutMs ?? 20_000, backoff: { baseMs: 500, capMs: 2000 }, ...(options.log ? { log: options.log } : {}),
  });
  const notPostHog = (what: string) => new HogportError('E_NOT_POSTHOG', `${base.origin}${base.pathname} is not PostHog capture: ${what}. Check destination.host: it is the ingestion host, like https://us.i.posthog.com, https://eu.i.posthog.com or your instance's URL`, { exitCode: 3 });
  const ask = async (path: string, field: 'flags' | 'featureFlags'): Promise<'ok' | 'missing'> => {
    let missing = false;
    const classify = (reply: Reply) => {
      if (reply.status === 401 || reply.status === 403) {
        const personal = options.apiKey.startsWith('phx_') ? ` It holds a personal API key (phx_…): the load needs the project API key (phc_…).` : '';
        return new HogportError('E_POSTHOG_AUTH', `PostHog at ${base.origin} refused the project API key (HTTP ${reply.status}).${personal} Set ${options.apiKeyEnv} to the project API key of the project you import into (Project settings → Project API key), and check destination.host is that project's region`, { exitCode: 3 });
      }
      if (reply.status === 404 || reply.status === 405) { missing = true; return new Missing(); }
      if (reply.status < 500 && reply.status !== 408 && reply.status !== 429) return notPostHog(`${path} answered HTTP ${reply.status} (${reply.text.slice(0, 120).replace(/\s+/g, ' ')})`);
      return undefined;
    };
    await client.call({
      method: 'POST', path: new URL(path, base).pathname + new URL(path, base).search, what: `the project key check (${path})`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: options.apiKey, distinct_id: 'hogport-check' }),
      classify,
      read: async ({ body, headers }) => {
        const parts: Buffer[] = [];
        for await (const c of body as AsyncIterable<Buffer>) parts.push(c);
        const text = Buffer.concat(parts).toString('utf8');
        let parsed: unknown;
        try { parsed = JSON.parse(text); } catch { throw notPostHog(`${path} answered ${String(headers['content-type'] ?? 'something')} that is not JSON (${text.slice(0, 80).replace(/\s+/g, ' ')})`); }
        const value = (parsed as Record<string, unknown> | null)?.[field];
        if (value === null || typeof value !== 'object') throw notPostHog(`${path} answered JSON without "${field}"`);
      },
    }).catch((err: unknown) => { if (!(err instanceof Missing)) throw err; });
    return missing ? 'missing' : 'ok';
  };
  try {
    if (await ask('flags/?v=2', 'flags') === 'ok') return `PostHog at ${base.origin} accepted the project API key (checked with /flags/; no event sent)`;
    if (await ask('decide/?v=3', 'featureFlags') === 'ok') return `PostHog at ${base.origin} accepted the project API key (checked with /decide/; no event sent)`;
    throw notPostHog('neither /flags/ nor /decide/ exists there (HTTP 404)');
  } finally {
    await client.close();
  }
}

/** 404: the endpoint is not there; the older one may be. */
class Missing extends Error {}
