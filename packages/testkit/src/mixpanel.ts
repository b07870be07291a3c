import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { cutter, sendBody, type CutFaults, type CutKind } from './cut.js';
import { seeded } from './fixtures.js';

export type MixpanelEvent = { event: string; properties: Record<string, unknown> };
export type MixpanelProfile = { $distinct_id: string | number; $properties: Record<string, unknown> };

export interface MixpanelFixtureOptions {
  seed: number;
  /** Days, as `YYYY-MM-DD` (UTC, or the project's zone when `wallClockZoneOffsetHours` is set). */
  days: string[];
  perDay: number;
}

/**
 * Raw Mixpanel export events per day with the quirks a migration meets: `$insert_id`s that repeat
 * (raw exports are not deduplicated), anonymous `$device:` ids that are identified later, time in
 * whole seconds, fractional seconds and milliseconds, `$mp_web_page_view`, Mixpanel internals,
 * geo fields, unicode, and a few events without `$insert_id`. Same seed, same events.
 */
export function mixpanelExport(options: MixpanelFixtureOptions): Map<string, MixpanelEvent[]> {
  const rand = seeded(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const devices = Array.from({ length: 30 }, (_, i) => ({ device: `${hex(12)}-${i}`, user: i % 3 === 0 ? undefined : `mp-user-${i % 18}`, identifyAt: i % 4 === 1 ? 0.5 : 0 }));
  const out = new Map<string, MixpanelEvent[]>();
  for (const [d, day] of options.days.entries()) {
    const start = Date.parse(`${day}T00:00:00Z`);
    const events: MixpanelEvent[] = [];
    for (let i = 0; i < options.perDay; i++) {
      const dev = pick(devices);
      const identified = dev.user !== undefined && (dev.identifyAt === 0 || (d + i / options.perDay) / options.days.length > dev.identifyAt);
      const wall = start + Math.floor(rand() * 86_399_000);
      const style = rand();
      const time = style < 0.6 ? Math.floor(wall / 1000) : style < 0.85 ? Math.round(wall) / 1000 + 0.000123 : wall;
      const name = pick(['$mp_web_page_view', 'Signed Up', 'Added to Cart', 'Kauf abgeschlossen ✓', 'Played Video']);
      const p: Record<string, unknown> = {
        time, distinct_id: identified ? dev.user : `$device:${dev.device}`, $device_id: dev.device,
        $insert_id: hex(32), $mp_api_endpoint: 'api.mixpanel.com', mp_processing_time_ms: wall + 1500, $mp_api_timestamp_ms: wall + 900,
        mp_lib: pick(['web', 'iphone']), $lib_version: '2.47.0', $browser: pick(['Chrome', 'Safari']), $os: pick(['Mac OS X', 'iOS']),
        $current_url: `https://shop.example/${pick(['', 'cart', 'über-uns'])}`, $city: pick(['Berlin', 'São Paulo', 'Tokyo']), $region: pick(['Berlin', 'São Paulo', 'Tokyo']),
        mp_country_code: pick(['DE', 'BR', 'JP']), plan: pick(['free', 'pro']),
      };
      if (identified) p.$user_id = dev.user;
      if (rand() < 0.03) delete p.$insert_id;
      events.push({ event: name, properties: p });
      if (p.$insert_id && rand() < 0.06) events.push({ event: name, properties: { ...p, mp_processing_time_ms: wall + 9000 } });
    }
    out.set(day, events);
  }
  return out;
}

/** Engage profiles for the users of an export. */
export function mixpanelProfiles(seed: number, count: number): MixpanelProfile[] {
  const rand = seeded(seed);
  return Array.from({ length: count }, (_, i) => ({
    $distinct_id: `mp-user-${i}`,
    $properties: { $email: `user${i}@example.com`, $name: `Nutzerin ${i}`, plan: rand() < 0.5 ? 'pro' : 'free', $last_seen: `2024-0${1 + (i % 3)}-1${i % 9}T0${i % 9}:15:00`, $created: '2023-12-01T10:00:00' },
  }));
}

export interface MixpanelApiOptions {
  /** Service account user and secret, and the project id it must name. */
  user: string;
  secret: string;
  projectId: string;
  data: Map<string, MixpanelEvent[]>;
  profiles?: MixpanelProfile[];
  pageSize?: number;
  /** Mixpanel's quotas, enforced with 429: queries per hour and per second (defaults 60 and 3). */
  limits?: { perHour: number; perSecond: number; hourMs?: number };
  /** Extra seeded 429s and 503s on top of the quotas (a "429 storm"). */
  faults?: { seed: number; rate429?: number; rate503?: number; retryAfterSeconds?: number };
  /** Seeded cut exports: resets mid-body, clean early ends, short bodies. */
  cuts?: CutFaults;
  /** False answers plain text even when gzip is asked for (as some proxies do). */
  gzip?: boolean;
}

export interface MixpanelApi {
  url: string;
  requests: Array<{ path: string; status: number; at: number; from?: string; page?: number; cut?: CutKind }>;
  /** Requests answered 429 because a quota was really exceeded (not injected). */
  overQuota: number;
  close(): Promise<void>;
}

/**
 * A local stand-in for Mixpanel's Raw Event Export API (`GET /api/2.0/export`, both dates inclusive,
 * gzip when asked, basic auth with a service account and `project_id`) and Engage
 * (`POST /api/query/engage`, pages with `session_id`). It enforces the query quotas with 429, and
 * can cut export answers (seeded): resets mid-body, clean early ends, short bodies.
 */
export async function startMixpanelApi(options: MixpanelApiOptions): Promise<MixpanelApi> {
  const requests: MixpanelApi['requests'] = [];
  const rand = seeded(options.faults?.seed ?? 1);
  const limits = options.limits ?? { perHour: 60, perSecond: 3 };
  const accepted: number[] = [];
  const cut = cutter(options.cuts);
  const api: MixpanelApi = { url: '', requests, overQuota: 0, close: async () => undefined };
  const server = createServer((req, res) => { void handle(req, res).catch(() => res.destroy()); });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    const record = (status: number, extra: { from?: string; page?: number; cut?: CutKind } = {}) => requests.push({ path: url.pathname, status, at: Date.now(), ...extra });
    if (req.headers.authorization !== `Basic ${Buffer.from(`${options.user}:${options.secret}`).toString('base64')}`) { record(401); return send(res, 401, { error: 'Invalid credentials' }); }
    if (url.searchParams.get('project_id') !== options.projectId) { record(400); return send(res, 400, { error: 'project_id is required for service accounts' }); }
    const now = Date.now();
    const hourMs = limits.hourMs ?? 3_600_000;
    if (accepted.filter((t) => t > now - 1000).length >= limits.perSecond || accepted.filter((t) => t > now - hourMs).length >= limits.perHour) {
      api.overQuota += 1;
      record(429);
      return send(res, 429, { error: 'Query rate limit exceeded' }, { 'retry-after': '1' });
    }
    const f = options.faults;
    if (f) {
      const r = rand();
      if (r < (f.rate429 ?? 0)) { record(429); return send(res, 429, { error: 'rate limited' }, { 'retry-after': String(f.retryAfterSeconds ?? 0) }); }
      if (r < (f.rate429 ?? 0) + (f.rate503 ?? 0)) { record(503); return send(res, 503, { error: 'unavailable' }); }
    }
    accepted.push(now);
    if (req.method === 'GET' && url.pathname === '/api/2.0/export') {
      const from = url.searchParams.get('from_date') ?? '';
      const to = url.searchParams.get('to_date') ?? '';
      if (!/^\d{4}-\d{2}-\d{2}$/.test(from) || !/^\d{4}-\d{2}-\d{2}$/.test(to) || from > to) { record(400, { from }); return send(res, 400, { error: 'from_date and to_date must be YYYY-MM-DD, from_date <= to_date' }); }
      const lines = [...options.data].filter(([day]) => day >= from && day <= to).flatMap(([, evs]) => evs.map((e) => JSON.stringify(e)));
      const text = Buffer.from(lines.length ? `${lines.join('\n')}\n` : '');
      const kind = cut();
      record(200, { from, ...(kind ? { cut: kind } : {}) });
      const gzip = options.gzip !== false && /gzip/.test(String(req.headers['accept-encoding'] ?? ''));
      const body = gzip ? gzipSync(text) : text;
      sendBody(res, body, { 'content-type': 'application/x-ndjson', ...(gzip ? { 'content-encoding': 'gzip' } : {}) }, kind);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/query/engage') {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const page = Number(form.get('page') ?? '0');
      const size = options.pageSize ?? 1000;
      if (page > 0 && form.get('session_id') !== 'sess-1') { record(400, { page }); return send(res, 400, { error: 'session_id is required after the first page' }); }
      const all = options.profiles ?? [];
      record(200, { page });
      return send(res, 200, { page, page_size: size, session_id: 'sess-1', status: 'ok', total: all.length, results: all.slice(page * size, (page + 1) * size) });
    }
    record(404);
    send(res, 404, { error: 'not found' });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return api;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
