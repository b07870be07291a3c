/**
 * The one place that knows where everything lives in a store. Every key hogport reads or writes is
 * built here, so the state of a migration can be read off a plain listing:
 *
 *   <migration>/manifests/<stage>/<chunk>.json        the commit point of a stage for a chunk
 *   <migration>/claims/<stage>/<chunk>.json           who is working on it, until when (a lease)
 *   <migration>/failures/<stage>/<chunk>.json         the last failure, until the chunk succeeds
 *   <migration>/checkpoints/<stage>/<chunk>.json      progress inside an uncommitted chunk (load)
 *   <migration>/workers/<stage>/<worker>.json         workers sharing a rate limit, while they run
 *   <migration>/pace/<stage>.json                     the shared rate after capture answered 429 (cut, recovering)
 *   <migration>/quotas/<source>/<scope>.json          source API queries made in the quota's window (Mixpanel's per project)
 *   <migration>/unreadable/extract/<chunk>.json       raw data transform could not read: its extract is stale
 *   <migration>/raw/<chunk>/<attempt>/<file>          extract output, byte for byte the source's
 *   <migration>/events/<chunk>/<attempt>.jsonl.gz     transform output: PostHog events
 *   <migration>/summaries/<chunk>/<attempt>.jsonl.gz  transform output: identity pairs and person properties
 *   <migration>/rejects/<stage>/<chunk>/<attempt>.jsonl.gz   records refused, each with its reason
 *   <migration>/rejects/load/<chunk>/<attempt>/<seq>.jsonl.gz events refused while loading, per batch
 *   <migration>/outbox/<chunk>/<attempt>/<seq>.json.gz       dry-run destination: the request bodies
 *   <migration>/ledgers/load/<chunk>/<attempt>.tsv.gz        what a load handed over: uuid, content and dedup key hashes, sorted
 *   <migration>/changed/load/<chunk>/<attempt>.jsonl.gz      loaded events whose content changed since (re-extracts)
 *   <migration>/reports/report-<UTC time>.html        `hogport report`: one self-contained picture of the migration
 *   <migration>/reports/verify.json                   the last `hogport verify`'s result, with when it was taken
 *   <migration>/reports/profile.json                  the last `hogport profile`'s profile, with when it was taken
 *   <migration>/merge/parts/<group>.json             the identity merge's partition of a group of chunks' summaries
 *   <migration>/merge/parts/<group>/<digest>/<part>.jsonl.gz   its lines, one object per shard and key kind
 *   <migration>/merge/shards/<shard>.json            a merged shard: what it read (a digest) and wrote
 *   <migration>/merge/answers/<shard>/<digest>/<to>.jsonl.gz   what an id shard tells a user shard
 *   <migration>/samples/<sample>/scope.json          what a sampled load (`--sample`) chose to send
 *   <migration>/samples/<sample>/…                   that sample's own load lane: manifests/load/,
 *                                                    claims/load/, failures/load/, checkpoints/load/,
 *                                                    workers/load/, rejects/load/, outbox/, ledgers/load/
 *                                                    and changed/load/ as above
 *
 * A sampled layout (`sampled`) keeps extract and transform keys where they are and moves every
 * load key into its sample's lane: a sample and the full load never see each other's progress.
 *
 * Output keys carry the attempt id, so two workers never write the same output key; only the
 * manifest (written last) says which attempt's outputs count.
 */
export const STAGES = ['extract', 'transform', 'load'] as const;
export type Stage = (typeof STAGES)[number];

const CHUNK_ID = /^[A-Za-z0-9~][A-Za-z0-9._~=+-]{0,199}$/;
const MIGRATION_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const SAMPLE_ID = /^p(?:100|[1-9]?\d)(?:\.\d{1,6})?$/;

export function isChunkId(id: string): boolean {
  return CHUNK_ID.test(id);
}

/**
 * Chunks hogport derives from the whole migration (identities, persons) start with `~`, which no
 * source chunk id can: they have no extract stage and are made by the merge step.
 */
export function isDerivedChunk(id: string): boolean {
  return id.startsWith('~');
}

export function isMigrationId(id: string): boolean {
  return MIGRATION_ID.test(id);
}

/**
 * The id of a sample of `percent` percent, like `p30` or `p0.5`: the percent's shortest decimal
 * form, so `--sample 30` and `--sample 30.0` are the same lane. Undefined outside (0, 100] or past
 * six decimals.
 */
export function sampleIdOf(percent: number): string | undefined {
  if (!Number.isFinite(percent) || percent <= 0 || percent > 100) return undefined;
  const id = `p${String(percent)}`;
  return SAMPLE_ID.test(id) ? id : undefined;
}

export function isStage(s: string): s is Stage {
  return (STAGES as readonly string[]).includes(s);
}

