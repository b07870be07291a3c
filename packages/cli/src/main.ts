import { Command, Option } from 'commander';
import { describeError, HOGPORT_VERSION, HogportError, readSecret, redact, sleep, type Logger } from '@hogport/common';
import { formatVerify, PostHogQuery, verifyMigration } from '@hogport/verify';
import { isDerivedChunk, upstreamOf, type Stage } from '@hogport/layout';
import { DEFAULT_MAX_EVENTS_PER_MINUTE, selectChunks, type DestinationSpec, type PlannedChunk } from '@hogport/pipeline';
import { RateGate } from '@hogport/loader';
import { availableParallelism } from 'node:os';
import { currentWorker, threadedJob, joinRateShare, mergeIdentities, runMigration, type ChunkOutcome, type RunEvent, type RunSummary, type Worker } from '@hogport/runner';
import { loadPlan, loadWarnings } from './preflight.js';
import { formatChecks, runChecks } from './check.js';
import { makeLogger, openContext, stageJobs, openDestination, type Context, type GlobalOptions } from './context.js';
import { percentFlag, positiveFlag, wholeFlag } from './flags.js';
import { sampledContext } from './sample.js';
import { template, writeTemplate } from './init.js';
import { progressDisplay, progressWanted } from './progress.js';
import { readRunFacts } from './run-facts.js';
import { summaryLines, type RunFacts } from './run-summary.js';
import { threadLogChannel, writeStderr } from './stderr.js';
import type { ThreadData } from './thread-setup.js';
import { formatStatus, snapshotOf, statusJSON, statusReport } from './status.js';
import { inspectCommand, type InspectOptions } from './inspect.js';
import { profileMigration, type ProfileOptions } from './profile.js';
import { profileText } from '@hogport/profile';
import { upstreamProgress } from './waiting.js';
import { reportData, writeReport } from './report.js';
import { saveResult } from './saved-results.js';
import { formatGc, gcCommand, type GcOptions } from './gc.js';

interface StageOptions extends GlobalOptions {
  chunks?: string;
  force?: boolean;
  concurrency?: string;
  workerId?: string;
  leaseSeconds?: string;
  leaseAllowanceSeconds?: string;
  threads?: string;
  resendChanged?: boolean;
  maxEventsPerMinute?: string;
  withoutHistoricalMigration?: boolean;
  /** A percent of persons: a sampled test migration in a lane of its own. */
  sample?: string;
  /** False with --no-wait. */
  wait?: boolean;
}

/** How long a stopping run may take to release its claims before it exits regardless. */
const STOP_GRACE_MS = 3000;
/** How often a stage started before its upstream looks again, and how often it says so. */
const WAIT_POLL_MS = Number(process.env.HOGPORT_WAIT_POLL_MS) || 5000;
const WAIT_NOTICE_MS = 60_000;

const program = new Command('hogport')
  .description('Move analytics history into PostHog: extract, transform and load in resumable stages through a store.')
  .version(HOGPORT_VERSION)
  .showHelpAfterError('(hogport --help lists the commands, hogport <command> --help their options)')
  // A mistyped command or flag is the command line's fault: exit 2, as the README says.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

const common = (cmd: Command) => cmd
  .argument('<pipeline>', 'the pipeline definition (YAML or JSON)')
  .option('--store <uri>', 'use this store instead of the one in the definition (path, file://, s3://, gs://)')
  .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
  .option('--log-file <path>', 'append JSON logs to this file instead of stderr');

const stageCommand = (cmd: Command) => common(cmd)
  .option('--chunks <ids>', 'only these chunks: comma-separated ids or globs, like "2024-03-*"')
  .option('--force', 'redo chunks even when they are done')
  .option('--concurrency <n>', 'chunks at once (default: the definition\'s concurrency)')
  .option('--lease-seconds <n>', 'lease on a claimed chunk (default: the definition\'s leaseSeconds)')
  .option('--lease-allowance-seconds <n>', 'how long past its lease, on the store\'s clock, another worker\'s claim stands before it is taken over (default: the definition\'s leaseAllowanceSeconds, 30)')
  .option('--worker-id <id>', 'name this worker in claims and manifests (default: host:pid:random)')
  .option('--threads <n>', 'transform threads (default: the definition\'s threads, else one per core)')
  .option('--no-wait', 'exit (code 4) instead of waiting for chunks an earlier stage has not committed yet');

