import { splitLines } from '@hogport/common';
import type { Outcome, Position, PostHogEvent } from './source.js';

/** What a source's mapping makes of one parsed record. */
export type RecordResult =
  | { events: PostHogEvent[]; identify?: Array<{ distinctId: string; anonId: string; at?: string }> }
  | { drop: string }
  | { code: string; reason: string };

/**
 * The outcomes of a stream of JSON lines: blank lines skipped, a line that is not JSON rejected
 * with the parser's message, every other line mapped. Each outcome carries the line's position.
 */
export async function* jsonLineOutcomes(input: AsyncIterable<Buffer | string>, where: Omit<Position, 'line' | 'offset'>, map: (value: unknown) => RecordResult): AsyncGenerator<Outcome> {
  for await (const { line, number, offset } of splitLines(input)) {
    // A cheap test first: trimming every (long) line would copy it.
    if (line.length === 0 || (line.charCodeAt(0) <= 32 && line.trim() === '')) continue;
    // Built field by field: spreading `where` costs more than parsing a short line.
    const position: Position = where.entry === undefined ? { file: where.file, line: number, offset } : { file: where.file, entry: where.entry, line: number, offset };
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      yield { kind: 'reject', code: 'invalid_json', reason: `not valid JSON: ${(err as Error).message}`, position, record: line };
      continue;
    }
    const mapped = map(value);
    if ('events' in mapped) yield { kind: 'events', events: mapped.events, position, ...(mapped.identify ? { identify: mapped.identify } : {}) };
    else if ('drop' in mapped) yield { kind: 'drop', rule: mapped.drop, position };
    else yield { kind: 'reject', code: mapped.code, reason: mapped.reason, position, record: line };
  }
}
