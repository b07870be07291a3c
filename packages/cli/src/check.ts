import { statfs } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { randomUUID } from 'node:crypto';
import { describeError, HogportError, readSecret, redact, type Logger } from '@hogport/common';
import { probeProjectKey } from '@hogport/loader';
import type { PlannedChunk } from '@hogport/pipeline';
import { sampledContext } from './sample.js';
import { openContext, type Context, type GlobalOptions } from './context.js';

export type CheckName = 'definition' | 'secrets' | 'source' | 'plan' | 'store' | 'destination' | 'disk';

export interface CheckLine {
  name: CheckName;
  status: 'ok' | 'failed' | 'skipped';
  /** What was proved, or what went wrong: names of variables, never their values. */
  detail: string;
  fix?: string;
  /** PostHog or a source refused a key, or the destination is not PostHog capture: the check exits 3, not 2. */
  refused?: boolean;
}

export interface CheckReport {
  ok: boolean;
  /** 0 all passed; 3 PostHog or a source refused a key, or the host is not PostHog capture; 2 anything else failed. */
  exitCode: number;
  checks: CheckLine[];
}

/** Free space wanted in the temporary directory whatever the source: room for the temporary files of a chunk. */
export const MIN_FREE_BYTES = 256 * 2 ** 20;
/** How long a source's check may take before it counts as unreachable. */
const SOURCE_CHECK_MS = 60_000;

/**
 * Every check `hogport check` makes, and `run` before any work: the definition, the secrets it names,
 * the source's credentials (or location), the plan, the store (a create-if-absent probe, deleted),
 * the destination's key (without sending an event) and free space for spooling. Takes seconds.
 */
export async function runChecks(file: string, opts: GlobalOptions, log: Logger, samplePercent?: number): Promise<CheckReport> {
  let ctx: Context;
  try {
    ctx = await openContext(file, opts, log);
    // A sampled run sends to the sample's destination: that is the one whose key is checked.
    if (samplePercent !== undefined) ctx = sampledContext(ctx, samplePercent).ctx;
  } catch (err) {
    return report([{ name: 'definition', status: 'failed', detail: describeError(err).message }]);
  }
  try {
    const def = ctx.pipeline.definition;
    const d = def.destination;
    const lines: CheckLine[] = [{ name: 'definition', status: 'ok', detail: `${file}: migration ${def.id}, source ${def.source.type}, destination ${d.type === 'posthog' ? `posthog ${d.host}` : 'dry-run'}` }];
    const secrets = secretsCheck(ctx);
    lines.push(secrets.line);
    const planned = settle(ctx.source.plan());
    const [source, plan, store, destination] = await Promise.all([
      sourceCheck(ctx, secrets.sourceReady),
      planned.then((p): CheckLine => ('error' in p
        ? failed('plan', p.error)
        : { name: 'plan', status: 'ok', detail: `${p.value.length} chunk(s) planned${p.value.length ? ` (${p.value[0]!.id} … ${p.value.at(-1)!.id})` : ''}` })),
      storeCheck(ctx),
      destinationCheck(ctx, log),
    ]);
    const p = await planned;
    lines.push(source, plan, store, destination, await diskCheck(ctx, 'value' in p ? p.value : undefined));
    return report(lines);
  } finally {
    await ctx.close();
  }
}

function report(checks: CheckLine[]): CheckReport {
  const failures = checks.filter((c) => c.status === 'failed');
  const exitCode = failures.length === 0 ? 0 : failures.some((c) => c.refused) ? 3 : 2;
  return { ok: exitCode === 0, exitCode, checks };
}

/** The report as the lines a user reads: one per check, with the fix under a failed one. */
export function formatChecks(r: CheckReport): string {
  const lines = r.checks.flatMap((c) => [
    `${(c.status === 'failed' ? 'FAILED' : c.status).padEnd(8)}${c.name.padEnd(13)}${c.detail}`,
    ...(c.fix && c.status !== 'ok' ? [`${' '.repeat(21)}fix: ${c.fix}`] : []),
  ]);
  const failed = r.checks.filter((c) => c.status === 'failed').length;
  lines.push(failed === 0 ? `all checks passed (${r.checks.filter((c) => c.status === 'ok').length} ok)` : `${failed} check(s) failed`);
  return redact(lines.join('\n'));
}

async function settle<T>(p: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try { return { value: await p }; } catch (error) { return { error }; }
}

function failed(name: CheckName, err: unknown, fix?: string): CheckLine {
  const refused = err instanceof HogportError && err.exitCode === 3;
  return { name, status: 'failed', detail: describeError(err).message, ...(fix ? { fix } : {}), ...(refused ? { refused } : {}) };
}

