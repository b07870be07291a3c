import { HogportError } from '@hogport/common';

/** A flag's value as a positive whole number (undefined when the flag was not given); anything else is a usage error. */
export function positiveFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new HogportError('E_USAGE', `${flag} takes a positive whole number, not "${value}"`, { exitCode: 2 });
  return n;
}
