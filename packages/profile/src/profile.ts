import { isNonMergeableId, MAX_EVENT_BYTES, POSTHOG_GUIDANCE } from '@hogport/event';
import { DistinctCount, Examples, Largest } from './sketch.js';

/** A record as transform decides it (the runner's `RecordDecision`): what the profile reads of it. */
export type ProfiledRecord =
  | { kind: 'events'; lines: readonly string[]; events: ReadonlyArray<{ uuid: string; event: string; distinct_id: string; timestamp: string; properties: Record<string, unknown> }>; links: ReadonlyArray<{ user: string; anon: string }> }
  | { kind: 'reject'; code: string; reason: string; record: string }
  | { kind: 'drop'; rule: string }
  | { kind: 'person'; person: { distinctId: string }; links: ReadonlyArray<{ user: string; anon: string }> };

const { approvalEvents: APPROVAL_EVENTS, approvalEventsPerMinute: APPROVAL_EVENTS_PER_MINUTE, minEventAgeMs: RECENT_MS, importerEventsPerSecond } = POSTHOG_GUIDANCE;
const MAX_NAMES = 10_000;
const MAX_KEYS = 2000;
const SAFE = 2 ** 53;
/** What the finish step adds as instructions to capture, not data the source holds: left out of the property figures. */
const INSTRUCTIONS = new Set(['$geoip_disable', '$ignore_sent_at']);

export interface ProblemFigure { count: number; examples: string[] }

export interface ProfileJSON {
  chunks: { profiled: number; of: number };
  records: number;
  events: number;
  eventNames: Record<string, number>;
  days: Record<string, number>;
  distinctIds: { count: number; exact: boolean };
  timestamps: { min?: string; max?: string; recent: number; future: number };
  largest: Array<{ uuid: string; event: string; bytes: number }>;
  properties: { keys: number; keysExact: boolean; topCardinality: Array<{ key: string; values: number; exact: boolean }>; typeConflicts: Array<{ key: string; types: string[] }> };
  identities: { pairs: number; users: number; linkedIds: number; persons: number; exact: boolean };
  rejected: Record<string, ProblemFigure>;
  dropped: Record<string, number>;
  problems: Record<string, ProblemFigure>;
  load: { events: number; eventsPerMinute: number; rateFrom: 'definition' | 'posthog-importer'; minutes: number; needsApproval: string[] };
}

interface KeyFacts { types: number; values: DistinctCount }
const TYPES = ['string', 'number', 'boolean', 'object', 'array'] as const;

/**
 * What a migration holds, folded record by record in bounded memory: counts and names exactly (up to
 * ten thousand names), distinct ids and values by sketch past ten thousand, examples by a
 * deterministic sample. `toJSON()` for machines, `toText()` for people.
 */
export class MigrationProfile {
  private records = 0;
  private events = 0;
  private readonly names = new Map<string, number>();
  private otherNames = 0;
  private readonly days = new Map<string, number>();
  private readonly ids = new DistinctCount();
  private min: string | undefined;
  private max: string | undefined;
  private recent = 0;
  private future = 0;
  private readonly largest = new Largest<{ uuid: string; event: string; bytes: number }>();
  private readonly keys = new Map<string, KeyFacts>();
  private readonly moreKeys = new DistinctCount();
  private readonly pairs = new DistinctCount();
  private readonly users = new DistinctCount();
  private readonly linked = new DistinctCount();
  private readonly rejected = new Map<string, { count: number; examples: Examples<string> }>();
  private readonly dropped = new Map<string, number>();
  private readonly problems = new Map<string, { count: number; examples: Examples<string> }>();

  constructor(private readonly now = Date.now()) {}

  add(r: ProfiledRecord): void {
    this.records += 1;
    if (r.kind === 'reject') { tally(this.rejected, r.code, `${r.reason}: ${r.record.slice(0, 200)}`); return; }
    if (r.kind === 'drop') { this.dropped.set(r.rule, (this.dropped.get(r.rule) ?? 0) + 1); return; }
    for (const l of r.links) { this.pairs.add(`${l.user}\u0000${l.anon}`); this.users.add(l.user); this.linked.add(l.anon); }
    if (r.kind === 'person') { this.ids.add(r.person.distinctId); return; }
    for (let i = 0; i < r.events.length; i++) this.event(r.events[i]!, Buffer.byteLength(r.lines[i]!));
  }