program.command('init')
  .description('write a commented definition for a source, with a dry-run destination first')
  .argument('<source>', 'the source: amplitude, amplitude-s3, mixpanel, segment, ga4, heap, posthog, posthog-files, files')
  .option('--out <file>', 'write it to this file (default: print it)')
  .option('--force', 'replace the file if it exists')
  .action(async (name: string, opts: { out?: string; force?: boolean }) => {
    try {
      if (!opts.out) { process.stdout.write(await template(name)); return; }
      await writeTemplate(name, opts.out, Boolean(opts.force));
      process.stderr.write(`hogport: wrote ${opts.out}: set the source, the store and the id, then run hogport check ${opts.out}\n`);
    } catch (err) {
      process.stderr.write(`hogport: ${describeError(err).message}\n`);
      process.exitCode = err instanceof HogportError ? err.exitCode : 1;
    }
  });

common(program.command('plan').description('list the chunks the pipeline plans'))
  .option('--json', 'print JSON')
  .action(async (file: string, opts: GlobalOptions & { json?: boolean }) => {
    await withContext(file, opts, false, async (ctx) => {
      const planned = await ctx.source.plan();
      if (opts.json) { print(JSON.stringify({ migration: ctx.layout.migration, chunks: planned }, null, 2)); return 0; }
      for (const c of planned) print(`${c.id}\t${c.inputs.map((i) => i.key).join(' ')}`);
      print(`${planned.length} chunks planned for migration ${ctx.layout.migration}`);
      return 0;
    });
  });

const loadOptions = (cmd: Command) => cmd
  .option('--resend-changed', 'send again the events whose content changed since they were loaded (kept out otherwise); those whose name, distinct_id or day changed are then in PostHog twice')
  .option('--max-events-per-minute <n>', `hold the load to this many events per minute, across all workers and retries (default ${DEFAULT_MAX_EVENTS_PER_MINUTE.toLocaleString('en-US')}, PostHog's threshold for approval; "none" for no cap)`)
  .option('--without-historical-migration', 'send without historical_migration (live ingestion): only if you know you need it')
  .option('--sample <percent>', 'a test migration of whole persons: this percent of them, the same ones every run, loaded in a lane of its own (to sample.destination when set)');

for (const stage of ['extract', 'transform'] as const) {
  stageCommand(program.command(stage).description(`run the ${stage} stage over the planned chunks`))
    .action(async (file: string, opts: StageOptions) => runStages(file, opts, [stage]));
}

common(program.command('merge').description('merge identities and person properties across the whole migration, once every chunk is transformed (load and run do it themselves)'))
  .option('--part <index/count>', 'be part index of count processes sharing the merge (from 0, as a Kubernetes Indexed Job numbers its pods): each starts with its share of the shards, then helps with the rest')
  .action(async (file: string, opts: GlobalOptions & { part?: string }) => {
    await withContext(file, opts, true, async (ctx) => {
      const part = partFlag(opts.part);
      const planned = await ctx.source.plan();
      const started = Date.now();
      const merged = await mergeIdentities({
        store: ctx.store, layout: ctx.layout, chunks: planned.map((c) => c.id), transform: ctx.pipeline.definition.transform,
        worker: currentWorker().id, log: ctx.log, shards: ctx.pipeline.definition.merge.shards, ...(part ? { part } : {}),
      });
      if (merged.waiting.length > 0) {
        writeStderr(`hogport: the merge waits until every chunk is transformed (${merged.waiting.length} not yet, like ${merged.waiting.slice(0, 3).join(', ')})\n`);
        return 4;
      }
      print(`merged in ${((Date.now() - started) / 1000).toFixed(1)} s over ${ctx.pipeline.definition.merge.shards} shard(s): ${merged.identities.length} identities chunk(s)${merged.identities.length ? ` (${merged.identities.join(', ')})` : ''}, ${merged.persons.length} persons chunk(s)${merged.persons.length ? ` (${merged.persons.join(', ')})` : ''}`);
      return 0;
    });
  });

