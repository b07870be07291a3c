import { clearScreenDown } from 'node:readline';
import cliProgress from 'cli-progress';
import type { Stage } from '@hogport/layout';
import type { RunEvent } from '@hogport/runner';
import { divertStderr } from './stderr.js';

/** How far back a stage's rate looks: long enough to smooth batches, short enough to show a slowdown. */
export const RATE_WINDOW_MS = 10_000;

export interface StageView {
  /** Chunks finished in this run (done, already done or failed), and how many of those failed. */
  done: number;
  failed: number;
  total: number;
  /** What the stage read in this run: files for extract, records for transform, events for load. */
  records: number;
  /** Records per second over the last RATE_WINDOW_MS, not since the start. */
  rate: number;
  /** Seconds until the stage's last chunk, at the pace of the chunks it worked on; undefined before the first. */
  eta: number | undefined;
}

/**
 * One stage's progress, counted only from that stage's own events: a run pipelines three stages, and
 * summing them would count each record once per stage.
 */
export class StageMeter {
  private done = 0;
  private failed = 0;
  private worked = 0;
  private records = 0;
  private firstStart: number | undefined;
  /** (time, records so far) at each report within the window, oldest first. */
  private samples: Array<[number, number]> = [];

  constructor(private readonly totalChunks: number, private readonly now: () => number = Date.now, private readonly windowMs = RATE_WINDOW_MS) {}

  onEvent(e: RunEvent): void {
    const t = this.now();
    if (e.type === 'start') {
      if (this.firstStart === undefined) { this.firstStart = t; this.samples.push([t, this.records]); }
      return;
    }
    if (e.type === 'progress') {
      this.records += e.records;
      this.samples.push([t, this.records]);
      return;
    }
    this.done += 1;
    if (e.type === 'failed') this.failed += 1;
    // A chunk found already done takes no time: it would make the pace of the rest look instant.
    if (e.type !== 'skipped') this.worked += 1;
  }

  view(): StageView {
    const t = this.now();
    // The rate is measured from the last report at or before the window's start, or the stage's start.
    const cutoff = t - this.windowMs;
    let base = 0;
    while (base + 1 < this.samples.length && this.samples[base + 1]![0] <= cutoff) base += 1;
    this.samples.splice(0, base);
    const from = this.samples[0];
    const span = from ? (t - from[0]) / 1000 : 0;
    const rate = from && span > 0 ? (this.records - from[1]) / span : 0;
    const total = Math.max(this.totalChunks, this.done);
    const remaining = total - this.done;
    const eta = this.firstStart !== undefined && this.worked > 0 ? (remaining * (t - this.firstStart)) / this.worked / 1000 : remaining === 0 ? 0 : undefined;
    return { done: this.done, failed: this.failed, total, records: this.records, rate, eta };
  }
}

/** A meter per stage, each fed only its own stage's events. */
export class StageMeters {
  readonly meters: Map<Stage, StageMeter>;
  constructor(stages: readonly Stage[], chunksPerStage: number, now: () => number = Date.now) {
    this.meters = new Map(stages.map((s) => [s, new StageMeter(chunksPerStage, now)]));
  }

  onEvent(e: RunEvent): void {
    this.meters.get(e.stage)?.onEvent(e);
  }

  view(stage: Stage): StageView {
    return this.meters.get(stage)!.view();
  }
}

const UNITS: Record<Stage, string> = { extract: 'files', transform: 'records', load: 'events' };

/**
 * Whether to draw the bars: on a terminal only, unless HOGPORT_PROGRESS says `always` (draw them
 * anyway, as plain lines every few seconds) or `never`.
 */
export function progressWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const mode = env.HOGPORT_PROGRESS;
  if (mode === 'always') return true;
  if (mode === 'never') return false;
  return Boolean(process.stderr.isTTY);
}

export interface ProgressDisplay {
  onEvent(e: RunEvent): void;
  stop(): void;
}

/**
 * One bar per stage (chunks done of the stage's total, its records, its own records/s and ETA).
 * While the bars show, lines written through `writeStderr` are printed above them.
 */
export function progressDisplay(stages: readonly Stage[], chunksPerStage: number, show: boolean = progressWanted()): ProgressDisplay {
  if (!show || chunksPerStage === 0) return { onEvent() {}, stop() {} };
  const multi = new cliProgress.MultiBar({
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: false,
    noTTYOutput: !process.stderr.isTTY,
    // Bars are cut to the terminal's width, and long log lines wrap instead of being cut off.
    linewrap: true,
    // Every bar every time: a line printed above the bars moves them down, over lines not redrawn otherwise.
    forceRedraw: true,
    // Drawn from our own figures: the library's rate and ETA are over the run, not the stage's recent pace.
    format: (options, params, payload: { line?: string }) => payload.line?.replace('{bar}', cliProgress.Format.BarFormat(params.progress, options)) ?? '',
  }, cliProgress.Presets.shades_classic);
  const width = Math.max(...stages.map((s) => s.length));
  const meters = new StageMeters(stages, chunksPerStage);
  const rows = stages.map((stage) => ({ stage, bar: multi.create(chunksPerStage, 0, { line: formatLine(stage.padEnd(width), UNITS[stage], meters.view(stage)) }) }));
  const refresh = () => {
    for (const r of rows) {
      const v = meters.view(r.stage);
      r.bar.setTotal(v.total);
      r.bar.update(v.done, { line: formatLine(r.stage.padEnd(width), UNITS[r.stage], v) });
    }
  };
  multi.on('update-pre', refresh);
  // Lines to print above the bars at the next redraw. The library clears only the first bar's line
  // before it prints them, and a line longer than the terminal is wide would leave the rest of a bar
  // beside it: everything below is cleared first.
  let pending: string[] = [];
  multi.on('redraw-pre', () => {
    if (pending.length === 0) return;
    if (process.stderr.isTTY) clearScreenDown(process.stderr);
    for (const text of pending) multi.log(text);
    pending = [];
  });
  const restore = divertStderr((text) => { pending.push(text.endsWith('\n') ? text : `${text}\n`); });
  // A run that does not stop within its grace period exits with the bars still up: what waited to be
  // printed is printed, and the cursor comes back.
  const onExit = () => {
    process.stderr.write(`${process.stderr.isTTY ? '\n\x1b[?25h' : ''}${pending.join('')}`);
    pending = [];
  };
  process.once('exit', onExit);
  return {
    onEvent(e) { meters.onEvent(e); },
    stop() {
      process.off('exit', onExit);
      restore();
      // Lines logged since the last redraw are printed before the bars stop, not dropped.
      multi.update();
      multi.stop();
    },
  };
}

/** A stage's line, with `{bar}` where the bar goes. */
export function formatLine(label: string, unit: string, v: StageView): string {
  const failed = v.failed ? ` (${v.failed} failed)` : '';
  return `${label} [{bar}] ${v.done}/${v.total} chunks${failed} | ${v.records} ${unit} | ${Math.round(v.rate)} ${unit}/s | ETA ${formatEta(v.eta)}`;
}

export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