  private event(e: { uuid: string; event: string; distinct_id: string; timestamp: string; properties: Record<string, unknown> }, bytes: number): void {
    this.events += 1;
    if (this.names.has(e.event) || this.names.size < MAX_NAMES) this.names.set(e.event, (this.names.get(e.event) ?? 0) + 1);
    else this.otherNames += 1;
    const day = e.timestamp.slice(0, 10);
    this.days.set(day, (this.days.get(day) ?? 0) + 1);
    this.ids.add(e.distinct_id);
    if (isNonMergeableId(e.distinct_id)) tally(this.problems, 'non_mergeable_distinct_id', e.distinct_id);
    if (/^\d{16,}$/.test(e.distinct_id) && Number(e.distinct_id) > SAFE) tally(this.problems, 'numeric_id_beyond_2_53', e.distinct_id);
    const ms = Date.parse(e.timestamp);
    if (this.min === undefined || e.timestamp < this.min) this.min = e.timestamp;
    if (this.max === undefined || e.timestamp > this.max) this.max = e.timestamp;
    if (ms > this.now) { this.future += 1; tally(this.problems, 'event_in_the_future', `${e.event} at ${e.timestamp}`); }
    else if (ms > this.now - RECENT_MS) { this.recent += 1; tally(this.problems, 'event_under_48_hours_old', `${e.event} at ${e.timestamp}`); }
    this.largest.add(bytes, e.uuid, { uuid: e.uuid, event: e.event, bytes });
    if (bytes > MAX_EVENT_BYTES / 2) tally(this.problems, 'event_over_half_a_megabyte', `${e.event} ${e.uuid} (${bytes} bytes)`);
    for (const k of Object.keys(e.properties)) if (!INSTRUCTIONS.has(k)) this.property(k, e.properties[k]);
  }

  private property(key: string, value: unknown): void {
    let facts = this.keys.get(key);
    if (!facts) {
      // Past a few thousand keys the rest are counted, not described: keys from data can be unbounded.
      if (this.keys.size >= MAX_KEYS) { this.moreKeys.add(key); return; }
      facts = { types: 0, values: new DistinctCount(64, 10) };
      this.keys.set(key, facts);
    }
    if (value === null || value === undefined) return;
    const type = Array.isArray(value) ? 'array' : typeof value === 'object' ? 'object' : typeof value;
    const bit = TYPES.indexOf(type as (typeof TYPES)[number]);
    if (bit >= 0) facts.types |= 1 << bit;
    facts.values.add(typeof value === 'string' ? value : JSON.stringify(value) ?? String(value));
  }

  toJSON(options: { chunks?: { profiled: number; of: number }; eventsPerMinute?: number } = {}): ProfileJSON {
    const chunks = options.chunks ?? { profiled: 1, of: 1 };
    const scale = chunks.profiled > 0 ? chunks.of / chunks.profiled : 1;
    const perMinute = options.eventsPerMinute ?? importerEventsPerSecond * 60;
    const estimated = Math.round(this.events * scale);
    const needsApproval: string[] = [];
    if (estimated > APPROVAL_EVENTS) needsApproval.push(`over ${APPROVAL_EVENTS.toLocaleString('en-US')} events`);
    if (perMinute > APPROVAL_EVENTS_PER_MINUTE) needsApproval.push(`over ${APPROVAL_EVENTS_PER_MINUTE.toLocaleString('en-US')} events a minute`);
    const keyRows = [...this.keys].map(([key, f]) => ({ key, values: f.values.count(), exact: f.values.exact }));
    const conflicts = [...this.keys].map(([key, f]) => ({ key, types: TYPES.filter((_, i) => f.types & (1 << i)) })).filter((c) => c.types.length > 1);
    const problems = figures(this.problems);
    if (this.otherNames > 0) problems.more_than_ten_thousand_event_names = { count: this.otherNames, examples: [] };
    const linkedIds = this.linked.count();
    return {
      chunks,
      records: this.records,
      events: this.events,
      eventNames: Object.fromEntries([...this.names].sort((a, b) => b[1] - a[1] || cmp(a[0], b[0]))),
      days: Object.fromEntries([...this.days].sort((a, b) => cmp(a[0], b[0]))),
      distinctIds: { count: this.ids.count(), exact: this.ids.exact },
      timestamps: { ...(this.min ? { min: this.min, max: this.max! } : {}), recent: this.recent, future: this.future },
      largest: this.largest.values(),
      properties: {
        keys: this.keys.size + this.moreKeys.count(), keysExact: this.moreKeys.exact,
        topCardinality: keyRows.sort((a, b) => b.values - a.values || cmp(a.key, b.key)).slice(0, 10),
        typeConflicts: conflicts.sort((a, b) => cmp(a.key, b.key)),
      },
      identities: { pairs: this.pairs.count(), users: this.users.count(), linkedIds, persons: Math.max(this.users.count(), this.ids.count() - linkedIds), exact: this.pairs.exact && this.ids.exact && this.linked.exact },
      rejected: figures(this.rejected),
      dropped: Object.fromEntries([...this.dropped].sort((a, b) => b[1] - a[1] || cmp(a[0], b[0]))),
      problems,
      load: { events: estimated, eventsPerMinute: perMinute, rateFrom: options.eventsPerMinute ? 'definition' : 'posthog-importer', minutes: Math.ceil(estimated / perMinute), needsApproval },
    };
  }
}

