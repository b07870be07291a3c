/**
 * Every error hogport raises on purpose carries a stable `code` (for scripts and tests) and a message
 * that tells the user what to do. `exitCode` is what the CLI exits with when the error reaches it.
 */
export class HogportError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: { cause?: unknown; exitCode?: number; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HogportError';
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
    this.details = options.details;
  }
}

/** True when `err` is a HogportError with the given code. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof HogportError && err.code === code;
}

/** A short, single-line description of any thrown value, for failure records and logs. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof HogportError) return { code: err.code, message: err.message };
  if (err instanceof Error) {
    const raw = (err as { code?: unknown }).code;
    const code = typeof raw === 'string' ? raw : 'E_UNEXPECTED';
    return { code, message: err.message };
  }
  return { code: 'E_UNEXPECTED', message: String(err) };
}
