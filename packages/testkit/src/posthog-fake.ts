import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { seeded } from './fixtures.js';

/**
 * A local stand-in for PostHog, following the documented contracts rather than what hogport sends:
 *
 * - capture `POST /batch/` (also `/batch`, `/e/`, `/capture/`): gzip detected by magic bytes, by
 *   `Content-Encoding: gzip` or by `?compression=gzip`; `api_key` or `token`; 401 for an unknown
 *   token; 400 for malformed bodies, invalid events, mixed tokens and a uuid repeated in one request;
 *   413 for a body or an event over the limits; seeded faults: 429 with Retry-After, 503, connection
 *   resets, slow answers, and "accepted, then the connection dropped before the answer".
 * - the query API `POST /api/projects/:id/query/` with a personal key, answering the per-chunk count
 *   query `hogport verify` sends over the events accepted so far (and `SELECT 1`). Re-sent events
 *   count as rows until PostHog merges them, as on a real project.
 * - feature flags `POST /flags/?v=2` and the older `POST /decide/?v=3`, the project token in `token`
 *   or `api_key` of a JSON body: 401 with PostHog's JSON error for a missing or unknown token, 400
 *   without a distinct_id, else no flags (the project has none). Unlike capture, which answers 200
 *   to any well-formed token, these check it: the cheap way to prove a project key.
 */
export interface FakePostHog {
  url: string;
  /** Every accepted event, in arrival order (re-sends appear again); empty when `keepEvents` is false. */
  events: Array<Record<string, unknown>>;
  /** Accepted events, re-sends included, and their distinct uuids: kept even without `keepEvents`. */
  accepted: { events: number; uuids: Set<string> };
  /** Every request to capture, with what was done with it. */
  requests: CaptureRequest[];
  /** Queries the query API answered. */
  queries: string[];
  /** Requests to /flags/ and /decide/, with the status answered. */
  flagRequests: Array<{ path: string; status: number }>;
  /** Answer 200 but keep nothing, like a billing-limited project; can be switched while running. */
  billingLimited: boolean;
  /** While set, every capture request is answered 429 with this Retry-After (seconds): a rate-limit storm, switched while running. */
  throttled: number | undefined;
  /** With `timeline`, [ms since the epoch, events] for every accepted request, in order. */
  timeline: Array<[number, number]>;
  /** Capture is down: every capture request's connection is reset before an answer. Switchable. */
  down: boolean;
  /** Not PostHog: every capture and flags request gets 200 with an HTML page (a proxy, a wrong host). Switchable. */
  notCapture: boolean;
  close(): Promise<void>;
}

export interface CaptureRequest {
  status: number;
  /** accepted; refused (4xx/5xx answered); reset (closed before reading); dropped (accepted, closed before answering). */
  outcome: 'accepted' | 'refused' | 'reset' | 'dropped';
  historical_migration: unknown;
  api_key?: string;
  events: number;
  gzip: boolean;
  detail?: string;
}

export interface FakePostHogOptions {
  /** The project token capture accepts. */
  token: string;
  /** Delay before each answer, in ms. */
  delayMs?: number;
  /** Delay before each page of source rows the query API serves (events and persons), in ms. */
  sourceDelayMs?: number;
  /** Uncompressed body limit (413 above it). */
  maxRequestBytes?: number;
  /** Serialised event limit (413 above it). */
  maxEventBytes?: number;
  /** Server-side rules beyond the contract: a message refuses the event (and so the request) with 400. */
  refuse?: (event: Record<string, unknown>) => string | undefined;
  billingLimited?: boolean;
  down?: boolean;
  notCapture?: boolean;
  /** False keeps only counts and uuids, for benchmarks with millions of events. */
  keepEvents?: boolean;
  /** Keep when each accepted request arrived and how many events it held (benchmarks of pacing). */
  timeline?: boolean;
  faults?: {
    seed: number;
    rate429?: number;
    rate503?: number;
    /** Close the connection without reading or answering. */
    rateReset?: number;
    /** Keep the events, then close the connection without answering. */
    rateDropAfterAccept?: number;
    /** Answer after `slowMs` instead of at once. */
    rateSlow?: number;
    slowMs?: number;
    retryAfterSeconds?: number;
  };
  /** An outage of part of capture: 503 for every request holding an event this matches. */
  unavailableFor?: (event: Record<string, unknown>) => boolean;
  /** An instance from before /flags/ existed: only /decide/ answers flags. */
  decideOnly?: boolean;
  /** Enables the query API for this project id and personal API key. */
  query?: { projectId: string; personalKey: string };
  /** A source instance's data, for hogport's PostHog source: events and persons the query API serves. */
  source?: { events: SourceEvent[]; persons?: SourcePerson[] };
}

