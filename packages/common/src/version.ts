import { readFileSync } from 'node:fs';

/** The hogport version, from the CLI package that ships every release. */
export const HOGPORT_VERSION: string = (JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string }).version;
