import { z } from 'zod';

const stage = z.enum(['extract', 'transform', 'load']);
const isoTime = z.string().datetime({ offset: true });

/** An object a stage read: a source object, or an upstream output named by its manifest. */
export const InputRef = z.object({
  key: z.string(),
  etag: z.string().optional(),
  sha256: z.string().optional(),
  bytes: z.number().int().nonnegative().optional(),
});
export type InputRef = z.infer<typeof InputRef>;

/** An object a stage wrote. `contentSha256` is over the uncompressed content, when compressed. */
export const OutputRef = z.object({
  key: z.string(),
  role: z.enum(['raw', 'events', 'rejects', 'outbox', 'summary', 'ledger', 'changed']),
  bytes: z.number().int().nonnegative(),
  sha256: z.string(),
  contentSha256: z.string().optional(),
  records: z.number().int().nonnegative().optional(),
});
export type OutputRef = z.infer<typeof OutputRef>;

/**
 * What happened to every record a stage read. They always add up: in = out + rejected + dropped,
 * so nothing can be lost without a count saying where it went.
 */
export const Counts = z.object({
  unit: z.enum(['files', 'records', 'events']),
  in: z.number().int().nonnegative(),
  out: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  dropped: z.number().int().nonnegative(),
  /** Drops by the rule that dropped them. */
  droppedBy: z.record(z.string(), z.number().int().nonnegative()).default({}),
  /** Rejects by their code, so the end of a run can name the commonest without reading the rejects. */
  rejectedBy: z.record(z.string(), z.number().int().nonnegative()).optional(),
  /** Events written; one record can become more than one event. */
  events: z.number().int().nonnegative().optional(),
  /**
   * Records kept, but not byte for byte as the source had them (invalid UTF-8 replaced, a number
   * too large for a double kept as text), by what was changed. A record can count under several.
   */
  changedBy: z.record(z.string(), z.number().int().nonnegative()).optional(),
}).refine((c) => c.in === c.out + c.rejected + c.dropped, { message: 'counts do not add up: in must equal out + rejected + dropped' })
  .refine((c) => Object.values(c.droppedBy).reduce((a, b) => a + b, 0) === c.dropped, { message: 'droppedBy must add up to dropped' })
  .refine((c) => !c.rejectedBy || Object.values(c.rejectedBy).reduce((a, b) => a + b, 0) === c.rejected, { message: 'rejectedBy must add up to rejected' });
export type Counts = z.infer<typeof Counts>;

export const MANIFEST_VERSION = 1;

/** Distinct event names a transform manifest names one by one; the rest are summed under `OTHER_EVENT_NAMES`. */
export const MAX_EVENT_NAMES = 1000;
/**
 * The `eventNames` key that sums the events of every name past the first `MAX_EVENT_NAMES` a chunk
 * met, so a manifest stays small whatever the source sends. `$` names are PostHog's own, and
 * PostHog has no event of this name.
 */
export const OTHER_EVENT_NAMES = '$hogport_other_names';
const tally = z.record(z.string(), z.number().int().nonnegative());

/** The commit point of one stage for one chunk. Outputs no manifest names do not exist. */
export const Manifest = z.object({
  kind: z.literal('hogport.manifest'),
  version: z.literal(MANIFEST_VERSION),
  stage,
  migration: z.string(),
  chunk: z.string(),
  attempt: z.string(),
  /** 1 for the first commit of this stage and chunk, +1 for each re-run that replaced it. */
  attemptNumber: z.number().int().positive(),
  worker: z.string(),
  hogportVersion: z.string(),
  configHash: z.string(),
  /** A digest of the inputs' identity: when it changes upstream, this manifest is stale. */
  inputDigest: z.string(),
  inputs: z.array(InputRef),
  outputs: z.array(OutputRef),
  counts: Counts,
  bytes: z.object({ in: z.number().int().nonnegative(), out: z.number().int().nonnegative() }),
  /** Earliest and latest event timestamps, for reconciliation queries bounded in time. */
  eventTime: z.object({ min: z.string(), max: z.string() }).optional(),
  /**
   * Transform only: events written per UTC day of their timestamp ("YYYY-MM-DD"). Absent from
   * manifests an older hogport wrote.
   */
  eventDays: tally.optional(),
  /**
   * Transform only: events written per event name, at most `MAX_EVENT_NAMES` names; events of any
   * further name are summed under `OTHER_EVENT_NAMES`. Absent from manifests an older hogport wrote.
   */
  eventNames: tally.optional(),
  /**
   * Load only, when the chunk had been loaded before and its events changed since (a re-extract, late
   * events): how its events compared, by uuid and content, with what was loaded. Every event line is
   * one of alreadyLoaded, new, changed or unidentified (no uuid: refused with the reason).
   */
  delta: z.object({
    /** What the comparison read: the previous load's ledger, or (a load of an older hogport) its events. */
    against: z.enum(['ledger', 'events']),
    alreadyLoaded: z.number().int().nonnegative(),
    new: z.number().int().nonnegative(),
    changed: z.number().int().nonnegative(),
    /** Of the changed, those sent again (`--resend-changed`); the rest were kept out and counted as dropped. */
    changedResent: z.number().int().nonnegative(),
    /** Of the changed, those whose name, distinct_id or day changed: sent again, PostHog keeps both. */
    changedKey: z.number().int().nonnegative(),
    unidentified: z.number().int().nonnegative(),
    /** uuids loaded before that the chunk no longer has: they stay in PostHog. */
    withdrawn: z.number().int().nonnegative(),
  }).optional(),
  startedAt: isoTime,
  finishedAt: isoTime,
  durationMs: z.number().nonnegative(),
  /** Stage-specific figures, such as batches and retries for load. */
  stats: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).default({}),
});
export type Manifest = z.infer<typeof Manifest>;

