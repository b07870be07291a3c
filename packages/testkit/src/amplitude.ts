import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import yazl from 'yazl';
import { cutter, sendBody, type CutFaults, type CutKind } from './cut.js';
import { seeded } from './fixtures.js';

/** An Amplitude export record, as the Export API and the S3 export write it. */
export type AmplitudeRecord = Record<string, unknown>;

export interface AmplitudeFixtureOptions {
  seed: number;
  /** Upload hours, as chunk ids (`2024-03-01T05`). */
  hours: string[];
  perHour: number;
  /** Devices the records are spread over (default 40); users are about five in eight of them. */
  devices?: number;
  projectId?: number;
}

const WEB_EVENTS = ['[Amplitude] Page Viewed', '[Amplitude] Element Clicked', '[Amplitude] Element Changed', 'Signed Up', 'Purchase ✓', 'Suche gestartet'];
const APP_EVENTS = ['Opened App', 'Tapped Button', 'Purchase ✓', 'session_start', 'session_end'];

const ampTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '').padEnd(23, '0') + '000';

/**
 * Realistic Amplitude export records per upload hour, with the quirks migrations trip on: devices that
 * are anonymous first and identified later (and some users on several devices), late events (event
 * time days before the upload hour), "EMPTY" user properties, `initial_*` properties, session_id -1,
 * groups with group properties, unicode, session_start/session_end, records with only `$insert_id`.
 * The same seed gives the same records.
 */
