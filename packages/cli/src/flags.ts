import { HogportError } from '@hogport/common';
import { sampleIdOf } from '@hogport/layout';

/** A flag's value as a positive whole number (undefined when the flag was not given); anything else is a usage error. */
export function positiveFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new HogportError('E_USAGE', `${flag} takes a positive whole number, not "${value}"`, { exitCode: 2 });
  return n;
}

/** A flag that takes a whole number, 0 included; undefined when the flag is absent. */
export function wholeFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isInteger(n) || n < 0) throw new HogportError('E_USAGE', `${flag} takes a whole number, 0 or more, not "${value}"`, { exitCode: 2 });
  return n;
}

/** `--sample`'s value: a percent in (0, 100], at most six decimals; anything else is a usage error. */
export function percentFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? NaN : Number(value);
  if (sampleIdOf(n) === undefined) throw new HogportError('E_USAGE', `${flag} takes a percent of persons above 0 and at most 100, like 30 or 0.5, not "${value}"`, { exitCode: 2 });
  return n;
}