/** The fields every per-chunk control object starts with. */
const controlHead = <K extends string>(kind: K) => ({ kind: z.literal(kind), version: z.literal(1), stage, chunk: z.string() });

/** A lease on a chunk for a stage. */
export const Claim = z.object({
  ...controlHead('hogport.claim'),
  worker: z.string(),
  host: z.string(),
  pid: z.number().int(),
  attempt: z.string(),
  acquiredAt: isoTime,
  /** By the writer's clock: informative only, for claims carry `leaseMs` (see claimExpired). */
  expiresAt: isoTime,
  /**
   * The lease, counted from the claim's write time on the store's clock. Claims written before
   * hogport judged leases on the store's clock lack it.
   */
  leaseMs: z.number().int().positive().optional(),
});
export type Claim = z.infer<typeof Claim>;

/** The last failure of a stage for a chunk; removed when the chunk next succeeds. */
export const Failure = z.object({
  ...controlHead('hogport.failure'),
  attempt: z.string(),
  worker: z.string(),
  at: isoTime,
  error: z.object({ code: z.string(), message: z.string() }),
});
export type Failure = z.infer<typeof Failure>;

/**
 * Progress inside a chunk that is not committed yet: which event positions were acknowledged (as
 * merged [start, end) ranges), what they added up to, and the outputs written for them. Valid only
 * for the events object and config it names; a resumed attempt skips the acknowledged positions.
 */
export const Checkpoint = z.object({
  ...controlHead('hogport.checkpoint'),
  attempt: z.string(),
  worker: z.string(),
  updatedAt: isoTime,
  input: z.object({ key: z.string(), sha256: z.string() }),
  configHash: z.string(),
  done: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])),
  counts: z.object({
    in: z.number().int().nonnegative(), sent: z.number().int().nonnegative(), invalid: z.number().int().nonnegative(),
    refused: z.number().int().nonnegative(), duplicates: z.number().int().nonnegative(),
    /** A sampled load: events passed over because their person is not in the sample. */
    notSampled: z.number().int().nonnegative().optional(),
    /** A chunk loaded before: events passed over because they were loaded with the same content. */
    alreadyLoaded: z.number().int().nonnegative().optional(),
    /** A chunk loaded before: events kept out because their content changed since (no --resend-changed). */
    changedNotResent: z.number().int().nonnegative().optional(),
  }),
  stats: z.object({ batches: z.number().int().nonnegative(), requests: z.number().int().nonnegative(), retries: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() }),
  nextSeq: z.number().int().nonnegative(),
  outputs: z.array(OutputRef),
});
export type Checkpoint = z.infer<typeof Checkpoint>;

/**
 * Raw data transform could not read (a cut gzip, a damaged zip, bytes that differ from the manifest):
 * the extract attempt it was found in, and how many extract attempts of the chunk were found so.
 * While `found` is within the refetch limit, that extract attempt counts as stale.
 */
export const Unreadable = z.object({
  ...controlHead('hogport.unreadable'),
  attempt: z.string(),
  found: z.number().int().positive(),
  at: isoTime,
  error: z.object({ code: z.string(), message: z.string() }),
});
export type Unreadable = z.infer<typeof Unreadable>;