/** The profile for people: one figure a line, problems with their examples. */
export function profileText(p: ProfileJSON): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const about = (exact: boolean) => (exact ? '' : 'about ');
  const lines = [
    `${n(p.records)} records in ${n(p.chunks.profiled)} of ${n(p.chunks.of)} extracted chunks${p.chunks.profiled < p.chunks.of ? ' (a sample: the load estimate scales it up)' : ''}`,
    `${n(p.events)} events, ${n(Object.keys(p.eventNames).length)} names; ${about(p.distinctIds.exact)}${n(p.distinctIds.count)} distinct ids`,
    `times: ${p.timestamps.min ?? '-'} to ${p.timestamps.max ?? '-'}; ${n(p.timestamps.recent)} under 48 hours old, ${n(p.timestamps.future)} in the future`,
    `identities: ${about(p.identities.exact)}${n(p.identities.pairs)} pairs, ${n(p.identities.users)} identified users; about ${n(p.identities.persons)} persons`,
    `properties: ${about(p.properties.keysExact)}${n(p.properties.keys)} keys${p.properties.typeConflicts.length ? `; ${p.properties.typeConflicts.length} with values of more than one type (${p.properties.typeConflicts.slice(0, 5).map((c) => `${c.key}: ${c.types.join('/')}`).join(', ')})` : ''}`,
    '',
    'events by name:',
    ...Object.entries(p.eventNames).slice(0, 15).map(([k, v]) => `  ${String(n(v)).padStart(12)}  ${k}`),
    '',
    'events by day:',
    ...Object.entries(p.days).slice(0, 60).map(([k, v]) => `  ${k}  ${String(n(v)).padStart(12)}`),
  ];
  if (p.largest.length) lines.push('', 'largest events:', ...p.largest.map((e) => `  ${String(n(e.bytes)).padStart(12)} bytes  ${e.event}  ${e.uuid}`));
  if (p.properties.topCardinality.length) lines.push('', 'properties with the most distinct values:', ...p.properties.topCardinality.map((k) => `  ${(about(k.exact) + n(k.values)).padStart(14)}  ${k.key}`));
  const section = (title: string, rows: Record<string, ProblemFigure>) => {
    if (Object.keys(rows).length === 0) return;
    lines.push('', title);
    for (const [code, f] of Object.entries(rows)) lines.push(`  ${String(n(f.count)).padStart(12)}  ${code}${f.examples.length ? `  e.g. ${f.examples.map((x) => JSON.stringify(x.slice(0, 120))).join(', ')}` : ''}`);
  };
  section('transform would reject:', p.rejected);
  if (Object.keys(p.dropped).length) lines.push('', 'transform would drop by rule:', ...Object.entries(p.dropped).map(([k, v]) => `  ${String(n(v)).padStart(12)}  ${k}`));
  section('problems:', p.problems);
  const hours = p.load.minutes / 60;
  lines.push('', `load: ${n(p.load.events)} events at ${n(p.load.eventsPerMinute)} a minute (${p.load.rateFrom === 'definition' ? 'the definition\'s maxEventsPerMinute' : 'the pace of PostHog\'s own importer'}): about ${hours >= 1 ? `${hours.toFixed(1)} hours` : `${p.load.minutes} minutes`}`);
  if (p.load.needsApproval.length) lines.push(`  PostHog asks to be told first of imports ${p.load.needsApproval.join(' or ')}: contact PostHog before the full load`);
  return `${lines.join('\n')}\n`;
}

function tally(m: Map<string, { count: number; examples: Examples<string> }>, code: string, example: string): void {
  let f = m.get(code);
  if (!f) { f = { count: 0, examples: new Examples<string>() }; m.set(code, f); }
  f.count += 1;
  f.examples.add(example, example);
}

function figures(m: Map<string, { count: number; examples: Examples<string> }>): Record<string, ProblemFigure> {
  return Object.fromEntries([...m].sort((a, b) => b[1].count - a[1].count || cmp(a[0], b[0])).map(([k, f]) => [k, { count: f.count, examples: f.examples.values() }]));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