/** `--part 2/4`: the third of four processes sharing a merge. */
function partFlag(value: string | undefined): { index: number; count: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(value);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new HogportError('E_USAGE', `--part takes index/count with 0 <= index < count, like 0/4 (got "${value}")`, { exitCode: 2 });
  return { index, count };
}

loadOptions(stageCommand(program.command('load').description('send transformed chunks to the destination, oldest events first')))
  .action(async (file: string, opts: StageOptions) => runStages(file, opts, ['load']));

loadOptions(stageCommand(program.command('run').description('run extract, transform and load, chunk by chunk (after the checks `hogport check` makes)')))
  .option('--skip-checks', 'start without the checks (offline work on a store that needs no source, say)')
  .action(async (file: string, opts: StageOptions & { skipChecks?: boolean }) => {
    let percent: number | undefined;
    try {
      percent = percentFlag(opts.sample, '--sample');
    } catch (err) {
      writeStderr(`hogport: ${describeError(err).message}\n`);
      process.exitCode = 2;
      return;
    }
    if (!opts.skipChecks) {
      const checked = await runChecks(file, opts, makeLogger(opts, true), percent);
      if (!checked.ok) {
        writeStderr(`${formatChecks(checked)}\nhogport: run did not start: fix what failed above (hogport check ${file} checks again), or pass --skip-checks\n`);
        process.exitCode = checked.exitCode;
        return;
      }
      writeStderr(`${formatChecks(checked)}\n`);
    }
    await runStages(file, opts, ['extract', 'transform', 'load']);
  });

common(program.command('check').description('check the definition, secrets, source credentials, store, destination key and disk, in seconds, before any long work'))
  .option('--json', 'print JSON')
  .action(async (file: string, opts: GlobalOptions & { json?: boolean }) => {
    const checked = await runChecks(file, opts, makeLogger(opts, true));
    print(opts.json ? redact(JSON.stringify(checked, null, 2)) : formatChecks(checked));
    process.exitCode = checked.exitCode;
  });

common(program.command('status').description('show every chunk\'s state in every stage, from the store'))
  .option('--sample <percent>', 'show the load of this sample\'s lane instead of the full load')
  .option('--json', 'print JSON')
  .action(async (file: string, opts: GlobalOptions & { json?: boolean; sample?: string }) => {
    await withContext(file, opts, false, async (full) => {
      const percent = percentFlag(opts.sample, '--sample');
      const { ctx, lane } = percent === undefined ? { ctx: full, lane: undefined } : sampledContext(full, percent);
      const planned = await ctx.source.plan().catch(() => []);
      const jobs = stageJobs(ctx, planned, undefined, undefined, lane);
      const report = await statusReport(ctx, planned.map((c) => c.id), jobs);
      print(opts.json ? JSON.stringify(statusJSON(report), null, 2) : formatStatus(report, file));
      return 0;
    });
  });

common(program.command('gc').description('list the outputs of discarded attempts (no manifest names them, no live claim holds them) with their size; --delete removes them'))
  .option('--min-age-hours <hours>', 'only attempts that started at least this long ago (default 24)')
  .option('--delete', 'delete them (without it, gc only lists them)')
  .option('--json', 'print JSON')
  .action(async (file: string, opts: GlobalOptions & GcOptions) => {
    await withContext(file, opts, false, async (ctx) => {
      const result = await gcCommand(ctx, opts);
      print(opts.json ? JSON.stringify(result, null, 2) : formatGc(result, file));
      return 0;
    });
  });

common(program.command('inspect').description('show a chunk\'s source records beside the events transform makes of them, or its rejects by code'))
  .argument('<chunk>', 'the chunk id (hogport plan lists them)')
  .option('--record <n>', 'the n-th record of the chunk (from 1, in the order it is read) and what it becomes')
  .option('--distinct-id <id>', 'every record whose events carry this distinct_id')
  .option('--reject [code]', 'the rejects of this code; without one, a table of reject codes and drops')
  .option('--changed', 'the loaded events whose content changed since they were loaded (a re-extract), and whether they were sent again')
  .option('--limit <n>', 'records or rejects shown at most (default 20)')
  .option('--json', 'print JSON')
  .action(async (file: string, chunk: string, opts: GlobalOptions & InspectOptions) => {
    await withContext(file, opts, true, async (ctx) => {
      const { code, text } = await inspectCommand(ctx, file, chunk, opts);
      print(redact(text));
      return code;
    });
  });

