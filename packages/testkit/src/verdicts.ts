import { Readable } from 'node:stream';
import { silentLogger, type Logger } from '@hogport/common';
import { finishPerson, finishRecord, type EventSettings, type FinishedLink, type Link, type PersonRecord, type PostHogEvent } from '@hogport/event';

type Position = { file: string; line?: number; offset?: number; entry?: string };
type Outcome =
  | { kind: 'events'; events: PostHogEvent[]; position: Position; identify?: Link[]; changed?: readonly string[] }
  | { kind: 'person'; person: PersonRecord; position: Position; changed?: readonly string[]; identify?: Link[] }
  | { kind: 'reject'; code: string; reason: string; position: Position; record: string }
  | { kind: 'drop'; rule: string; position: Position };

/** The part of a source a verdict needs: its transform (a structural type, so testkit needs no source package). */
export interface TransformingSource {
  transform(files: Array<{ name: string; open(): Promise<Readable> }>, ctx: { migration: string; chunk: string; transform: EventSettings & { dropEvents: string[] }; hogportVersion: string; log: Logger }): AsyncIterable<Outcome>;
}

/** What became of one source record once the finish step saw its events, as the transform stage decides it. */
export type Verdict =
  | { kind: 'events'; position: Position; events: Array<Record<string, any>>; changed: string[]; links: FinishedLink[] }
  | { kind: 'person'; position: Position; person: PersonRecord; changed: string[] }
  | { kind: 'reject'; position: Position; code: string; reason: string }
  | { kind: 'drop'; position: Position; rule: string };

/**
 * Runs a source's transform over in-memory raw files and finishes every record with the event
 * contract's `finishRecord`, as the transform stage does: each record's verdict (its events as the
 * lines that would be written and its user links as the merge step would get them, a reject with
 * its code and position, or a drop by rule) and the counts, which must add up. A chunk that fails
 * rejects the promise with the chunk's error.
 */
/**
 * A verdict in brief, for tables of expected outcomes: its line, its kind, and its reject code, its
 * events' names, or its drop rule.
 */
export function verdictBrief(v: Verdict): [number | undefined, Verdict['kind'], string] {
  return [v.position.line, v.kind, v.kind === 'reject' ? v.code : v.kind === 'events' ? v.events.map((e) => e.event).join(',') : v.kind === 'person' ? v.person.distinctId : v.rule];
}

export async function transformVerdicts(source: TransformingSource, files: Array<{ name: string; data: string | Buffer }>, options: { chunk?: string; transform?: Partial<EventSettings> } = {}): Promise<{ verdicts: Verdict[]; counts: { in: number; out: number; rejected: number; dropped: number } }> {
  const transform = { geoipDisable: true, ignoreSentAt: true, lib: 'if-absent' as const, tags: { migration: '$hogport_migration', chunk: '$hogport_chunk' }, longDistinctIds: 'reject' as const, dropEvents: [], ...options.transform };
  const ctx = { migration: 'bad-input', chunk: options.chunk ?? 'chunk', transform, hogportVersion: '0.0.0-test', log: silentLogger };
  const raw = files.map((f) => ({ name: f.name, open: async () => Readable.from([typeof f.data === 'string' ? Buffer.from(f.data) : f.data]) }));
  const verdicts: Verdict[] = [];
  const counts = { in: 0, out: 0, rejected: 0, dropped: 0 };
  for await (const o of source.transform(raw, ctx)) {
    counts.in += 1;
    if (o.kind === 'reject') { counts.rejected += 1; verdicts.push({ kind: 'reject', position: o.position, code: o.code, reason: o.reason }); continue; }
    if (o.kind === 'drop') { counts.dropped += 1; verdicts.push({ kind: 'drop', position: o.position, rule: o.rule }); continue; }
    if (o.kind === 'person') {
      const p = finishPerson(o.person, ctx);
      if ('code' in p) { counts.rejected += 1; verdicts.push({ kind: 'reject', position: o.position, code: p.code, reason: p.reason }); continue; }
      counts.out += 1;
      verdicts.push({ kind: 'person', position: o.position, person: p.person, changed: [...new Set([...(o.changed ?? []), ...(p.changed ?? [])])] });
      continue;
    }
    const done = finishRecord(o.events, o.identify, ctx);
    if ('code' in done) { counts.rejected += 1; verdicts.push({ kind: 'reject', position: o.position, code: done.code, reason: done.reason }); continue; }
    if (done.drop) { counts.dropped += 1; verdicts.push({ kind: 'drop', position: o.position, rule: done.drop }); continue; }
    counts.out += 1;
    verdicts.push({ kind: 'events', position: o.position, events: done.lines.map((l) => JSON.parse(l) as Record<string, unknown>), changed: [...new Set([...(o.changed ?? []), ...(done.changed ?? [])])], links: done.links });
  }
  return { verdicts, counts };
}

/**
 * JSON text of a value nested `depth` objects deep, the shape that overflows recursive code (built
 * as text: JSON.stringify itself could not write it).
 */
export function nestedJson(depth: number, leaf = '"bottom"'): string {
  return `${'{"d":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
}