/** An event row of a source instance. `timestamp` is ISO 8601 with microseconds. */
export interface SourceEvent { uuid: string; event: string; distinct_id: string; properties: Record<string, unknown>; timestamp: string; elements_chain?: string; person_id?: string }
export interface SourcePerson { id: string; properties: Record<string, unknown>; distinct_ids: string[] }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CAPTURE_PATHS = new Set(['/batch', '/batch/', '/e', '/e/', '/capture', '/capture/']);
const FLAGS_PATHS = new Set(['/flags', '/flags/', '/decide', '/decide/']);

/** What a web server that is not PostHog answers: the body drained and ignored, a page of HTML. */
async function notPostHog(req: IncomingMessage, res: ServerResponse): Promise<void> {
  for await (const _ of req) { /* drained, then ignored */ }
  const page = '<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>It works!</h1></body></html>';
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page) });
  res.end(page);
}

export async function startFakePostHog(options: FakePostHogOptions): Promise<FakePostHog> {
  const events: FakePostHog['events'] = [];
  const requests: CaptureRequest[] = [];
  const queries: string[] = [];
  const flagRequests: FakePostHog['flagRequests'] = [];
  const rand = seeded(options.faults?.seed ?? 1);
  const maxRequestBytes = options.maxRequestBytes ?? 20 * 1024 * 1024;
  const maxEventBytes = options.maxEventBytes ?? 1_000_000;
  const server: Server = createServer((req, res) => { void handle(req, res).catch(() => res.destroy()); });
  const fake: FakePostHog = {
    url: '', events, requests, queries, flagRequests, billingLimited: options.billingLimited ?? false, throttled: undefined, timeline: [], down: options.down ?? false, notCapture: options.notCapture ?? false, accepted: { events: 0, uuids: new Set() },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method === 'POST' && /^\/api\/projects\/[^/]+\/query\/?$/.test(url.pathname)) return query(req, res, url);
    if (req.method === 'POST' && FLAGS_PATHS.has(url.pathname) && !(options.decideOnly && url.pathname.startsWith('/flags'))) return flags(req, res, url);
    if (req.method !== 'POST' || !CAPTURE_PATHS.has(url.pathname)) return answer(res, 404, { type: 'not_found' });

    if (fake.down) {
      requests.push({ status: 0, outcome: 'reset', historical_migration: undefined, events: 0, gzip: false });
      req.socket.destroy();
      return;
    }
    if (fake.notCapture) {
      requests.push({ status: 200, outcome: 'refused', historical_migration: undefined, events: 0, gzip: false, detail: 'not capture' });
      return notPostHog(req, res);
    }
    const f = options.faults;
    const roll = f ? rand() : 1;
    let edge = 0;
    const hit = (rate: number | undefined) => { edge += rate ?? 0; return roll < edge; };
    if (f && hit(f.rateReset)) {
      requests.push({ status: 0, outcome: 'reset', historical_migration: undefined, events: 0, gzip: false });
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const wait = (options.delayMs ?? 0) + (f && hit(f.rateSlow) ? f.slowMs ?? 2000 : 0);
    if (wait) await new Promise((r) => setTimeout(r, wait));

    let body: Buffer = Buffer.concat(chunks);
    const gz = body[0] === 0x1f && body[1] === 0x8b;
    const request: CaptureRequest = { status: 0, outcome: 'refused', historical_migration: undefined, events: 0, gzip: gz };
    const refuse = (status: number, reply: Record<string, unknown>, headers: Record<string, string> = {}) => {
      request.status = status;
      request.detail = String(reply.detail ?? reply.type);
      requests.push(request);
      answer(res, status, reply, headers);
    };
    if (gz || req.headers['content-encoding'] === 'gzip' || url.searchParams.get('compression') === 'gzip') {
      try { body = gunzipSync(body); } catch { return refuse(400, { type: 'validation_error', code: 'invalid_payload', detail: 'Malformed request data: failed to decompress gzip' }); }
    }
    if (body.length > maxRequestBytes) return refuse(413, { type: 'validation_error', code: 'payload_too_large', detail: `Request body of ${body.length} bytes exceeds the limit` });
    let parsed: Record<string, unknown>;
    try { parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>; } catch { return refuse(400, { type: 'validation_error', code: 'invalid_payload', detail: 'Malformed request data: invalid JSON' }); }
    if (parsed === null || typeof parsed !== 'object') return refuse(400, { type: 'validation_error', code: 'invalid_payload', detail: 'Malformed request data' });
    const token = (parsed.api_key ?? parsed.token) as unknown;
    request.historical_migration = parsed.historical_migration;
    if (typeof token === 'string') request.api_key = token;
    const batch = Array.isArray(parsed.batch) ? parsed.batch as unknown[] : 'event' in parsed ? [parsed] : undefined;
    request.events = batch?.length ?? 0;
    if (typeof token !== 'string' || token === '') return refuse(401, { type: 'authentication_error', code: 'invalid_api_key', detail: 'API key not valid. You can find your project API key in PostHog project settings.' });
    if (token !== options.token) return refuse(401, { type: 'authentication_error', code: 'invalid_api_key', detail: 'Project API key invalid. You can find your project API key in PostHog project settings.' });
    if (fake.throttled !== undefined) return refuse(429, { type: 'rate_limited', detail: 'Rate limit exceeded' }, { 'retry-after': String(fake.throttled) });
    if (f && hit(f.rate429)) return refuse(429, { type: 'rate_limited', detail: 'Rate limit exceeded' }, { 'retry-after': String(f.retryAfterSeconds ?? 1) });
    if (f && hit(f.rate503)) return refuse(503, { type: 'server_error', detail: 'Service unavailable' });
    if (!batch) return refuse(400, { type: 'validation_error', code: 'invalid_payload', detail: 'Invalid payload: batch must be an array of events' });
    if (options.unavailableFor && batch.some((e) => e !== null && typeof e === 'object' && options.unavailableFor!(e as Record<string, unknown>))) {
      return refuse(503, { type: 'server_error', detail: 'Service unavailable' });
    }

    const seen = new Set<string>();
    for (const item of batch) {
      const problem = invalidEvent(item, token, seen, maxEventBytes);
      if (problem) return refuse(problem.status, { type: 'validation_error', code: 'invalid_payload', detail: problem.detail });
      const rule = options.refuse?.(item as Record<string, unknown>);
      if (rule) return refuse(400, { type: 'validation_error', code: 'invalid_payload', detail: rule });
    }
    if (!fake.billingLimited) {
      if (options.keepEvents !== false) events.push(...(batch as Array<Record<string, unknown>>));
      fake.accepted.events += batch.length;
      if (options.timeline) fake.timeline.push([Date.now(), batch.length]);
      for (const e of batch as Array<Record<string, unknown>>) fake.accepted.uuids.add(String(e.uuid));
    }
    request.status = 200;
    request.outcome = 'accepted';
    requests.push(request);
    if (f && hit(f.rateDropAfterAccept)) {
      request.outcome = 'dropped';
      res.socket?.destroy();
      return;
    }
    answer(res, 200, { status: 1 });
  }

  async function flags(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (fake.down) { flagRequests.push({ path: url.pathname, status: 0 }); req.socket.destroy(); return; }
    if (fake.notCapture) { flagRequests.push({ path: url.pathname, status: 200 }); return notPostHog(req, res); }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const reply = (status: number, body: unknown) => { flagRequests.push({ path: url.pathname, status }); answer(res, status, body); };
    let body: Record<string, unknown>;
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>; } catch { return reply(400, { type: 'validation_error', code: 'invalid_request', detail: 'Failed to parse request: invalid JSON', attr: null }); }
    const token = body?.token ?? body?.api_key;
    if (typeof token !== 'string' || token === '') return reply(401, { type: 'authentication_error', code: 'missing_token', detail: 'No API token provided. Please include a valid API token in your request.', attr: null });
    if (token !== options.token) return reply(401, { type: 'authentication_error', code: 'invalid_token', detail: 'The provided API key is invalid or has expired. Please check your API key and try again.', attr: null });
    if (typeof body.distinct_id !== 'string' || body.distinct_id === '') return reply(400, { type: 'validation_error', code: 'invalid_request', detail: 'The distinct_id field is missing from the request. Please include a valid identifier.', attr: null });
    const requestId = '0190a0a0-0000-7000-8000-00000000f1a9';
    if (url.pathname.startsWith('/flags')) return reply(200, { flags: {}, errorsWhileComputingFlags: false, requestId });
    reply(200, { featureFlags: {}, featureFlagPayloads: {}, errorsWhileComputingFlags: false, requestId });
  }

  async function query(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const q = options.query;
    const project = url.pathname.split('/')[3];
    if (!q || req.headers.authorization !== `Bearer ${q.personalKey}`) return answer(res, 401, { type: 'authentication_error', code: 'authentication_failed', detail: 'Personal API key found in request Authorization header is invalid.' });
    if (project !== q.projectId) return answer(res, 403, { type: 'authentication_error', code: 'permission_denied', detail: 'You don\'t have access to the project.' });
    let text: string | undefined;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { query?: { kind?: string; query?: string } };
      if (body.query?.kind === 'HogQLQuery' && typeof body.query.query === 'string') text = body.query.query;
    } catch { /* answered below */ }
    if (!text) return answer(res, 400, { type: 'validation_error', code: 'parse_error', detail: 'query.kind must be HogQLQuery with a query string' });
    queries.push(text);
    if (/^\s*SELECT\s+1\s*$/i.test(text)) return answer(res, 200, { columns: ['1'], types: ['UInt8'], results: [[1]], hasMore: false });
    if (/^\s*SELECT\s+uuid,/i.test(text) || /FROM\s+person_distinct_ids/i.test(text)) {
      if (options.sourceDelayMs) await new Promise((r) => setTimeout(r, options.sourceDelayMs));
      const page = sourceRows(text, options.source ?? { events: [] });
      if ('error' in page) return answer(res, 400, { type: 'validation_error', code: 'query_error', detail: page.error });
      return answer(res, 200, { columns: page.columns, results: page.rows, hasMore: false });
    }
    const result = countsByChunk(text, events);
    if ('error' in result) return answer(res, 400, { type: 'validation_error', code: 'query_error', detail: result.error });
    answer(res, 200, { columns: ['chunk', 'events', 'uuids'], types: ['String', 'UInt64', 'UInt64'], results: result.rows, hasMore: false });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  fake.url = `http://127.0.0.1:${port}`;
  return fake;
}