common(program.command('profile').description('what the extracted chunks hold, before anything is loaded: counts, ids, times, sizes, properties, identities, problems'))
  .option('--chunks <ids>', 'only these extracted chunks: comma-separated ids or globs')
  .option('--sample-chunks <n>', 'only n of them, picked by their ids (the same ones every run)')
  .option('--json', 'print JSON')
  .action(async (file: string, opts: GlobalOptions & ProfileOptions) => {
    await withContext(file, opts, true, async (ctx) => {
      const profile = await profileMigration(ctx, file, opts);
      await saveResult(ctx, 'hogport.profile', profile, (line) => writeStderr(`${line}\n`));
      print(redact(opts.json ? JSON.stringify(profile, null, 2) : profileText(profile)));
      return 0;
    });
  });

common(program.command('verify').description('compare loaded chunks with what PostHog holds (count and distinct uuids per chunk)'))
  .option('--project-id <id>', 'the PostHog project id (default: verify.projectId in the definition)')
  .option('--host <url>', 'the PostHog app host, like https://us.posthog.com (default: from the definition)')
  .option('--chunks <ids>', 'only these chunks: comma-separated ids or globs')
  .option('--json', 'print JSON')
  .action(async (file: string, opts: GlobalOptions & { projectId?: string; host?: string; chunks?: string; json?: boolean }) => {
    await withContext(file, opts, false, async (ctx) => {
      const def = ctx.pipeline.definition;
      const { migration, chunk } = def.transform.tags;
      if (!migration || !chunk) throw new HogportError('E_USAGE', 'verify needs events tagged with the migration and chunk: transform.tags.migration and transform.tags.chunk must not be null', { exitCode: 2 });
      const host = opts.host ?? def.verify.host ?? (def.destination.type === 'posthog' ? appHost(def.destination.host) : undefined);
      if (!host) throw new HogportError('E_USAGE', 'verify needs the PostHog app host: pass --host or set verify.host', { exitCode: 2 });
      const projectId = opts.projectId ?? def.verify.projectId;
      if (!projectId) throw new HogportError('E_USAGE', 'verify needs the PostHog project id: pass --project-id or set verify.projectId', { exitCode: 2 });
      const personalKey = readSecret(def.verify.personalApiKeyEnv);
      if (!personalKey) throw new HogportError('E_NO_API_KEY', `the environment variable ${def.verify.personalApiKeyEnv} is not set: export a personal API key with Query Read access there (verify.personalApiKeyEnv names it)`, { exitCode: 2 });
      const planned = await ctx.source.plan();
      const snapshot = await snapshotOf(ctx, planned.map((c) => c.id), stageJobs(ctx, planned), ['load']);
      const derived = opts.chunks ? [] : snapshot.chunks.filter((c) => isDerivedChunk(c) && snapshot.manifest('load', c));
      const ids = [...selectChunks(planned.map((c) => c.id), opts.chunks), ...derived];
      const report = await verifyMigration({
        store: ctx.store, layout: ctx.layout, chunks: ids, query: new PostHogQuery({ host, projectId, personalKey }), tags: { migration, chunk },
        loadManifest: (c) => snapshot.manifest('load', c),
      });
      await saveResult(ctx, 'hogport.verify', report, (line) => writeStderr(`${line}\n`));
      print(opts.json ? JSON.stringify(report, null, 2) : formatVerify(report));
      return report.ok ? 0 : 1;
    });
  });

common(program.command('report').description('write one self-contained HTML picture of the migration into the store: chunks, counts, days, event names, rejects, identities, load timings'))
  .option('--out <file>', 'also write a copy of the report to this file')
  .option('--sample <percent>', 'show the load of this sample\'s lane instead of the full load')
  .option('--json', 'print the figures the report is drawn from, as JSON, instead of writing it')
  .action(async (file: string, opts: GlobalOptions & { out?: string; json?: boolean; sample?: string }) => {
    await withContext(file, opts, false, async (full) => {
      const percent = percentFlag(opts.sample, '--sample');
      const { ctx, lane } = percent === undefined ? { ctx: full, lane: undefined } : sampledContext(full, percent);
      const planned = await ctx.source.plan().catch(() => []);
      const jobs = stageJobs(ctx, planned, undefined, undefined, lane);
      if (opts.json) { print(redact(JSON.stringify(await reportData(ctx, planned, jobs), null, 2))); return 0; }
      const written = await writeReport(ctx, planned, jobs, opts.out);
      print(written.location);
      if (opts.out) writeStderr(`hogport: a copy is at ${opts.out}\n`);
      return 0;
    });
  });

