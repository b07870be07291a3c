import type { Logger } from '@hogport/common';
import type { Layout, Stage } from '@hogport/layout';
import type { Counts, InputRef, Manifest, OutputRef } from '@hogport/manifest';
import type { Expectation } from '@hogport/state';
import type { Store } from '@hogport/store';

export interface ProcessContext {
  chunk: string;
  attempt: string;
  /** The id of the worker doing it, for control objects. */
  worker: string;
  store: Store;
  layout: Layout;
  /** Aborts when the lease is lost or the run is stopped: stop work, commit nothing. */
  signal: AbortSignal;
  log: Logger;
  /** The previous committed manifest of this stage for the chunk, if any. */
  previous: Manifest | undefined;
  /** Reports records or events done, for progress display. */
  progress(records: number): void;
  /**
   * Load: events of a loaded chunk whose content changed since may be sent again (`--resend-changed`,
   * or a derived chunk that changes by design).
   */
  resendChanged?: boolean;
}

export interface StageResult {
  inputs: InputRef[];
  outputs: OutputRef[];
  counts: Counts;
  bytes: { in: number; out: number };
  eventTime?: { min: string; max: string };
  /** Transform only: events per UTC day and per name (see the Manifest's fields). */
  eventDays?: Record<string, number>;
  eventNames?: Record<string, number>;
  stats?: Record<string, number | string | boolean>;
  /** Load: how the chunk's events compared with what it had loaded before (see the Manifest's field). */
  delta?: Manifest['delta'];
}

/** What one stage does for one chunk; the runner does claiming, committing and bookkeeping around it. */
export interface StageJob {
  readonly stage: Stage;
  /** What the chunk's manifest must record to be up to date; undefined while upstream has not done it. */
  expect(chunk: string): Promise<Expectation | undefined>;
  /**
   * The same from the upstream stage's manifest already at hand (a snapshot's), without a read;
   * extract, which has no upstream stage, ignores it.
   */
  expectFrom(chunk: string, upstream: Manifest | undefined): Expectation | undefined;
  process(ctx: ProcessContext, expected: Expectation): Promise<StageResult>;
}