/** A worker taking part in a rate-limited stage; the budget is shared among the live ones. */
export const WorkerRegistration = z.object({
  kind: z.literal('hogport.worker'),
  version: z.literal(1),
  stage,
  worker: z.string(),
  /** Still counted after it expires, for one rate window: its recent sends are still in the window. By the writer's clock. */
  expiresAt: isoTime,
  /**
   * How long it stands from its write time on the store's clock, which is what others judge it by;
   * registrations written before hogport judged them on the store's clock lack it.
   */
  ttlMs: z.number().int().nonnegative().optional(),
  /** When this registration was written: the sends below are those up to then. */
  at: isoTime.optional(),
  /** Its share of the rate (events per window) when written: its pace until it next looks. */
  share: z.number().positive().optional(),
  /** The most events one of its requests took: how far past its pace it can go at once. */
  request: z.number().positive().optional(),
  /** Events it sent in the window up to `at`, as [ms since the epoch, events], each no earlier than the sends it sums. */
  recent: z.array(z.tuple([z.number(), z.number().nonnegative()])).max(1000).optional(),
  /** Written by a worker that stopped cleanly: it sends nothing after `at`. */
  stopped: z.boolean().optional(),
});
export type WorkerRegistration = z.infer<typeof WorkerRegistration>;

/**
 * The rate every worker of a stage holds to right now, below its cap after capture answered 429:
 * `rate` at `since`, growing by `increase` events per window every window until it reaches the cap
 * again, and nothing sent before `pausedUntil` (capture's Retry-After). Every worker computes the
 * same rate from it, so it is written only when the rate is cut.
 */
export const Pace = z.object({
  kind: z.literal('hogport.pace'),
  version: z.literal(1),
  stage,
  rate: z.number().positive(),
  since: isoTime,
  increase: z.number().positive(),
  pausedUntil: isoTime.optional(),
  /** Cuts since the rate was last at the cap, for status and logs. */
  cuts: z.number().int().nonnegative(),
});
export type Pace = z.infer<typeof Pace>;

/**
 * What a sampled load (`--sample <percent>`) chose to send, written when it starts: the rule, the
 * persons linked across several ids (clusters) and how many were drawn, and the persons with
 * properties. Ids never linked to another are drawn one by one as the load meets them, so they are
 * counted by the load manifests (sent, and dropped as notSampled), not here.
 */
export const SampleScope = z.object({
  kind: z.literal('hogport.sample'),
  version: z.literal(1),
  migration: z.string(),
  sample: z.string(),
  percent: z.number().positive().max(100),
  rule: z.string(),
  at: isoTime,
  clusters: z.object({ total: z.number().int().nonnegative(), sampled: z.number().int().nonnegative() }),
  linkedIds: z.object({ total: z.number().int().nonnegative(), sampled: z.number().int().nonnegative() }),
  persons: z.object({ total: z.number().int().nonnegative(), sampled: z.number().int().nonnegative() }),
});
export type SampleScope = z.infer<typeof SampleScope>;

/** A merge input or output object: where it is, and what it holds. */
const MergeObject = z.object({ key: z.string(), records: z.number().int().nonnegative(), sha256: z.string() });

/**
 * The identity merge's partition of one group of chunks' summaries into shards: for each shard, the
 * lines keyed by distinct id (`ids-<shard>`: person facts, and the anonymous-id forms a link asks
 * about) and by user (`users-<shard>`: the links). `digest` is over the summaries it read, so a
 * group is partitioned again only when one of its chunks was transformed again.
 */
export const MergePart = z.object({
  kind: z.literal('hogport.merge-part'),
  version: z.literal(1),
  migration: z.string(),
  group: z.string(),
  shards: z.number().int().positive(),
  digest: z.string(),
  chunks: z.number().int().nonnegative(),
  parts: z.record(z.string(), MergeObject),
  at: isoTime,
});
export type MergePart = z.infer<typeof MergePart>;

/**
 * One merged shard: the digest of everything it read, and what it wrote (the persons chunk, the
 * identities chunk with the pairs that were new, the answers it sends the user shards). A shard
 * whose inputs have not changed is not merged again.
 */
export const MergeShard = z.object({
  kind: z.literal('hogport.merge-shard'),
  version: z.literal(1),
  migration: z.string(),
  shard: z.string(),
  shards: z.number().int().positive(),
  digest: z.string(),
  /** The derived chunk the shard committed, if any (`~persons…` or `~identities-NNNN`). */
  chunk: z.string().optional(),
  /** Objects the next step reads (answers to each user shard). */
  outputs: z.record(z.string(), MergeObject).default({}),
  counts: z.record(z.string(), z.number().int().nonnegative()).default({}),
  at: isoTime,
});
export type MergeShard = z.infer<typeof MergeShard>;
