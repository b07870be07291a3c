/**
 * What a source's transform output depends on besides the raw bytes, for its config hash: its
 * parsed options less the keys it declares extract-only (where and how to fetch), and a version
 * the source bumps when its mapping logic changes. Starting from every option means an option
 * nobody thought of is part of the hash: forgetting one costs a re-transform, never a chunk left
 * stale with output from other settings.
 */
export function transformConfigOf(type: string, version: number, options: object, extractOnly: readonly string[]): unknown {
  const skip = new Set(['type', ...extractOnly]);
  return { source: type, version, options: Object.fromEntries(Object.entries(options).filter(([k]) => !skip.has(k))) };
}
