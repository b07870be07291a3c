import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { seeded } from './fixtures.js';

/**
 * What the proxy does to one request:
 * - `reset`: the connection is destroyed before the request is forwarded (it never landed);
 * - `lost`: the request is forwarded and answered, then the connection is destroyed before the
 *   answer is sent (it landed; the client cannot know);
 * - `500`: an S3-style InternalError, without forwarding;
 * - `cut`: forwarded, then the status, headers and part of the body are sent and the connection is
 *   destroyed (an empty answer is lost whole, as in `lost`);
 * - `403`: an S3-style AccessDenied, without forwarding (a setup error, which must not be retried).
 */
export type FaultKind = 'reset' | 'lost' | '500' | 'cut' | '403';

export interface FaultProxyOptions {
  /** The server behind the proxy, like `http://127.0.0.1:5000`. */
  target: string;
  /** The share of requests that meet a fault, 0..1. */
  rate?: number;
  seed?: number;
  /** The faults drawn from, evenly; default reset, 500 and cut. */
  kinds?: FaultKind[];
  /**
   * Decides a request's fault itself (scripted tests); undefined falls back to `rate`. The request
   * waits while a returned promise is pending, so a test can change the store between two requests.
   */
  decide?: (req: { method: string; path: string; n: number }) => FaultKind | undefined | Promise<FaultKind | undefined>;
}

export interface FaultProxy {
  /** The proxy's base URL, to use as the endpoint of a store. */
  url: string;
  /** Every request seen, in order, with the fault it met. */
  requests: Array<{ method: string; path: string; fault?: FaultKind }>;
  /** Changes the fault rate from now on (0 turns faults off). */
  setRate(rate: number): void;
  close(): Promise<void>;
}

/**
 * A fault-injecting HTTP proxy on 127.0.0.1 and a free port, for putting in front of a real store
 * (moto_server, the GCS fake): it resets connections, answers 500, loses answers of requests that
 * landed and cuts answers mid-body, at a seeded rate or as a test decides.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const rand = seeded(options.seed ?? 1);
  const kinds = options.kinds ?? ['reset', '500', 'cut'];
  let rate = options.rate ?? 0;
  const requests: FaultProxy['requests'] = [];
  const sockets = new Set<Socket>();

  const server: Server = createServer((req, res) => {
    const n = requests.length;
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    const entry: FaultProxy['requests'][number] = { method, path };
    requests.push(entry);
    void Promise.resolve(options.decide?.({ method, path, n })).then((decided) => {
      const fault = decided ?? (rate > 0 && rand() < rate ? kinds[Math.floor(rand() * kinds.length)] : undefined);
      if (fault) entry.fault = fault;
      handle(req, res, fault);
    }, () => req.socket.destroy());
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });

  function handle(req: IncomingMessage, res: ServerResponse, fault: FaultKind | undefined): void {
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === '500' || fault === '403') {
      req.resume();
      req.on('end', () => {
        const [code, text] = fault === '500' ? ['InternalError', 'We encountered an internal error. Please try again.'] : ['AccessDenied', 'Access Denied'];
        const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${text}</Message><RequestId>fault-proxy</RequestId></Error>`;
        res.writeHead(fault === '500' ? 500 : 403, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    const upstream = httpRequest({
      host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers,
    }, (answer) => {
      if (fault === 'lost') {
        answer.resume();
        answer.on('end', () => req.socket.destroy());
        return;
      }
      if (fault !== 'cut') {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        if (body.length === 0) { req.socket.destroy(); return; }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => setImmediate(() => req.socket.destroy()));
      });
    });
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setRate(r: number) { rate = r; },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