/** Every secret the definition names, by variable: the destination's key, verify's, and the source's. */
function secretsCheck(ctx: Context): { line: CheckLine; sourceReady: boolean } {
  const def = ctx.pipeline.definition;
  const wanted: Array<{ what: string; groups: ReadonlyArray<readonly string[]> }> = [];
  if (ctx.source.secrets?.length) wanted.push({ what: `source (${def.source.type})`, groups: ctx.source.secrets });
  if (def.destination.type === 'posthog') wanted.push({ what: 'destination.apiKeyEnv', groups: [[def.destination.apiKeyEnv]] });
  // verify is configured once it knows its project: only then does a missing key stop anything.
  if (def.verify.projectId) wanted.push({ what: 'verify.personalApiKeyEnv', groups: [[def.verify.personalApiKeyEnv]] });
  const set = (name: string) => readSecret(name) !== undefined && readSecret(name) !== '';
  const missing = wanted.filter((w) => !w.groups.some((g) => g.every(set)));
  const sourceReady = !missing.some((m) => m.what.startsWith('source'));
  if (wanted.length === 0) return { line: { name: 'secrets', status: 'ok', detail: 'none needed' }, sourceReady };
  if (missing.length === 0) {
    const names = wanted.map((w) => `${w.groups.find((g) => g.every(set))!.join(', ')} (${w.what})`);
    return { line: { name: 'secrets', status: 'ok', detail: `set: ${names.join('; ')}` }, sourceReady };
  }
  const say = (w: typeof wanted[number]) => `${w.groups.map((g) => g.filter((n) => !set(n)).join(' and ')).join(', or ')} (${w.what})`;
  return {
    line: {
      name: 'secrets', status: 'failed', detail: `not set: ${missing.map(say).join('; ')}`,
      fix: `export ${missing.map((w) => w.groups[0]!.filter((n) => !set(n)).join(', ')).join(', ')} in the environment hogport runs in (the definition names the variables, never the values)`,
    },
    sourceReady,
  };
}

async function sourceCheck(ctx: Context, ready: boolean): Promise<CheckLine> {
  const source = ctx.source;
  if (!ready) return { name: 'source', status: 'skipped', detail: `the ${source.type} source's secrets are not set (see secrets)` };
  if (!source.check) return { name: 'source', status: 'skipped', detail: `the ${source.type} source has nothing to check before it runs` };
  try {
    return { name: 'source', status: 'ok', detail: await source.check(AbortSignal.timeout(SOURCE_CHECK_MS)) };
  } catch (err) {
    if ((err as Error)?.name === 'TimeoutError') return failed('source', new HogportError('E_SOURCE_UNREACHABLE', `the ${source.type} source did not answer within ${SOURCE_CHECK_MS / 1000} s`));
    return failed('source', err);
  }
}

/** A create-if-absent write under the migration's prefix, then its deletion: what claims and commits need. */
async function storeCheck(ctx: Context): Promise<CheckLine> {
  const key = ctx.layout.probe(`probe-${randomUUID()}`);
  try {
    await ctx.store.writeIf(key, JSON.stringify({ probe: 'hogport check', at: new Date().toISOString() }), { ifAbsent: true });
    await ctx.store.delete(key);
    return { name: 'store', status: 'ok', detail: `${ctx.store.url} takes conditional writes and deletes (probe under ${ctx.layout.migration}/checks/)` };
  } catch (err) {
    return failed('store', err, `make ${ctx.store.url} writable by this process (store in the definition, or --store): a directory that exists or can be created, or a bucket that exists with credentials that may write and delete there`);
  }
}

async function destinationCheck(ctx: Context, log: Logger): Promise<CheckLine> {
  const d = ctx.pipeline.definition.destination;
  if (d.type === 'dry-run') return { name: 'destination', status: 'ok', detail: `dry-run: nothing will be sent; load writes the exact request bodies under ${ctx.layout.outboxes()} in the store` };
  const apiKey = readSecret(d.apiKeyEnv);
  if (!apiKey) return { name: 'destination', status: 'skipped', detail: `${d.apiKeyEnv} is not set (see secrets)` };
  try {
    return { name: 'destination', status: 'ok', detail: await probeProjectKey({ host: d.host, apiKey, apiKeyEnv: d.apiKeyEnv, log }) };
  } catch (err) {
    return failed('destination', err);
  }
}

/**
 * Free space where chunks are spooled (the temporary directory): room for the largest input that is
 * spooled whole (zips and Parquet, which need random access), or what the source says one chunk may
 * spool when the plan does not know (an Export API zip), for every chunk transformed at once, and
 * never less than MIN_FREE_BYTES.
 */
async function diskCheck(ctx: Context, planned: PlannedChunk[] | undefined): Promise<CheckLine> {
  const dir = tmpdir();
  const largest = Math.max(0, ...(planned ?? []).flatMap((c) => c.inputs.filter((i) => /\.(zip|parquet)$/i.test(i.key)).map((i) => i.bytes ?? 0)));
  const perChunk = Math.max(largest, ctx.source.spoolBytes ?? 0);
  // Each transform thread reads a chunk of its own; without threads, the run's concurrency does.
  const def = ctx.pipeline.definition;
  const threads = def.threads ?? availableParallelism();
  const atOnce = Math.max(1, threads > 1 ? threads : def.concurrency);
  const need = Math.max(MIN_FREE_BYTES, perChunk * atOnce);
  const why = perChunk * atOnce < MIN_FREE_BYTES ? 'the minimum'
    : `${largest >= (ctx.source.spoolBytes ?? 0) ? 'the largest planned zip or Parquet input' : `what one ${ctx.source.type} chunk may spool`}, ${gib(perChunk)}, for each of ${atOnce} chunk(s) transformed at once`;
  try {
    const s = await statfs(dir);
    const free = s.bavail * s.bsize;
    const line = `${gib(free)} free in ${dir}; spooling needs ${gib(need)} (${why})`;
    if (free >= need) return { name: 'disk', status: 'ok', detail: line };
    return { name: 'disk', status: 'failed', detail: line, fix: `free space there, or point TMPDIR at a disk with at least ${gib(need)} free` };
  } catch (err) {
    return failed('disk', err, 'point TMPDIR at a directory that exists');
  }
}

const gib = (n: number) => `${(n / 2 ** 30).toFixed(n < 2 ** 30 ? 2 : 1)} GiB`;