function invalidEvent(item: unknown, token: string, seen: Set<string>, maxEventBytes: number): { status: number; detail: string } | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return { status: 400, detail: 'Invalid payload: every event must be an object' };
  const e = item as Record<string, unknown>;
  if (Buffer.byteLength(JSON.stringify(e)) > maxEventBytes) return { status: 413, detail: 'Event too large' };
  const own = e.api_key ?? e.token;
  if (own !== undefined && own !== token) return { status: 400, detail: 'Invalid payload: the batch mixes project tokens' };
  if (typeof e.event !== 'string' || e.event === '') return { status: 400, detail: 'Invalid payload: missing field event' };
  const props = e.properties;
  if (props !== undefined && (props === null || typeof props !== 'object' || Array.isArray(props))) return { status: 400, detail: 'Invalid payload: properties must be an object' };
  const did = e.distinct_id ?? (props as Record<string, unknown> | undefined)?.distinct_id;
  if (did === undefined || did === null || did === '' || (typeof did !== 'string' && typeof did !== 'number')) return { status: 400, detail: 'Invalid payload: missing distinct_id' };
  if (e.uuid !== undefined) {
    if (typeof e.uuid !== 'string' || !UUID.test(e.uuid)) return { status: 400, detail: `Invalid payload: invalid uuid ${JSON.stringify(e.uuid)}` };
    if (seen.has(e.uuid)) return { status: 400, detail: `Invalid payload: duplicate uuid ${e.uuid} in the batch` };
    seen.add(e.uuid);
  }
  if (e.timestamp !== undefined && (typeof e.timestamp !== 'string' || Number.isNaN(Date.parse(e.timestamp)))) return { status: 400, detail: `Invalid payload: invalid timestamp ${JSON.stringify(e.timestamp)}` };
  return undefined;
}