/** The app host for an ingestion host: PostHog Cloud's differ by the ".i"; self-hosted ones are the same. */
function appHost(ingestion: string): string {
  const url = new URL(ingestion);
  url.hostname = url.hostname.replace(/^(us|eu)\.i\.posthog\.com$/, '$1.posthog.com');
  return url.origin;
}

async function runStages(file: string, opts: StageOptions, stages: Stage[]): Promise<void> {
  await withContext(file, opts, true, async (full) => {
    // A sampled run is the same run with its load in the sample's lane and to the sample's destination.
    const percent = percentFlag(opts.sample, '--sample');
    const { ctx, lane } = percent === undefined ? { ctx: full, lane: undefined } : sampledContext(full, percent);
    const def = ctx.pipeline.definition;
    const planned = await ctx.source.plan();
    let ids = selectChunks(planned.map((c) => c.id), opts.chunks);
    const worker = currentWorker(opts.workerId);
    const last = new Set(planned.filter((c) => c.loadLast).map((c) => c.id));
    const loading = stages.includes('load') ? await prepareLoad(ctx, opts, ids, worker, last) : undefined;
    if (loading && stages.length === 1) ids = loading.order;
    const jobs = stageJobs(ctx, planned, loading?.destination, loading?.batchMaxEvents, lane);
    const threads = stages.includes('transform') ? positiveFlag(opts.threads, '--threads') ?? def.threads ?? availableParallelism() : 1;
    const showProgress = progressWanted() && ids.length > 0;
    // Threads log to stderr on their own; while the bars show, their lines come here to go above them.
    const threadLogs = showProgress && !opts.logFile && threads > 1 ? new BroadcastChannel(threadLogChannel()) : undefined;
    if (threadLogs) { threadLogs.onmessage = (m) => writeStderr(String((m as MessageEvent).data)); threadLogs.unref(); }
    // Transform is CPU-bound: in threads it uses every core, and leaves this one to extract and load.
    const threaded = threads > 1 ? threadedJob(jobs.transform, {
      setup: new URL('./thread-setup.js', import.meta.url), threads,
      data: { file, opts: { ...(opts.store ? { store: opts.store } : {}), ...(opts.logFile ? { logFile: opts.logFile } : {}) }, logLevel: ctx.log.level, ...(threadLogs ? { logChannel: threadLogChannel() } : {}) } satisfies ThreadData,
    }) : undefined;
    if (threaded) jobs.transform = threaded;
    const selected = stages.map((s) => jobs[s]);
    // A chunk waiting for a thread would only hold its lease: a transform alone claims as many as there are threads.
    const concurrency = positiveFlag(opts.concurrency, '--concurrency') ?? (threaded && stages.length === 1 ? threads : def.concurrency);
    const stop = new AbortController();
    let stoppedBy: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      stoppedBy = signal;
      ctx.log.warn({ signal }, 'stopping: chunks in progress are left uncommitted and will be redone');
      writeStderr(`hogport: ${signal}: stopping; chunks in progress are left uncommitted, and the next run redoes them\n`);
      stop.abort(new HogportError('E_STOPPED', `stopped by ${signal}`));
      // A stage deep in one request or one huge record still stops within seconds: what it holds is
      // uncommitted, and its claims name this dead process, so the next run on this host takes them over.
      setTimeout(() => process.exit(signalExitCode(signal)), STOP_GRACE_MS).unref();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const progress = progressDisplay(stages, ids.length, showProgress);
    const runOptions = {
      store: ctx.store, layout: ctx.layout, worker,
      concurrency,
      leaseMs: (positiveFlag(opts.leaseSeconds, '--lease-seconds') ?? def.leaseSeconds) * 1000,
      leaseAllowanceMs: (wholeFlag(opts.leaseAllowanceSeconds, '--lease-allowance-seconds') ?? def.leaseAllowanceSeconds) * 1000,
      clock: ctx.clock,
      force: Boolean(opts.force), resendChanged: Boolean(opts.resendChanged), log: ctx.log,
      // Derived chunks (identities, persons) change by design as the migration grows.
      mayResend: isDerivedChunk,
      onEvent: (e: RunEvent) => progress.onEvent(e), signal: stop.signal,
    };
    // A sample is drawn from the whole migration, so a sampled load is ordered like an identity source's.
    const identities = Boolean((ctx.source.identities || lane) && loading);
    const all = planned.map((c) => c.id);
    // The latest outcome of every stage and chunk, over the passes a stage makes while it waits for its upstream.
    const outcomes = new Map<string, ChunkOutcome>();
    let summary: RunSummary = { outcomes: [] };
    try {
      let todo = ids;
      let noticed = 0;
      for (;;) {
        const pass = await runMigration({
          ...runOptions, all, ids: identities ? ids : todo, last, stages, jobs, transform: def.transform, shards: def.merge.shards,
          identities: Boolean(ctx.source.identities), ...(lane ? { lane } : {}), dryRun: def.destination.type === 'dry-run',
          notify: (message) => { if (!said.has(message)) writeStderr(`hogport: ${message}\n`); said.add(message); },
        });
        for (const o of pass.outcomes) outcomes.set(`${o.stage}/${o.chunk}`, o);
        summary = { outcomes: [...outcomes.values()], ...(pass.fatal ? { fatal: pass.fatal } : {}) };
        const waiting = pass.outcomes.filter((o) => o.result === 'waiting');
        if (pass.fatal || stop.signal.aborted || opts.wait === false || waiting.length === 0) break;
        // Identity sources merge across the whole migration: it waits for every chunk not transformed yet.
        const upstream = await upstreamProgress(ctx.store, ctx.layout, stages[0]!, identities ? all : [...new Set(waiting.map((o) => o.chunk))]);
        const coming = identities ? upstream.coming : [...upstream.ready, ...upstream.coming];
        if (coming.length === 0) break;
        if (upstream.coming.length > 0 && Date.now() - noticed > WAIT_NOTICE_MS) {
          noticed = Date.now();
          const message = `waiting for ${upstream.coming.length} chunk(s) that ${upstreamOf(stages[0]!)} has not committed yet (like ${upstream.coming.slice(0, 3).join(', ')}); pass --no-wait to exit instead`;
          ctx.log.info({ waiting: upstream.coming.length }, message);
          writeStderr(`hogport: ${message}\n`);
        }
        await sleep(WAIT_POLL_MS, stop.signal).catch(() => undefined);
        if (stop.signal.aborted) break;
        todo = [...new Set(waiting.map((o) => o.chunk))];
      }
    } finally {
      progress.stop();
      await threaded?.close();
      threadLogs?.close();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await loading?.close();
    }
    const facts = await readRunFacts(ctx, file, stages, summary.outcomes, lane);
    const code = report(summary, { ...facts, report: stoppedBy ? { error: `stopped by ${stoppedBy}` } : await endOfRunReport(ctx, planned, loading?.batchMaxEvents) }, ctx.log);
    return stoppedBy ? signalExitCode(stoppedBy) : code;
  });
}

