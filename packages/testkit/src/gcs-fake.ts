import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small, faithful fake of the parts of the GCS JSON API that hogport's gcs driver uses:
 * multipart and media uploads, object metadata, media download, paginated listing and delete, with
 * generations, `ifGenerationMatch` preconditions answered by 412 like the real service, and the
 * crc32c/md5 hashes the client validates. Objects live in memory.
 */
export interface FakeGcs {
  endpoint: string;
  /** Every request seen, "METHOD path", for tests that assert on traffic. */
  requests: string[];
  close(): Promise<void>;
}

interface StoredObject { data: Buffer; generation: number; metageneration: number; updated: string }

export async function startFakeGcs(): Promise<FakeGcs> {
  const buckets = new Map<string, Map<string, StoredObject>>();
  let nextGeneration = Date.now() * 1000;
  const requests: string[] = [];

  const objects = (bucket: string) => {
    let m = buckets.get(bucket);
    if (!m) buckets.set(bucket, (m = new Map()));
    return m;
  };

  const resource = (bucket: string, name: string, o: StoredObject) => ({
    kind: 'storage#object',
    id: `${bucket}/${name}/${o.generation}`,
    name, bucket,
    generation: String(o.generation),
    metageneration: String(o.metageneration),
    contentType: 'application/octet-stream',
    size: String(o.data.length),
    md5Hash: createHash('md5').update(o.data).digest('base64'),
    crc32c: crc32cBase64(o.data),
    etag: `E${o.generation}`,
    updated: o.updated, timeCreated: o.updated,
  });

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => sendError(res, 500, String(err)));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}`);
    const q = url.searchParams;
    const body = await readBody(req);

    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (upload && req.method === 'POST') {
      const bucket = decodeURIComponent(upload[1]!);
      let name = q.get('name') ?? undefined;
      let data = body;
      const type = q.get('uploadType');
      if (type === 'multipart') {
        const parts = parseMultipart(body, String(req.headers['content-type'] ?? ''));
        if (!parts) return sendError(res, 400, 'malformed multipart body');
        const meta = JSON.parse(parts[0]!.toString('utf8')) as { name?: string };
        name = meta.name ?? name;
        data = parts[1]!;
      } else if (type !== 'media') {
        return sendError(res, 400, `uploadType ${type} is not supported by this fake`);
      }
      if (!name) return sendError(res, 400, 'object name required');
      const store = objects(bucket);
      const current = store.get(name);
      const failed = checkGeneration(q, current);
      if (failed) return sendError(res, 412, 'At least one of the pre-conditions you specified did not hold.');
      const o: StoredObject = { data, generation: ++nextGeneration, metageneration: 1, updated: new Date().toISOString() };
      store.set(name, o);
      return sendJson(res, 200, resource(bucket, name, o));
    }

    const download = /^\/download\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    const object = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname) ?? download;
    if (object) {
      const bucket = decodeURIComponent(object[1]!);
      const name = decodeURIComponent(object[2]!);
      const store = objects(bucket);
      const current = store.get(name);
      if (req.method === 'DELETE') {
        if (!current) return sendError(res, 404, 'No such object');
        if (checkGeneration(q, current)) return sendError(res, 412, 'At least one of the pre-conditions you specified did not hold.');
        store.delete(name);
        res.writeHead(204).end();
        return;
      }
      if (req.method === 'GET') {
        if (!current) return sendError(res, 404, `No such object: ${bucket}/${name}`);
        const wanted = q.get('generation');
        if (wanted !== null && Number(wanted) !== current.generation) return sendError(res, 404, 'No such object generation');
        if (checkGeneration(q, current)) return sendError(res, 412, 'At least one of the pre-conditions you specified did not hold.');
        if (q.get('alt') === 'media' || download) {
          const meta = resource(bucket, name, current);
          const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
          if (range) {
            const start = Math.min(Number(range[1]), current.data.length);
            res.writeHead(206, {
              'content-type': 'application/octet-stream',
              'content-length': String(current.data.length - start),
              'content-range': `bytes ${start}-${current.data.length - 1}/${current.data.length}`,
              'x-goog-generation': String(current.generation),
              'x-goog-stored-content-encoding': 'identity',
            });
            res.end(current.data.subarray(start));
            return;
          }
          res.writeHead(200, {
            'content-type': 'application/octet-stream',
            'content-length': String(current.data.length),
            'x-goog-generation': String(current.generation),
            'x-goog-hash': `crc32c=${meta.crc32c},md5=${meta.md5Hash}`,
            'x-goog-stored-content-encoding': 'identity',
          });
          res.end(current.data);
          return;
        }
        return sendJson(res, 200, resource(bucket, name, current));
      }
    }

    const list = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (list && req.method === 'GET') {
      const bucket = decodeURIComponent(list[1]!);
      const prefix = q.get('prefix') ?? '';
      const max = Math.min(Number(q.get('maxResults') ?? 1000) || 1000, 1000);
      const token = q.get('pageToken');
      const after = token ? Buffer.from(token, 'base64url').toString('utf8') : undefined;
      const from = q.get('startOffset');
      const names = [...objects(bucket).keys()].filter((n) => n.startsWith(prefix) && (after === undefined || n > after) && (from === null || n >= from)).sort();
      const page = names.slice(0, max);
      const out: Record<string, unknown> = { kind: 'storage#objects', items: page.map((n) => resource(bucket, n, objects(bucket).get(n)!)) };
      if (names.length > max) out.nextPageToken = Buffer.from(page[page.length - 1]!).toString('base64url');
      return sendJson(res, 200, out);
    }
    sendError(res, 404, `not implemented by the fake: ${req.method} ${url.pathname}`);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function checkGeneration(q: URLSearchParams, current: StoredObject | undefined): boolean {
  const match = q.get('ifGenerationMatch');
  if (match !== null) {
    const want = Number(match);
    if (want === 0 ? current !== undefined : current?.generation !== want) return true;
  }
  const notMatch = q.get('ifGenerationNotMatch');
  if (notMatch !== null && current?.generation === Number(notMatch)) return true;
  return false;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The parts of a multipart/related body, without their headers. */
function parseMultipart(body: Buffer, contentType: string): Buffer[] | undefined {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd === -1) return undefined;
    let content = part.subarray(headerEnd + 4);
    if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
    parts.push(Buffer.from(content));
    pos = next;
  }
  return parts.length >= 2 ? parts : undefined;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { code: status, message, errors: [{ message, reason: status === 412 ? 'conditionNotMet' : 'notFound' }] } });
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli) of the data, big-endian, base64: the form GCS reports. */
export function crc32cBase64(data: Buffer): string {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString('base64');
}

/** A random bucket name, so tests sharing a fake never see each other's objects. */
export function randomBucket(prefix = 'hogport-test'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