/**
 * Evaluates the per-chunk count query: property filters by equality and IN, timestamp bounds,
 * grouped by one property, with count() and count(DISTINCT uuid). Anything else is a query error,
 * so a change to the query hogport sends cannot pass unnoticed.
 */
function countsByChunk(text: string, events: ReadonlyArray<Record<string, unknown>>): { rows: Array<[string, number, number]> } | { error: string } {
  const prop = String.raw`properties\.\`((?:[^\`]|\`\`)+)\``;
  const select = new RegExp(String.raw`^\s*SELECT\s+${prop}\s+AS\s+chunk\s*,\s*count\(\)\s+AS\s+events\s*,\s*count\(DISTINCT\s+uuid\)\s+AS\s+uuids\s+FROM\s+events\s+WHERE\s+([\s\S]+?)\s+GROUP\s+BY\s+chunk\s+LIMIT\s+(\d+)\s*$`, 'i').exec(text);
  if (!select) return { error: 'unsupported query shape' };
  const group = unquoteIdent(select[1]!);
  const conditions = select[2]!.split(/\s+AND\s+/i);
  const tests: Array<(e: Record<string, unknown>) => boolean> = [];
  const propOf = (e: Record<string, unknown>, name: string) => (e.properties as Record<string, unknown> | undefined)?.[name];
  for (const c of conditions) {
    let m = new RegExp(String.raw`^${prop}\s*=\s*${STR}$`).exec(c.trim());
    if (m) { const [name, value] = [unquoteIdent(m[1]!), unq(m[2]!)]; tests.push((e) => propOf(e, name) === value); continue; }
    m = new RegExp(String.raw`^${prop}\s+IN\s+\(([\s\S]*)\)$`, 'i').exec(c.trim());
    if (m) {
      const name = unquoteIdent(m[1]!);
      const values = new Set([...m[2]!.matchAll(new RegExp(STR, 'g'))].map((v) => unq(v[1]!)));
      tests.push((e) => values.has(String(propOf(e, name))));
      continue;
    }
    m = new RegExp(String.raw`^timestamp\s*(>=|<=|<|>)\s*toDateTime\(${STR}\s*,\s*'UTC'\)$`, 'i').exec(c.trim());
    if (m) {
      const bound = Date.parse(`${m[2]!.replace(' ', 'T')}Z`);
      const op = m[1]!;
      tests.push((e) => {
        const t = Date.parse(String(e.timestamp));
        return op === '>=' ? t >= bound : op === '<=' ? t <= bound : op === '<' ? t < bound : t > bound;
      });
      continue;
    }
    return { error: `unsupported condition: ${c}` };
  }
  const groups = new Map<string, { events: number; uuids: Set<string> }>();
  for (const e of events) {
    if (!tests.every((t) => t(e))) continue;
    const key = String(propOf(e, group));
    const g = groups.get(key) ?? { events: 0, uuids: new Set<string>() };
    g.events += 1;
    g.uuids.add(String(e.uuid));
    groups.set(key, g);
  }
  return { rows: [...groups].slice(0, Number(select[3])).map(([k, g]) => [k, g.events, g.uuids.size]) };
}

