import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { seeded } from './fixtures.js';

/**
 * A local stand-in for PostHog capture's `/batch/`, following the documented contract: gzip detected
 * by magic bytes or Content-Encoding, the token checked (401 when unknown), malformed bodies and
 * events refused with 400, duplicate uuids in one request refused, and optional seeded faults
 * (429 with Retry-After, 503, slow answers). Accepted events are kept for assertions.
 */
export interface CaptureServer {
  url: string;
  /** Every accepted event, in arrival order (re-sends appear again). */
  events: Array<Record<string, unknown>>;
  /** Every request's body envelope fields except the batch, and the answer given. */
  requests: Array<{ status: number; historical_migration: unknown; api_key?: string; events: number }>;
  close(): Promise<void>;
}

export interface CaptureOptions {
  token: string;
  /** Delay before each answer, in ms. */
  delayMs?: number;
  faults?: { seed: number; rate429?: number; rate503?: number; retryAfterSeconds?: number };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function startCaptureServer(options: CaptureOptions): Promise<CaptureServer> {
  const events: CaptureServer['events'] = [];
  const requests: CaptureServer['requests'] = [];
  const rand = seeded(options.faults?.seed ?? 1);
  const server: Server = createServer((req, res) => { void handle(req, res); });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    if (req.method !== 'POST' || !(req.url ?? '').startsWith('/batch')) return answer(res, 404, { error: 'not found' });
    let body: Buffer = Buffer.concat(chunks);
    const gz = body[0] === 0x1f && body[1] === 0x8b;
    if (gz || req.headers['content-encoding'] === 'gzip') {
      try { body = gunzipSync(body); } catch { return answer(res, 400, { type: 'validation_error', detail: 'Malformed request data: bad gzip' }); }
    }
    let parsed: Record<string, unknown>;
    try { parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>; } catch { return answer(res, 400, { type: 'validation_error', detail: 'Malformed request data: invalid JSON' }); }
    const token = (parsed.api_key ?? parsed.token) as string | undefined;
    const batch = parsed.batch;
    const record = (status: number) => requests.push({ status, historical_migration: parsed.historical_migration, ...(token !== undefined ? { api_key: token } : {}), events: Array.isArray(batch) ? batch.length : 0 });
    if (!token) { record(401); return answer(res, 401, { type: 'authentication_error', detail: 'API key not valid. You can find your project API key in PostHog project settings.' }); }
    if (token !== options.token) { record(401); return answer(res, 401, { type: 'authentication_error', detail: 'Project API key invalid.' }); }
    const f = options.faults;
    if (f) {
      const r = rand();
      if (r < (f.rate429 ?? 0)) { record(429); return answer(res, 429, { type: 'rate_limited' }, { 'retry-after': String(f.retryAfterSeconds ?? 1) }); }
      if (r < (f.rate429 ?? 0) + (f.rate503 ?? 0)) { record(503); return answer(res, 503, { type: 'server_error' }); }
    }
    if (!Array.isArray(batch)) { record(400); return answer(res, 400, { type: 'validation_error', detail: 'batch must be an array' }); }
    const seen = new Set<string>();
    for (const e of batch as Array<Record<string, unknown>>) {
      const did = e.distinct_id ?? (e.properties as Record<string, unknown> | undefined)?.distinct_id;
      if (typeof e.event !== 'string' || e.event === '' || did === undefined || did === '') { record(400); return answer(res, 400, { type: 'validation_error', detail: 'Invalid payload: event and distinct_id are required' }); }
      if (e.uuid !== undefined) {
        if (typeof e.uuid !== 'string' || !UUID.test(e.uuid)) { record(400); return answer(res, 400, { type: 'validation_error', detail: `Invalid payload: invalid uuid ${String(e.uuid)}` }); }
        if (seen.has(e.uuid)) { record(400); return answer(res, 400, { type: 'validation_error', detail: `duplicate uuid ${e.uuid} in batch` }); }
        seen.add(e.uuid);
      }
      if (e.timestamp !== undefined && Number.isNaN(Date.parse(String(e.timestamp)))) { record(400); return answer(res, 400, { type: 'validation_error', detail: 'Invalid timestamp' }); }
    }
    events.push(...(batch as Array<Record<string, unknown>>));
    record(200);
    answer(res, 200, { status: 1 });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, events, requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
