import type { Readable } from 'node:stream';
import { HogportError, type Logger } from '@hogport/common';
import { HttpClient, zipComplete, type Breaker } from '@hogport/http';

export interface ExportApiOptions {
  /** https://amplitude.com, https://analytics.eu.amplitude.com, or a stand-in. */
  endpoint: string;
  apiKey: string;
  secretKey: string;
  maxAttempts: number;
  timeoutMs: number;
  log: Logger;
  backoff?: { baseMs: number; capMs: number };
  /** Shared by every hour of a run: an Export API that stopped answering stops the extract. */
  breaker?: Breaker;
}

/** `2024-03-01T05` (a chunk id) as the Export API's `20240301T05`. */
export function exportHour(chunk: string): string {
  return chunk.replace(/-/g, '');
}

/**
 * Downloads one UTC hour from Amplitude's Export API (`GET /api/2/export?start=H&end=H`, inclusive,
 * by upload time) and hands the zip to `write` as it arrives. Returns false for 404 (no data that
 * hour: an empty chunk). 400 means the hour is over Amplitude's 4 GB limit; 401/403 a refused key.
 * The zip must be whole (its Content-Length, its end record and central directory) before its end
 * reaches `write`, so a cut download fails the store write and is retried, never committed short.
 */
export async function downloadHour(chunk: string, options: ExportApiOptions, write: (body: Readable) => Promise<unknown>, signal?: AbortSignal): Promise<boolean> {
  const hour = exportHour(chunk);
  const url = new URL('/api/2/export', options.endpoint);
  url.searchParams.set('start', hour);
  url.searchParams.set('end', hour);
  const client = new HttpClient({
    service: 'Amplitude', origin: url.origin, codes: { unexpected: 'E_AMPLITUDE_UNEXPECTED', unavailable: 'E_AMPLITUDE_UNAVAILABLE' },
    maxAttempts: options.maxAttempts, timeoutMs: options.timeoutMs, backoff: options.backoff ?? { baseMs: 1000, capMs: 60_000 },
    ...(options.breaker ? { breaker: options.breaker } : {}), log: options.log,
  });
  let empty = false;
  await client.call({
    method: 'GET', path: `${url.pathname}${url.search}`, what: `hour ${chunk}`,
    headers: { authorization: `Basic ${Buffer.from(`${options.apiKey}:${options.secretKey}`).toString('base64')}` },
    ...(signal ? { signal } : {}),
    classify: ({ status, text }) => {
      if (status === 404) { empty = true; return new NoData(); }
      if (status === 400) {
        return new HogportError('E_AMPLITUDE_TOO_LARGE', `Amplitude refused hour ${chunk} (HTTP 400: ${text.slice(0, 300)}): an hour over the Export API's 4 GB limit cannot be exported this way; use Amplitude's S3 export and "mode: files" for this project`);
      }
      if (status === 401 || status === 403) {
        return new HogportError('E_AMPLITUDE_AUTH', `Amplitude refused the API key and secret (HTTP ${status}): check the environment variables named by source.apiKeyEnv and source.secretKeyEnv, and source.region`, { exitCode: 3, details: { fatal: true } });
      }
      return undefined;
    },
    complete: () => [zipComplete()],
    read: async ({ body }) => { await write(body); },
  }).catch((err: unknown) => { if (!(err instanceof NoData)) throw err; });
  return !empty;
}

/**
 * An hour before Amplitude existed: asking the Export API for it is an authenticated request that
 * returns no data (404), so it proves the key and secret without downloading anything.
 */
export const EMPTY_HOUR = '2010-01-01T00';

/**
 * Proves the API key and secret key with one Export API request for `EMPTY_HOUR`: a 404 (no data)
 * or a 200 means Amplitude took the key; 401/403 is a refusal (exit code 3). Four attempts at most, backing off briefly:
 * a check is meant to take seconds.
 */
export async function checkExportApi(options: Pick<ExportApiOptions, 'endpoint' | 'apiKey' | 'secretKey' | 'log'>, signal?: AbortSignal): Promise<void> {
  await downloadHour(EMPTY_HOUR, { ...options, maxAttempts: 4, timeoutMs: 20_000, backoff: { baseMs: 500, capMs: 2000 } }, async (body) => { for await (const _ of body) { /* an hour before Amplitude existed holds nothing to keep */ } }, signal);
}

/** 404: no data in the hour, an answer and not a failure. */
class NoData extends Error {}