function unquoteIdent(s: string): string {
  return s.replace(/``/g, '`');
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const STR = String.raw`'((?:[^'\\]|\\.)*)'`;
const micros = (iso: string) => { const m = /\.(\d{1,6})/.exec(iso); return Date.parse(iso) * 1000 + (m ? Number(m[1]!.padEnd(6, '0').slice(3)) : 0); };
const wall = (s: string) => micros(`${s.replace(' ', 'T')}Z`);
const unq = (s: string) => s.replace(/\\(.)/g, '$1');

/**
 * The pages hogport's PostHog source asks for: events of a day ordered by (timestamp, uuid) after a
 * cursor, and persons with their distinct ids ordered by (person, distinct id) after a cursor.
 */
function sourceRows(text: string, source: { events: SourceEvent[]; persons?: SourcePerson[] }): { columns: string[]; rows: unknown[][] } | { error: string } {
  const limit = /LIMIT\s+(\d+)\s*$/i.exec(text);
  if (!limit) return { error: 'a LIMIT is required' };
  if (/FROM\s+person_distinct_ids/i.test(text)) {
    const after = new RegExp(String.raw`\(person_id,\s*distinct_id\)\s*>\s*\(${STR},\s*${STR}\)`, 'i').exec(text);
    const rows = (source.persons ?? []).flatMap((p) => p.distinct_ids.map((d) => [p.id, d, JSON.stringify(p.properties)] as [string, string, string]))
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
      .filter((r) => !after || r[0] > unq(after[1]!) || (r[0] === unq(after[1]!) && r[1] > unq(after[2]!)));
    return { columns: ['person_id', 'distinct_id', 'properties'], rows: rows.slice(0, Number(limit[1])) };
  }
  const from = new RegExp(String.raw`timestamp\s*>=\s*toDateTime\(${STR},\s*'UTC'\)`, 'i').exec(text);
  const to = new RegExp(String.raw`timestamp\s*<\s*toDateTime\(${STR},\s*'UTC'\)`, 'i').exec(text);
  if (!from || !to || !/ORDER BY\s+timestamp,\s*uuid/i.test(text)) return { error: 'events pages need a day range and ORDER BY timestamp, uuid' };
  const cursor = new RegExp(String.raw`\(timestamp,\s*uuid\)\s*>\s*\(toDateTime64\(${STR},\s*6,\s*'UTC'\),\s*toUUID\(${STR}\)\)`, 'i').exec(text);
  const lo = wall(from[1]!);
  const hi = wall(to[1]!);
  const ct = cursor ? wall(cursor[1]!) : undefined;
  const cu = cursor ? unq(cursor[2]!) : undefined;
  const rows = source.events
    .map((e) => ({ e, t: micros(e.timestamp) }))
    .filter(({ t }) => t >= lo && t < hi)
    .sort((a, b) => a.t - b.t || (a.e.uuid < b.e.uuid ? -1 : 1))
    .filter(({ e, t }) => ct === undefined || t > ct || (t === ct && e.uuid > cu!))
    .slice(0, Number(limit[1]))
    .map(({ e }) => [e.uuid, e.event, e.distinct_id, JSON.stringify(e.properties), e.timestamp, e.elements_chain ?? '']);
  return { columns: ['uuid', 'event', 'distinct_id', 'properties', 'timestamp', 'elements_chain'], rows };
}
