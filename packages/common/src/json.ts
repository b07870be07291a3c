/**
 * JSON with keys sorted at every level, so that equal values always serialise to equal strings:
 * the basis of config hashes and content-derived uuids.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in its canonical 8-4-4-4-12 hex form, the only form capture accepts. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * A JSON number that a double cannot hold exactly (an integer beyond 2^53, `1e400`), kept as the
 * digits the source wrote. Ids read from it keep every digit; serialised, it becomes a string,
 * since no JSON writer of this Node emits raw number text: a change the reader counts.
 */
export class ExactNumber {
  constructor(readonly text: string) {}
  toJSON(): string {
    return this.text;
  }
  toString(): string {
    return this.text;
  }
}
