import { PassThrough, type Readable } from 'node:stream';
import { request, errors as undiciErrors } from 'undici';
import { backoffMs, HogportError, HOGPORT_VERSION, parseRetryAfter, sleep, type Logger } from '@hogport/common';

export interface ExportApiOptions {
  /** https://amplitude.com, https://analytics.eu.amplitude.com, or a stand-in. */
  endpoint: string;
  apiKey: string;
  secretKey: string;
  maxAttempts: number;
  timeoutMs: number;
  log: Logger;
  backoff?: { baseMs: number; capMs: number };
}

/** `2024-03-01T05` (a chunk id) as the Export API's `20240301T05`. */
export function exportHour(chunk: string): string {
  return chunk.replace(/-/g, '');
}

/**
 * Downloads one UTC hour from Amplitude's Export API (`GET /api/2/export?start=H&end=H`, inclusive,
 * by upload time) and hands the zip to `write` as it arrives. Returns false for 404 (no data that
 * hour: an empty chunk). 400 means the hour is over Amplitude's 4 GB limit; 401/403 a refused key;
 * 429, 5xx, timeouts and cut-off downloads are retried with backoff.
 */
export async function downloadHour(chunk: string, options: ExportApiOptions, write: (body: Readable) => Promise<unknown>, signal?: AbortSignal): Promise<boolean> {
  const hour = exportHour(chunk);
  const url = new URL('/api/2/export', options.endpoint);
  url.searchParams.set('start', hour);
  url.searchParams.set('end', hour);
  const auth = `Basic ${Buffer.from(`${options.apiKey}:${options.secretKey}`).toString('base64')}`;
  const { baseMs, capMs } = options.backoff ?? { baseMs: 1000, capMs: 60_000 };
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    let status = 0;
    let detail = '';
    let retryAfter: number | undefined;
    try {
      const res = await request(url, {
        method: 'GET', headers: { authorization: auth, 'user-agent': `hogport/${HOGPORT_VERSION}` },
        headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, ...(signal ? { signal } : {}),
      });
      status = res.statusCode;
      if (status === 200) {
        // Through a PassThrough so a broken download errors the store write, which then commits nothing.
        const body = new PassThrough();
        res.body.on('error', (err) => body.destroy(err));
        res.body.pipe(body);
        await write(body);
        return true;
      }
      detail = (await res.body.text()).slice(0, 300);
      retryAfter = parseRetryAfter(res.headers['retry-after']);
    } catch (err) {
      if (signal?.aborted) throw err;
      if (!(err instanceof undiciErrors.UndiciError) && !['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET'].includes((err as { code?: string }).code ?? '') && !/aborted|terminated|premature/i.test((err as Error).message)) throw err;
      detail = (err as Error).message;
    }
    if (status === 404) return false;
    if (status === 400) {
      throw new HogportError('E_AMPLITUDE_TOO_LARGE', `Amplitude refused hour ${chunk} (HTTP 400: ${detail}): an hour over the Export API's 4 GB limit cannot be exported this way; use Amplitude's S3 export and "mode: files" for this project`);
    }
    if (status === 401 || status === 403) {
      throw new HogportError('E_AMPLITUDE_AUTH', `Amplitude refused the API key and secret (HTTP ${status}): check the environment variables named by source.apiKeyEnv and source.secretKeyEnv, and source.region`, { exitCode: 3, details: { fatal: true } });
    }
    const retryable = status === 0 || status === 408 || status === 429 || status >= 500;
    const last = status ? `HTTP ${status}: ${detail}` : detail;
    if (!retryable) throw new HogportError('E_AMPLITUDE_UNEXPECTED', `Amplitude answered ${last} for hour ${chunk}`);
    if (attempt >= options.maxAttempts) throw new HogportError('E_AMPLITUDE_UNAVAILABLE', `hour ${chunk} could not be exported after ${attempt} attempts (last ${last}); it will be retried on the next run`);
    const wait = Math.max(backoffMs(attempt, baseMs, capMs), retryAfter ?? 0);
    options.log.warn({ chunk, status, attempt, waitMs: Math.round(wait) }, 'retrying the Amplitude export');
    await sleep(wait, signal);
  }
}