/** Messages said once per process, however often a waiting stage looks again. */
const said = new Set<string>();

/**
 * Everything a load needs before its first request: the historical_migration decision, the rate
 * limit shared with other workers, the oldest-first order, and the warnings PostHog's guidance calls for.
 */
async function prepareLoad(ctx: Context, opts: StageOptions, ids: string[], worker: Worker, last: ReadonlySet<string>) {
  const d = ctx.pipeline.definition.destination;
  const optedOut = Boolean(opts.withoutHistoricalMigration);
  if (d.type === 'posthog' && !d.historicalMigration && !optedOut) {
    throw new HogportError('E_USAGE', 'destination.historicalMigration is false: events would go through live ingestion (spike detection, standard ingestion charges) instead of the historical queue. Pass --without-historical-migration to confirm, or remove the setting.', { exitCode: 2 });
  }
  const perMinute = loadRate(opts.maxEventsPerMinute, d);
  const plan = await loadPlan(ctx, ids, last);
  const warnings = loadWarnings(plan, perMinute);
  if (optedOut) warnings.push('sending WITHOUT historical_migration: these events go through live ingestion.');
  for (const w of warnings) {
    ctx.log.warn(w);
    writeStderr(`hogport: warning: ${w}\n`);
  }
  const gate = perMinute ? new RateGate(perMinute) : undefined;
  const share = gate && perMinute ? await joinRateShare({ store: ctx.store, layout: ctx.layout, stage: 'load', worker, gate, perMinute, log: ctx.log, clock: ctx.clock }) : undefined;
  const destination = openDestination(ctx, { historicalMigration: !optedOut, ...(share ? { rate: share.limit } : {}) });
  return {
    order: plan.order,
    destination,
    // Under a rate limit, requests of at most a second's worth of events keep the pace even.
    batchMaxEvents: perMinute ? Math.max(1, Math.min(d.batchMaxEvents, Math.floor(perMinute / 60))) : d.batchMaxEvents,
    async close() {
      await share?.stop();
      await destination.close();
    },
  };
}

