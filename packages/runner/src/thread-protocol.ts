import { HogportError } from '@hogport/common';
import type { Manifest } from '@hogport/manifest';
import type { Expectation } from '@hogport/state';
import type { StageResult } from './job.js';

/** Messages from the runner to a thread. */
export type ThreadRequest =
  | { type: 'process'; id: number; chunk: string; attempt: string; worker: string; expected: Expectation; previous: Manifest | undefined }
  | { type: 'abort'; id: number };

/** Messages from a thread to the runner. */
export type ThreadReply =
  | { type: 'progress'; id: number; records: number }
  | { type: 'done'; id: number; result: StageResult }
  | { type: 'failed'; id: number; error: SerializedError };

/** An error as it crosses a thread: the runner decides by `code` and `details.fatal`, so both survive. */
export interface SerializedError {
  name: string;
  code: string | undefined;
  message: string;
  stack: string | undefined;
  exitCode?: number;
  details?: Record<string, unknown>;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof HogportError) {
    return { name: err.name, code: err.code, message: err.message, stack: err.stack, exitCode: err.exitCode, ...(err.details ? { details: plain(err.details) } : {}) };
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, code: typeof code === 'string' ? code : undefined, message: err.message, stack: err.stack };
  }
  return { name: 'Error', code: undefined, message: String(err), stack: undefined };
}

export function reviveError(e: SerializedError): Error {
  if (e.name === 'HogportError' && e.code) {
    const err = new HogportError(e.code, e.message, { ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}), ...(e.details ? { details: e.details } : {}) });
    if (e.stack) err.stack = e.stack;
    return err;
  }
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code) err.code = e.code;
  if (e.stack) err.stack = e.stack;
  return err;
}

/** Details may hold anything; only what survives JSON crosses. */
function plain(details: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return {};
  }
}
