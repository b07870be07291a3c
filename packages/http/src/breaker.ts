import { HogportError } from '@hogport/common';

export interface BreakerOptions {
  /** Connection failures in a row, with no success between them, that open the breaker. */
  threshold?: number;
  /** The fatal error every request gets once the breaker is open. */
  unreachable: (last: string, failures: number) => HogportError;
}

/**
 * Counts connection failures (network errors, timeouts, 5xx) in a row across every request that
 * shares it, whatever chunk they serve; any success resets the count. Past the threshold it opens
 * for good: the service is down, and spending each chunk's own retries on it would only delay the
 * news by hours. Requests then fail at once with one fatal error, and the chunks they were for are
 * left for the next run.
 */
export class Breaker {
  private failures = 0;
  private opened: HogportError | undefined;
  readonly threshold: number;

  constructor(private readonly options: BreakerOptions) {
    this.threshold = options.threshold ?? 8;
  }

  get open(): boolean {
    return this.opened !== undefined;
  }

  /** Throws the breaker's error once it is open. */
  check(): void {
    if (this.opened) throw this.opened;
  }

  success(): void {
    if (!this.opened) this.failures = 0;
  }

  /** Counts a connection failure; throws when this one opens the breaker. */
  failure(last: string): void {
    if (this.opened) throw this.opened;
    this.failures += 1;
    if (this.failures >= this.threshold) {
      this.opened = this.options.unreachable(last, this.failures);
      throw this.opened;
    }
  }
}

/** A breaker's fatal error: exit code 5, nothing lost, re-run later. */
export function unreachable(code: string, message: string): HogportError {
  return new HogportError(code, message, { exitCode: 5, details: { fatal: true } });
}
