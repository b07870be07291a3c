/** The stages of a migration, in order. */
export const STAGES = ['extract', 'transform', 'load'] as const;
export type ReportStage = (typeof STAGES)[number];

/** A chunk's state in a stage, as `hogport status` names it. */
export const CHUNK_STATES = ['done', 'stale', 'failed', 'running', 'pending', 'waiting'] as const;
export type ReportChunkState = (typeof CHUNK_STATES)[number];

/** What one stage's committed (done) manifests add up to. */
export interface StageFigures {
  /** Done chunks whose manifests are counted here. */
  chunks: number;
  /** What `in`, `out`, `rejected` and `dropped` count: files for extract, records for transform, events for load. */
  unit: 'files' | 'records' | 'events';
  in: number;
  out: number;
  rejected: number;
  dropped: number;
  /** Events written (transform: one record can become several events). */
  events: number;
  /** Rejects by code; what no manifest named a code for is under `unnamed`. */
  rejectedBy: Record<string, number>;
  /** Drops by the rule that dropped them. */
  droppedBy: Record<string, number>;
}

/** One day (or, over long spans, one month) of events. */
export interface DayFigures {
  /** "YYYY-MM-DD", UTC. */
  day: string;
  /** Events transform wrote with a timestamp on this day. */
  source: number;
  /** Of those, events of chunks whose load is done. */
  loaded: number;
  /** Of those, events of chunks the last `hogport verify` found complete in PostHog; absent when verify has not run. */
  verified?: number;
}

/** One event name across the migration. */
export interface NameFigures {
  name: string;
  /** Events of this name transform wrote. */
  source: number;
  /** Of those, events of chunks whose load is done. */
  loaded: number;
}

/** The rejects of one code in one stage, with the first few as examples. */
export interface RejectGroup {
  stage: 'transform' | 'load';
  code: string;
  /** How many the manifests count under this code. */
  count: number;
  /** The first rejects of this code found in the rejects objects (bounded), as stored. */
  examples: Array<{ chunk: string; reason: string; record: string }>;
}

/** One load attempt that committed, for the timings table. */
export interface LoadChunk {
  chunk: string;
  events: number;
  rejected: number;
  batches: number;
  retries: number;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
}

/**
 * Chunks loaded again after their events changed, compared by uuid and content with what they
 * had loaded: what was already there, what was new, and the events whose content changed.
 */
export interface LoadedAgain {
  chunks: number;
  alreadyLoaded: number;
  new: number;
  changed: number;
  /** Changed events sent again (`--resend-changed`). */
  resent: number;
  /** Changed events kept out: `hogport load --resend-changed` sends them. */
  keptOut: number;
  /** The first few changed events, from the lists the loads wrote. */
  changedEvents: Array<{ chunk: string; uuid: string; event: string; distinct_id: string; timestamp: string; keyChanged: boolean; resent: boolean }>;
}

/** A sampled test migration: which persons it took, and what its load manifests add up to. */
export interface ReportSample {
  sample: string;
  /** The scope written when the sample was drawn; absent while its load has not started. */
  scope?: {
    percent: number;
    rule: string;
    at: string;
    clusters: { total: number; sampled: number };
    linkedIds: { total: number; sampled: number };
    persons: { total: number; sampled: number };
  };
  /** Chunks with a load manifest in the lane. */
  loaded: number;
  counts: { in: number; out: number; rejected: number; dropped: number; notSampled: number };
}

/** Everything a report shows, gathered from the store; `renderReport` draws it and reads nothing else. */
export interface ReportData {
  migration: string;
  /** The store's location (never with credentials). */
  store: string;
  /** When the data was read, ISO UTC. */
  generatedAt: string;
  hogportVersion: string;
  /** Where load sends: the dry-run outbox in the store, or a PostHog host. */
  destination: { type: 'dry-run' } | { type: 'posthog'; host: string };
  chunks: {
    /** Chunks planned or found in the store, derived ones included. */
    total: number;
    /** Chunks per state, per stage. */
    byStage: Record<ReportStage, Record<ReportChunkState, number>>;
    /** Chunks failed, stale or running, with what the store says of them (the first few). */
    attention: Array<{ stage: ReportStage; chunk: string; state: ReportChunkState; detail: string }>;
    /** How many chunks needed attention in all, when `attention` was cut. */
    attentionTotal: number;
  };
  /** What each stage's done manifests add up to. */
  stages: Record<ReportStage, StageFigures>;
  /** Events per UTC day, oldest first. */
  days: DayFigures[];
  /** Done transform chunks whose manifests carry no per-day and per-name figures (written by an older hogport). */
  withoutFigures: string[];
  /** Event names, most events first (the first `names.length` of `distinctNames`); `other` sums the rest. */
  names: NameFigures[];
  /** Names found in all; more than `names.length` when the table was cut. */
  distinctNames: number;
  /** Events of the names past the table, and those chunks summed under their manifests' overflow key. */
  otherNames: { source: number; loaded: number };
  rejects: {
    groups: RejectGroup[];
    /** False when reading examples stopped at its bound before every code had its examples. */
    complete: boolean;
    /** What reading the examples cost: lines and bytes read from rejects objects. */
    linesRead: number;
    bytesRead: number;
  };
  identities: {
    /** Identity pairs the merge step wrote (`$identify` / `$create_alias` events), over its `~identities-NNNN` chunks. */
    pairs: number;
    chunks: Array<{ chunk: string; pairs: number; loaded: boolean }>;
    /** The `~persons` chunk: one `$set` per person. */
    persons?: { chunk: string; persons: number; loaded: boolean };
  };
  load: {
    chunks: number;
    events: number;
    rejected: number;
    batches: number;
    retries: number;
    /** Sum of the chunks' durations: time spent loading, overlapping chunks counted each. */
    busyMs: number;
    /** Earliest start and latest finish over the done load manifests. */
    firstStartedAt?: string;
    lastFinishedAt?: string;
    /** Events per second over the wall span from the first start to the last finish. */
    eventsPerSecond?: number;
    /** The slowest chunks, slowest first (the first few). */
    slowest: LoadChunk[];
    /** Chunks loaded again after their events changed (re-extracts, late events); absent when none was. */
    again?: LoadedAgain;
  };
  /** The last `hogport verify`, when one was saved. */
  verify?: {
    takenAt: string;
    ok: boolean;
    chunks: number;
    totals: { expected: number; found: number; uuids: number; duplicates: number; missing: number; unexpected: number };
    /** Chunks whose verdict is not ok (the first few). */
    mismatched: Array<{ chunk: string; verdict: string; expected: number; found: number }>;
  };
  /** The last `hogport profile`, when one was saved. */
  profile?: {
    takenAt: string;
    chunks: { profiled: number; of: number };
    records: number;
    events: number;
    problems: Record<string, { count: number; examples: string[] }>;
  };
  /** Set when the load shown is a sample's lane (`--sample`): its id, like `p30`. */
  sample?: string;
  /** Every sample lane the store holds: its scope, as drawn, and what its load sent. */
  samples: ReportSample[];
  /** Things the report could not show as asked, said plainly (a saved result it could not read, say). */
  notes: string[];
}
