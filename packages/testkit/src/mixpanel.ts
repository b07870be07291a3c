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

/**
 * How a Mixpanel project names its users: `simplified` (Simplified ID Merge: anonymous events on
 * `$device:<id>`, identified ones with `$user_id` and `$device_id`), `bare` (older and mobile SDKs:
 * the bare `$device_id` as the anonymous distinct_id, the same `$user_id` and `$device_id` once
 * identified) or `original` (Original ID Merge: events carry only distinct_id, and identity lives in
 * `$identify`, `$create_alias` and `$merge` events, repeated as Mixpanel repeats them).
 */
export type MixpanelIdMerge = 'simplified' | 'bare' | 'original';

export interface MixpanelIdentityProject {
  data: Map<string, MixpanelEvent[]>;
  profiles: MixpanelProfile[];
  /**
   * What PostHog must end up knowing, from how the project was generated: each user's anonymous id
   * in the form its events carried (the bare device id where no anonymous event carried it), each once.
   */
  links: Array<{ user: string; anon: string; alias?: boolean }>;
  /** Ids the project sends that PostHog refuses to merge (one event's distinct_id among them): they must appear in no link. */
  refused: string[];
}

/**
 * A Mixpanel project whose users move from anonymous to identified ids in one of the ways Mixpanel
 * projects do (`MixpanelIdMerge`), with what a migration must link, and ids PostHog refuses to merge
 * sent where broken SDKs send them (a `$device_id` of "anonymous", a `$identify` from "[object Object]"), one
 * `$merge` of two identified users, and a profile for every user. Same seed, same project.
 */
export function mixpanelIdentityProject(options: { seed: number; days: string[]; perDay: number; idMerge: MixpanelIdMerge }): MixpanelIdentityProject {
  const rand = seeded(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const original = options.idMerge === 'original';
  // Devices 0-5: used anonymously, then identified (halfway through); 6-8: identified from their
  // first event; 9-11: never identified. Users 0-5 own two devices each in turn.
  const devices = Array.from({ length: 12 }, (_, i) => ({
    id: original ? `${hex(8).toUpperCase()}-${hex(4).toUpperCase()}-${i}` : `${hex(14)}-${i}`,
    user: i < 9 ? `mp-member-${i % 6}` : undefined,
    anonymousUntil: i < 6 ? 0.5 : 0,
    anonEvents: false,
  }));
  const anonForm = (id: string) => (options.idMerge === 'simplified' ? `$device:${id}` : id);
  const data = new Map<string, MixpanelEvent[]>();
  const links = new Map<string, { user: string; anon: string; alias?: boolean }>();
  const n = options.days.length * options.perDay;
  let k = 0;
  for (const day of options.days) {
    const start = Date.parse(`${day}T00:00:00Z`);
    const events: MixpanelEvent[] = [];
    for (let i = 0; i < options.perDay; i++, k++) {
      const dev = pick(devices);
      const time = Math.floor((start + Math.floor((i / options.perDay) * 86_000_000)) / 1000);
      const identified = dev.user !== undefined && k / n >= dev.anonymousUntil;
      const p: Record<string, unknown> = { time, $insert_id: hex(32), mp_lib: 'web', $browser: pick(['Chrome', 'Firefox']), mp_country_code: pick(['US', 'GB', 'DE']) };
      if (original) p.distinct_id = identified ? dev.user : dev.id;
      else {
        p.distinct_id = identified ? dev.user : anonForm(dev.id);
        p.$device_id = dev.id;
        if (identified) p.$user_id = dev.user;
      }
      if (!identified) dev.anonEvents = true;
      events.push({ event: pick(['$mp_web_page_view', 'Signed Up', 'Played Video']), properties: p });
      if (original && identified && dev.anonEvents) {
        // Mixpanel records an identify on every login: the same pair over and over, a few as an alias.
        const aliased = Number(dev.id.split('-').at(-1)) % 3 === 0;
        events.push(aliased
          ? { event: '$create_alias', properties: { time, distinct_id: dev.id, alias: dev.user, $insert_id: hex(32), mp_lib: 'web' } }
          : { event: '$identify', properties: { time, distinct_id: dev.user, $identified_id: dev.user, $anon_distinct_id: dev.id, $insert_id: hex(32), mp_lib: 'web' } });
        if (aliased && rand() < 0.5) events.push({ event: '$identify', properties: { time, distinct_id: dev.user, $identified_id: dev.user, $anon_distinct_id: dev.id, $insert_id: hex(32), mp_lib: 'web' } });
        links.set(`${dev.user} ${dev.id}`, { user: dev.user!, anon: dev.id, ...(aliased || links.get(`${dev.user} ${dev.id}`)?.alias ? { alias: true } : {}) });
      }
    }
    data.set(day, events);
  }
  const refused = ['anonymous', '$device:anonymous', '[object Object]'];
  const first = data.get(options.days[0]!)!;
  const t0 = first[0]!.properties.time as number;
  // An integration that names everybody "anonymous".
  first.push({ event: 'Played Video', properties: { time: t0, distinct_id: 'anonymous', $insert_id: hex(32) } });
  if (original) {
    first.push({ event: '$identify', properties: { time: t0, distinct_id: 'mp-member-1', $identified_id: 'mp-member-1', $anon_distinct_id: '[object Object]', $insert_id: hex(32) } });
    first.push({ event: '$merge', properties: { time: t0, $distinct_ids: ['mp-member-1', 'mp-member-2'], $insert_id: hex(32) } });
  } else {
    // A broken SDK's device id on an identified user's event.
    first.push({ event: 'Signed Up', properties: { time: t0, distinct_id: 'mp-member-3', $user_id: 'mp-member-3', $device_id: 'anonymous', $insert_id: hex(32) } });
    for (const dev of devices) {
      if (!dev.user) continue;
      links.set(`${dev.user} ${dev.id}`, { user: dev.user, anon: dev.anonEvents ? anonForm(dev.id) : dev.id });
    }
  }
  const profiles = [...new Set(devices.flatMap((d) => (d.user ? [d.user] : [])))].map((user, i) => ({
    $distinct_id: user,
    $properties: { $email: `${user}@example.com`, plan: i % 2 ? 'pro' : 'free', $last_seen: `${options.days.at(-1)}T12:00:00` },
  }));
  return { data, profiles, links: [...links.values()], refused };
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
 * (`POST /api/query/engage`, pages with `session_id`), and `GET /api/app/me`, which tells a service
 * account the projects it can reach. It enforces the query quotas with 429, and
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
    // The app API is not a query: it needs no project_id and spends no query quota.
    if (req.method === 'GET' && url.pathname === '/api/app/me') {
      record(200);
      return send(res, 200, { status: 'ok', results: { id: 4242, name: options.user, user_name: options.user, projects: { [options.projectId]: { id: Number(options.projectId), name: 'Stand-in project', role: { name: 'Consumer' } } } } });
    }
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
