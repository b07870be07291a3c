import { pino, type Logger, type DestinationStream } from 'pino';
import { redact } from './secrets.js';

export type { Logger };

/** Paths pino blanks out whatever their value, as a second line of defence behind `redact`. */
export const REDACT_PATHS = [
  'api_key', 'apiKey', 'token', 'secret', 'password', 'authorization',
  '*.api_key', '*.apiKey', '*.token', '*.secret', '*.password', '*.authorization',
  'headers.authorization', '*.headers.authorization',
];

export interface LoggerOptions {
  level?: string;
  /** Where JSON lines go; stderr when absent. */
  destination?: DestinationStream;
}

/**
 * A pino logger writing JSON lines. Known secret values are scrubbed from every line before it is
 * written, whatever field they hide in.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const target = options.destination ?? pino.destination({ fd: 2, sync: true });
  const scrubbing: DestinationStream = { write: (line: string) => target.write(redact(line)) };
  return pino(
    { level: options.level ?? 'info', base: { pid: process.pid }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    scrubbing,
  );
}

/** A logger that writes nothing: the default for library calls that were given none. */
export const silentLogger: Logger = pino({ level: 'silent' });