/** The stage a stage reads from; extract reads the source. */
export function upstreamOf(stage: Stage): Stage | undefined {
  return stage === 'load' ? 'transform' : stage === 'transform' ? 'extract' : undefined;
}

/** A sortable, unique attempt id: UTC time to the millisecond plus randomness. */
export function newAttemptId(now: Date = new Date(), random: string = Math.random().toString(36).slice(2, 8)): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${t}-${random}`;
}

/** The folders of per-chunk control objects, each `<migration>/<kind>/<stage>/<chunk>.json`. */
export type ControlKind = 'manifests' | 'claims' | 'failures' | 'checkpoints' | 'unreadable';

export interface Layout {
  readonly migration: string;
  manifest(stage: Stage, chunk: string): string;
  manifests(stage: Stage): string;
  claim(stage: Stage, chunk: string): string;
  claims(stage: Stage): string;
  failure(stage: Stage, chunk: string): string;
  failures(stage: Stage): string;
  checkpoint(stage: Stage, chunk: string): string;
  checkpoints(stage: Stage): string;
  /** Raw data of a chunk that transform found unreadable, so its extract is fetched again. */
  unreadable(chunk: string): string;
  unreadables(): string;
  /** A worker's registration while it takes part in a stage (rate limit shares). */
  worker(stage: Stage, worker: string): string;
  workers(stage: Stage): string;
  /** The rate the workers of a stage share after a 429: cut, then recovering to the cap. */
  pace(stage: Stage): string;
  /** The queries made of a source API within its quota's window, shared by every process; `scope` is the quota's (a Mixpanel project). */
  quota(source: string, scope: string): string;
  raw(chunk: string, attempt: string, file: string): string;
  rawAttempt(chunk: string, attempt: string): string;
  /** The file name inside a raw key (what the source called it). */
  rawName(key: string): string;
  events(chunk: string, attempt: string): string;
  summary(chunk: string, attempt: string): string;
  rejects(stage: Stage, chunk: string, attempt: string): string;
  loadRejects(chunk: string, attempt: string, seq: number): string;
  outbox(chunk: string, attempt: string, seq: number): string;
  /** A load's ledger: every event it handed over, by uuid and content hash, to compare a re-extract with. */
  loadLedger(chunk: string, attempt: string): string;
  /** The events of a loaded chunk whose content changed since they were loaded, as a load found them. */
  loadChanged(chunk: string, attempt: string): string;
  outboxes(): string;
  /** A report `hogport report` wrote, by its name (like `report-20240301T093000Z`). */
  report(name: string): string;
  reports(): string;
  /** The last `hogport verify` result, for the report. */
  verifyResult(): string;
  /** The last `hogport profile` result, for the report. */
  profileResult(): string;
  /** The merge's index of a partitioned group (`g00`…): its digest and part keys. */
  mergePartIndex(group: string): string;
  mergePart(group: string, digest: string, part: string): string;
  /** A merged shard's record (`ids-0`, `users-3`…). */
  mergeShard(shard: string): string;
  mergeAnswers(shard: string, digest: string, to: string): string;
  /** Everything the merge keeps: list it to see its state. */
  merges(): string;
  /** An object `hogport check` creates if absent and deletes at once, to prove the store takes writes. */
  probe(id: string): string;
  /** The chunk id of a key under manifests/, claims/, failures/, checkpoints/ or unreadable/ for a stage, or undefined. */
  chunkOf(kind: ControlKind, stage: Stage, key: string): string | undefined;
  /** The sample this layout's load keys belong to, when it is a sampled one. */
  readonly sample?: string;
  /** The same migration with its load keys in the lane of sample `id` (see sampleIdOf). */
  sampled(id: string): Layout;
  /** Where every sample's lane lives: list it to find the samples taken. */
  samples(): string;
  /** A sample's scope: what it chose, written when its load starts. */
  scope(id: string): string;
  /** The sample id of a key under samples(), or undefined. */
  sampleOf(key: string): string | undefined;
}

export function layout(migration: string, sample?: string): Layout {
  if (!isMigrationId(migration)) {
    throw new Error(`"${migration}" is not a valid migration id: lower-case letters, digits, "-" and "_", at most 64`);
  }
  if (sample !== undefined && !SAMPLE_ID.test(sample)) throw new Error(`"${sample}" is not a valid sample id, like p30 or p0.5`);
  const m = migration;
  const lane = sample === undefined ? m : `${m}/samples/${sample}`;
  // Load keys live in the sample's lane; what extract and transform wrote is shared by every lane.
  const at = (stage: Stage) => (stage === 'load' ? lane : m);
  const chunk = (id: string) => {
    if (!isChunkId(id)) throw new Error(`"${id}" is not a valid chunk id`);
    return id;
  };
  const name = (id: string) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(id)) throw new Error(`"${id}" is not a valid merge object name`);
    return id;
  };
  const sampleId = (id: string) => {
    if (!SAMPLE_ID.test(id)) throw new Error(`"${id}" is not a valid sample id, like p30 or p0.5`);
    return id;
  };
  return {
    migration,
    ...(sample !== undefined ? { sample } : {}),
    manifest: (stage, c) => `${at(stage)}/manifests/${stage}/${chunk(c)}.json`,
    manifests: (stage) => `${at(stage)}/manifests/${stage}/`,
    claim: (stage, c) => `${at(stage)}/claims/${stage}/${chunk(c)}.json`,
    claims: (stage) => `${at(stage)}/claims/${stage}/`,
    failure: (stage, c) => `${at(stage)}/failures/${stage}/${chunk(c)}.json`,
    failures: (stage) => `${at(stage)}/failures/${stage}/`,
    checkpoint: (stage, c) => `${at(stage)}/checkpoints/${stage}/${chunk(c)}.json`,
    checkpoints: (stage) => `${at(stage)}/checkpoints/${stage}/`,
    unreadable: (c) => `${m}/unreadable/extract/${chunk(c)}.json`,
    unreadables: () => `${m}/unreadable/extract/`,
    worker: (stage, w) => `${at(stage)}/workers/${stage}/${w.replace(/[^A-Za-z0-9._-]/g, '_')}.json`,
    workers: (stage) => `${at(stage)}/workers/${stage}/`,
    pace: (stage) => `${at(stage)}/pace/${stage}.json`,
    quota: (source, scope) => `${m}/quotas/${source.replace(/[^A-Za-z0-9._-]/g, '_')}/${scope.replace(/[^A-Za-z0-9._-]/g, '_')}.json`,
    raw: (c, attempt, file) => `${m}/raw/${chunk(c)}/${attempt}/${file}`,
    rawAttempt: (c, attempt) => `${m}/raw/${chunk(c)}/${attempt}/`,
    rawName: (key) => key.split('/').slice(4).join('/'),
    events: (c, attempt) => `${m}/events/${chunk(c)}/${attempt}.jsonl.gz`,
    summary: (c, attempt) => `${m}/summaries/${chunk(c)}/${attempt}.jsonl.gz`,
    rejects: (stage, c, attempt) => `${at(stage)}/rejects/${stage}/${chunk(c)}/${attempt}.jsonl.gz`,
    loadRejects: (c, attempt, seq) => `${lane}/rejects/load/${chunk(c)}/${attempt}/${String(seq).padStart(6, '0')}.jsonl.gz`,
    outbox: (c, attempt, seq) => `${lane}/outbox/${chunk(c)}/${attempt}/${String(seq).padStart(6, '0')}.json.gz`,
    outboxes: () => `${lane}/outbox/`,
    loadLedger: (c, attempt) => `${lane}/ledgers/load/${chunk(c)}/${attempt}.tsv.gz`,
    loadChanged: (c, attempt) => `${lane}/changed/load/${chunk(c)}/${attempt}.jsonl.gz`,
    report: (name) => `${m}/reports/${name.replace(/[^A-Za-z0-9._-]/g, '_')}.html`,
    reports: () => `${m}/reports/`,
    verifyResult: () => `${m}/reports/verify.json`,
    profileResult: () => `${m}/reports/profile.json`,
    mergePartIndex: (group) => `${m}/merge/parts/${name(group)}.json`,
    mergePart: (group, digest, part) => `${m}/merge/parts/${name(group)}/${name(digest)}/${name(part)}.jsonl.gz`,
    mergeShard: (shard) => `${m}/merge/shards/${name(shard)}.json`,
    mergeAnswers: (shard, digest, to) => `${m}/merge/answers/${name(shard)}/${name(digest)}/${name(to)}.jsonl.gz`,
    merges: () => `${m}/merge/`,
    probe: (id) => `${m}/checks/${id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`,
    chunkOf(kind, stage, key) {
      const prefix = `${at(stage)}/${kind}/${stage}/`;
      if (!key.startsWith(prefix) || !key.endsWith('.json')) return undefined;
      const id = key.slice(prefix.length, -'.json'.length);
      return isChunkId(id) ? id : undefined;
    },
    sampled: (id) => layout(m, sampleId(id)),
    samples: () => `${m}/samples/`,
    scope: (id) => `${m}/samples/${sampleId(id)}/scope.json`,
    sampleOf(key) {
      const prefix = `${m}/samples/`;
      if (!key.startsWith(prefix)) return undefined;
      const id = key.slice(prefix.length).split('/')[0]!;
      return SAMPLE_ID.test(id) ? id : undefined;
    },
  };
}
