import { createHash } from 'node:crypto';
import { HogportError } from '@hogport/common';
import picomatch from 'picomatch';

export type Window = 'hour' | 'day';

/**
 * The chunk ids of a time range, one per UTC hour (`2024-03-01T13`) or day (`2024-03-01`), from
 * `start` inclusive to `end` exclusive. The same range always plans the same ids.
 */
export function planWindows(start: Date, end: Date, window: Window): string[] {
  if (!(start < end)) throw new HogportError('E_RANGE', `the range is empty: start ${start.toISOString()} is not before end ${end.toISOString()}`, { exitCode: 2 });
  const stepMs = window === 'hour' ? 3_600_000 : 86_400_000;
  const first = Math.floor(start.getTime() / stepMs) * stepMs;
  const ids: string[] = [];
  for (let t = first; t < end.getTime(); t += stepMs) ids.push(windowId(new Date(t), window));
  return ids;
}

export function windowId(at: Date, window: Window): string {
  const iso = at.toISOString();
  return window === 'hour' ? iso.slice(0, 13) : iso.slice(0, 10);
}

/**
 * A chunk id for a source file, from its path relative to the source location: `/` becomes `~`
 * so the id stays one key segment and stays readable. Paths with other characters get a short hash
 * so that two paths never map to one id.
 */
export function fileChunkId(relativePath: string): string {
  const readable = relativePath.replace(/\//g, '~');
  const safe = readable.replace(/[^A-Za-z0-9._~=+-]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  const hashNeeded = safe !== readable || safe.length > 180 || safe === '';
  if (!hashNeeded) return safe;
  const hash = createHash('sha256').update(relativePath).digest('hex').slice(0, 10);
  return `${safe.slice(0, 180) || 'file'}-${hash}`;
}

/**
 * Selects chunk ids by a comma-separated list of ids and globs (`2024-03-*,2024-04-01T0?`).
 * A selector that matches nothing is an error: a typo must not silently select no work.
 */
export function selectChunks(ids: readonly string[], selector: string | undefined): string[] {
  if (!selector) return [...ids];
  const patterns = selector.split(',').map((s) => s.trim()).filter(Boolean);
  const chosen = new Set<string>();
  for (const pattern of patterns) {
    const match = picomatch(pattern, { dot: true });
    const hits = ids.filter((id) => match(id));
    if (hits.length === 0) throw new HogportError('E_NO_SUCH_CHUNK', `--chunks "${pattern}" matches no planned chunk (run "hogport plan" to list them)`, { exitCode: 2 });
    for (const id of hits) chosen.add(id);
  }
  return ids.filter((id) => chosen.has(id));
}