/**
 * The events a minute a load holds to: the flag, else the definition's, else (to PostHog) the
 * default PostHog's guidance sets; "none" (flag or definition) for no cap at all.
 */
function loadRate(flag: string | undefined, d: DestinationSpec): number | undefined {
  if (flag !== undefined && flag.trim().toLowerCase() === 'none') return undefined;
  if (flag !== undefined && !/^\s*\d+\s*$/.test(flag)) throw new HogportError('E_USAGE', `--max-events-per-minute takes a positive whole number of events, or "none" for no cap, not "${flag}"`, { exitCode: 2 });
  const given = positiveFlag(flag, '--max-events-per-minute');
  if (given !== undefined) return given;
  if (d.type !== 'posthog' || d.maxEventsPerMinute === 'none') return undefined;
  return d.maxEventsPerMinute ?? DEFAULT_MAX_EVENTS_PER_MINUTE;
}

/**
 * The report at the end of a run, from the store as the run left it. One that cannot be written
 * costs the run nothing: it is logged, and the summary says so.
 */
async function endOfRunReport(ctx: Context, planned: PlannedChunk[], batchMaxEvents: number | undefined): Promise<RunFacts['report']> {
  try {
    return { location: (await writeReport(ctx, planned, stageJobs(ctx, planned, undefined, batchMaxEvents))).location };
  } catch (err) {
    const { code, message } = describeError(err);
    ctx.log.warn({ error: { code, message: redact(message) } }, 'the report could not be written; the run is not affected');
    return { error: `${code}: ${message}` };
  }
}

/** Says how the run ended (see run-summary.ts) and returns its exit code. */
function report(summary: RunSummary, facts: RunFacts, log: Logger): number {
  const by = (r: string) => summary.outcomes.filter((o) => o.result === r);
  writeStderr(`${redact(summaryLines(facts).join('\n'))}\n`);
  if (summary.fatal) {
    log.error({ error: summary.fatal }, 'run stopped');
    writeStderr(`hogport: ${redact(summary.fatal.message)}\n`);
    return summary.fatal.exitCode;
  }
  if (by('failed').length + by('refused').length > 0) return 1;
  // Exit 0 says every selected chunk is done: one still waiting for an earlier stage is not.
  return by('waiting').length + by('blocked').length > 0 ? 4 : 0;
}

/** The shell's convention: 128 plus the signal's number. */
function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}


async function withContext(file: string, opts: GlobalOptions, quietOnTty: boolean, fn: (ctx: Context) => Promise<number>): Promise<void> {
  const log = makeLogger(opts, quietOnTty, writeStderr);
  let ctx: Context | undefined;
  try {
    ctx = await openContext(file, opts, log);
    process.exitCode = await fn(ctx);
  } catch (err) {
    const { code, message } = describeError(err);
    if (err instanceof HogportError) {
      writeStderr(`hogport: ${redact(message)}\n`);
      process.exitCode = err.exitCode;
    } else {
      log.error({ error: { code, message: redact(message), stack: redact((err as Error)?.stack ?? '') } }, 'unexpected error');
      writeStderr(`hogport: unexpected error (${code}): ${redact(message)}\n`);
      process.exitCode = 1;
    }
  } finally {
    await ctx?.close();
  }
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

await program.parseAsync(process.argv);
