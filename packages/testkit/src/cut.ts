import type { ServerResponse } from 'node:http';
import { seeded } from './fixtures.js';

/**
 * How an export answer can arrive broken, as migrations meet them:
 * - `reset`: the Content-Length is announced, half the body is sent, then the connection is reset;
 * - `early-end`: no Content-Length and no chunked framing (a proxy), half the body, then a clean close;
 * - `short`: a complete HTTP answer (its Content-Length matches) whose body is the front half only.
 */
export type CutKind = 'reset' | 'early-end' | 'short';

export interface CutFaults {
  seed: number;
  /** Share of 200 answers that are cut. */
  rate: number;
  /** Kinds to pick from (all of them by default). */
  kinds?: CutKind[];
}

/** Decides, answer by answer and reproducibly, which answers a stand-in cuts and how. */
export function cutter(faults: CutFaults | undefined): () => CutKind | undefined {
  if (!faults) return () => undefined;
  const rand = seeded(faults.seed);
  const kinds = faults.kinds ?? ['reset', 'early-end', 'short'];
  return () => (rand() < faults.rate ? kinds[Math.floor(rand() * kinds.length)]! : undefined);
}

/** Sends a 200 answer with `body`, whole or cut as `kind` says. */
export function sendBody(res: ServerResponse, body: Buffer, headers: Record<string, string>, kind: CutKind | undefined): void {
  const half = body.subarray(0, Math.max(1, Math.floor(body.length / 2)));
  if (kind === undefined || kind === 'short') {
    const sent = kind === 'short' ? half : body;
    res.writeHead(200, { ...headers, 'content-length': String(sent.length) });
    res.end(sent);
    return;
  }
  if (kind === 'reset') {
    res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    res.write(half, () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  // Written on the socket itself: Node's server always frames its bodies.
  const socket = res.socket!;
  const head = Object.entries({ ...headers, connection: 'close' }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.write(`HTTP/1.1 200 OK\r\n${head}\r\n`);
  socket.end(half);
}
