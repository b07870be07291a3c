import { readdir, readFile, writeFile } from 'node:fs/promises';
import { HogportError } from '@hogport/common';

/** Where the commented definitions live: beside `dist/` in the package, so an installed hogport has them too. */
const TEMPLATES = new URL('../templates/', import.meta.url);

/** The names `hogport init` knows: one commented definition per source (and per way of reading one). */
export async function templateNames(): Promise<string[]> {
  return (await readdir(TEMPLATES)).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort();
}

/**
 * The commented definition for `name`: the source's options with what each means, the store, and a
 * dry-run destination first, with the PostHog one to switch to once the dry run looks right.
 */
export async function template(name: string): Promise<string> {
  const names = await templateNames();
  if (!names.includes(name)) throw new HogportError('E_USAGE', `there is no definition for "${name}": hogport init knows ${names.join(', ')}`, { exitCode: 2 });
  return readFile(new URL(`${name}.yaml`, TEMPLATES), 'utf8');
}

/** Writes the definition to `out`, never over a file that is there (the user's edits would be lost) unless `force`. */
export async function writeTemplate(name: string, out: string, force: boolean): Promise<void> {
  const text = await template(name);
  try {
    await writeFile(out, text, { flag: force ? 'w' : 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new HogportError('E_USAGE', `${out} exists: hogport init does not write over a definition (pass --force to replace it)`, { exitCode: 2 });
    throw err;
  }
}