export function amplitudeExport(options: AmplitudeFixtureOptions): Map<string, AmplitudeRecord[]> {
  const rand = seeded(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const deviceCount = options.devices ?? 40;
  const users = Math.max(1, Math.round((deviceCount * 25) / 40));
  const devices = Array.from({ length: deviceCount }, (_, i) => ({
    device: `${hex(8)}-DEV-${i}`.toUpperCase(), user: i % 4 === 0 ? undefined : `user-${i % users}`, web: i % 2 === 0,
    identifiedAfter: i % 5 === 1 ? 0.5 : 0, amplitudeId: 100_000 + i,
  }));
  const out = new Map<string, AmplitudeRecord[]>();
  let eventId = 0;
  for (const [h, hour] of options.hours.entries()) {
    const upload = Date.parse(`${hour}:00:00Z`);
    const records: AmplitudeRecord[] = [];
    for (let i = 0; i < options.perHour; i++) {
      const d = pick(devices);
      const late = rand() < 0.1 ? Math.floor(rand() * 3 * 86_400_000) : 0;
      const at = upload + Math.floor(rand() * 3_600_000) - late - 60_000;
      const identified = d.user !== undefined && (d.identifiedAfter === 0 || (h + i / options.perHour) / options.hours.length > d.identifiedAfter);
      const event = pick(d.web ? WEB_EVENTS : APP_EVENTS);
      const sessionId = rand() < 0.1 ? -1 : Math.floor(at / 1_800_000) * 1_800_000;
      const r: AmplitudeRecord = {
        $insert_id: `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`.toUpperCase(),
        amplitude_id: d.amplitudeId, app: options.projectId ?? 187520, event_id: ++eventId, event_type: event,
        user_id: identified ? d.user : null, device_id: d.device, session_id: sessionId,
        event_time: ampTime(at), client_event_time: ampTime(at - 150), server_received_time: ampTime(upload + 1000), server_upload_time: ampTime(upload + 1200),
        client_upload_time: ampTime(upload + 900), processed_time: ampTime(upload + 2000),
        event_properties: {}, user_properties: {}, group_properties: {}, groups: {},
        platform: d.web ? 'Web' : 'iOS', os_name: d.web ? pick(['Chrome', 'Firefox', 'Safari']) : 'ios', os_version: d.web ? '120' : '17.4',
        device_family: d.web ? pick(['Mac OS X', 'Windows']) : 'Apple iPhone', device_type: d.web ? null : 'Apple iPhone 15', device_model: d.web ? null : 'iPhone15,2',
        device_brand: null, device_manufacturer: d.web ? null : 'Apple', device_carrier: null,
        language: pick(['English', 'Deutsch', '日本語']), library: d.web ? 'amplitude-ts/2.5.1' : 'amplitude-swift/1.13.6', version_name: d.web ? null : '3.2.1',
        ip_address: `198.51.100.${Math.floor(rand() * 250)}`, country: pick(['Germany', 'Japan', 'United States']), region: pick(['Berlin', 'Tokyo', 'California']), city: pick(['Berlin', 'Tōkyō', 'San José']),
        dma: null, location_lat: null, location_lng: null, adid: null, idfa: null, data: { path: '/2/httpapi' },
      };
      if (rand() < 0.85) r.uuid = `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`;
      if (event === '[Amplitude] Page Viewed') {
        const p = pick(['/', '/pricing', '/blog/über']);
        r.event_properties = { '[Amplitude] Page URL': `https://example.com${p}`, '[Amplitude] Page Domain': 'example.com', '[Amplitude] Page Path': p, '[Amplitude] Page Title': 'Example', '[Amplitude] Referrer': 'https://www.google.com/' };
      } else if (event.startsWith('[Amplitude] Element')) {
        r.event_properties = { '[Amplitude] Element Tag': 'button', '[Amplitude] Element Text': 'Buy ✓' };
      } else if (event === 'Purchase ✓') {
        r.event_properties = { amount: Math.round(rand() * 10_000) / 100, currency: 'EUR' };
      }
      if (identified) {
        r.user_properties = { plan: pick(['free', 'pro', 'EMPTY']), seats: Math.floor(rand() * 20), initial_utm_source: pick(['google', 'EMPTY', 'newsletter']), initial_referrer: 'https://www.google.com/', email_domain: 'example.com' };
      }
      if (rand() < 0.2) {
        const company = pick(['acme', 'globex', 'initech']);
        r.groups = rand() < 0.5 ? { company } : { company: [company] };
        r.group_properties = rand() < 0.5 ? { company: { [company]: { plan: pick(['team', 'enterprise']), size: Math.floor(rand() * 500) } } } : {};
      }
      records.push(r);
    }
    out.set(hour, records);
  }
  return out;
}

export interface AmplitudeZipOptions {
  projectId?: number;
  /** Files per hour (`#0`, `#1`, …). */
  partsPerHour?: number;
  /** Hours whose files are plain JSON despite their .json.gz names. */
  plainHours?: string[];
  /** Extra entries, e.g. a zip bomb. */
  extra?: Array<{ name: string; data: Buffer }>;
}

/** The entries of an Amplitude export for some hours: `{project}/{project}_{date}_{H}#{N}.json.gz`. */
export function amplitudeEntries(hours: Map<string, AmplitudeRecord[]>, options: AmplitudeZipOptions = {}): Array<{ name: string; data: Buffer }> {
  const project = options.projectId ?? 187520;
  const parts = options.partsPerHour ?? 2;
  const entries: Array<{ name: string; data: Buffer }> = [];
  for (const [hour, records] of hours) {
    const [date, h] = hour.split('T') as [string, string];
    for (let n = 0; n < parts; n++) {
      const slice = records.filter((_, i) => i % parts === n);
      const text = Buffer.from(slice.map((r) => JSON.stringify(r)).join('\n') + (slice.length ? '\n' : ''));
      entries.push({ name: `${project}/${project}_${date}_${Number(h)}#${n}.json.gz`, data: options.plainHours?.includes(hour) ? text : gzipSync(text) });
    }
  }
  return [...entries, ...(options.extra ?? [])];
}

/** A zip as the Export API returns it. */
export async function zipOf(entries: Array<{ name: string; data: Buffer }>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(e.data, e.name, { compress: false });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export interface AmplitudeApiOptions {
  apiKey: string;
  secretKey: string;
  data: Map<string, AmplitudeRecord[]>;
  zip?: AmplitudeZipOptions;
  /** Zip size over which the answer is 400, like the Export API's 4 GB limit. */
  maxBytes?: number;
  /** Hours whose zip is cut short (a complete HTTP answer holding a damaged archive). */
  truncate?: string[];
  /** Extra entries per hour (a zip bomb). */
  extra?: Record<string, Array<{ name: string; data: Buffer }>>;
  faults?: { seed: number; rate429?: number; rate503?: number; retryAfterSeconds?: number };
  /** Seeded cut downloads: resets mid-body, clean early ends, short zips. */
  cuts?: CutFaults;
}

export interface AmplitudeApi {
  url: string;
  /** Every request, with how its answer was cut, if it was. */
  requests: Array<{ start: string; end: string; status: number; cut?: CutKind }>;
  /** The whole zip of each hour answered 200, as the last answer sent it (cut or not). */
  zips: Map<string, Buffer>;
  close(): Promise<void>;
}

/**
 * A local stand-in for Amplitude's Export API: `GET /api/2/export?start=YYYYMMDDTHH&end=YYYYMMDDTHH`
 * (inclusive, UTC) with HTTP basic auth; 404 when no data falls in the range, 400 past the size
 * limit or for a malformed range, 401 for a wrong key, seeded 429/503 and seeded cut downloads.
 */
export async function startAmplitudeExportApi(options: AmplitudeApiOptions): Promise<AmplitudeApi> {
  const requests: AmplitudeApi['requests'] = [];
  const zips = new Map<string, Buffer>();
  const rand = seeded(options.faults?.seed ?? 1);
  const cut = cutter(options.cuts);
  const server = createServer((req, res) => { void handle(req, res).catch(() => res.destroy()); });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method !== 'GET' || url.pathname !== '/api/2/export') return send(res, 404, 'Not found');
    const start = url.searchParams.get('start') ?? '';
    const end = url.searchParams.get('end') ?? '';
    const log = (status: number) => requests.push({ start, end, status });
    const expected = `Basic ${Buffer.from(`${options.apiKey}:${options.secretKey}`).toString('base64')}`;
    if (req.headers.authorization !== expected) { log(401); return send(res, 401, 'Invalid API key'); }
    const f = options.faults;
    if (f) {
      const r = rand();
      if (r < (f.rate429 ?? 0)) { log(429); return send(res, 429, 'Too many requests', { 'retry-after': String(f.retryAfterSeconds ?? 0) }); }
      if (r < (f.rate429 ?? 0) + (f.rate503 ?? 0)) { log(503); return send(res, 503, 'Service unavailable'); }
    }
    const hour = /^(\d{4})(\d{2})(\d{2})T(\d{2})$/;
    const a = hour.exec(start);
    const b = hour.exec(end);
    if (!a || !b) { log(400); return send(res, 400, 'start and end must be YYYYMMDDTHH'); }
    const from = `${a[1]}-${a[2]}-${a[3]}T${a[4]}`;
    const to = `${b[1]}-${b[2]}-${b[3]}T${b[4]}`;
    const hours = new Map([...options.data].filter(([h]) => h >= from && h <= to));
    const extra = Object.entries(options.extra ?? {}).filter(([h]) => h >= from && h <= to).flatMap(([, e]) => e);
    if (hours.size === 0 && extra.length === 0) { log(404); return send(res, 404, 'No data for the range'); }
    let zip = await zipOf(amplitudeEntries(hours, { ...options.zip, extra }));
    if (options.maxBytes !== undefined && zip.length > options.maxBytes) { log(400); return send(res, 400, 'Raw data files were too large to export'); }
    if (options.truncate?.some((h) => h >= from && h <= to)) zip = zip.subarray(0, Math.floor(zip.length / 2));
    const kind = cut();
    requests.push({ start, end, status: 200, ...(kind ? { cut: kind } : {}) });
    zips.set(start, zip);
    sendBody(res, zip, { 'content-type': 'application/zip' }, kind);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, zips,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function send(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
