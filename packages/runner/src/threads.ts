import { Worker as Thread } from 'node:worker_threads';
import { HogportError, type Logger } from '@hogport/common';
import type { Manifest } from '@hogport/manifest';
import type { Expectation } from '@hogport/state';
import type { ProcessContext, StageJob, StageResult } from './job.js';
import { reviveError, type ThreadReply, type ThreadRequest } from './thread-protocol.js';

export interface ThreadedOptions {
  /**
   * A module whose default export builds the same job inside a thread, from `data`: a thread shares
   * nothing with the process that starts it, so it opens its own store and source. See `ThreadSetup`.
   */
  setup: URL;
  /** Structured-cloneable; given to `setup` in every thread. */
  data: unknown;
  /**
   * Chunks processed at once. One of them runs in the calling thread, which otherwise only waits:
   * that saves a thread's memory (its own heap and copy of every module). The other threads are
   * started on first use and kept for the next chunk.
   */
  threads: number;
}

/** What a setup module's default export returns. */
export interface ThreadJob {
  job: StageJob;
  store: ProcessContext['store'];
  layout: ProcessContext['layout'];
  log: Logger;
}
export type ThreadSetup = (data: unknown) => Promise<ThreadJob>;

export interface ThreadedJob extends StageJob {
  /** Stops every thread; chunks still in them are abandoned uncommitted. */
  close(): Promise<void>;
}

interface Task {
  id: number;
  ctx: ProcessContext;
  expected: Expectation;
  request: Extract<ThreadRequest, { type: 'process' }>;
  progress(records: number): void;
  resolve(result: StageResult): void;
  reject(err: unknown): void;
  signal: AbortSignal;
}

/**
 * Runs a stage job's `process` in worker threads, so CPU-bound work (transform) uses every core
 * while claims, leases and commits stay with the runner in the main thread. The runner sees an
 * ordinary StageJob: a chunk whose lease is lost is aborted in its thread and never committed.
 */
export function threadedJob(local: StageJob, options: ThreadedOptions): ThreadedJob {
  const idle: Slot[] = [];
  const all = new Set<Slot>();
  const queue: Task[] = [];
  let nextId = 1;
  let closed = false;
  let inlineBusy = false;

  const runInline = (task: Task) => {
    inlineBusy = true;
    local.process(task.ctx, task.expected).then(task.resolve, task.reject).finally(() => { inlineBusy = false; dispatch(); });
  };

  const dispatch = () => {
    while (queue.length > 0 && !closed) {
      if (!inlineBusy) {
        const task = queue.shift()!;
        if (!task.signal.aborted) runInline(task);
        continue;
      }
      let slot = idle.pop();
      if (!slot && all.size < options.threads - 1) slot = spawn();
      if (!slot) return;
      const task = queue.shift()!;
      if (task.signal.aborted) { idle.push(slot); continue; }
      slot.run(task);
    }
  };

  const spawn = (): Slot => {
    const slot = new Slot(options, (s) => { idle.push(s); dispatch(); }, (s) => { all.delete(s); dispatch(); });
    all.add(slot);
    return slot;
  };

  return {
    stage: local.stage,
    expect: (chunk) => local.expect(chunk),
    expectFrom: (chunk, upstream) => local.expectFrom(chunk, upstream),
    process(ctx: ProcessContext, expected: Expectation): Promise<StageResult> {
      if (closed) return Promise.reject(new HogportError('E_STOPPED', 'the thread pool is closed'));
      return new Promise<StageResult>((resolve, reject) => {
        const task: Task = {
          id: nextId++, ctx, expected,
          request: { type: 'process', id: 0, chunk: ctx.chunk, attempt: ctx.attempt, worker: ctx.worker, expected, previous: ctx.previous as Manifest | undefined },
          progress: ctx.progress, resolve, reject, signal: ctx.signal,
        };
        task.request.id = task.id;
        // A chunk that loses its lease while queued never reaches a thread.
        const onAbort = () => {
          const at = queue.indexOf(task);
          if (at >= 0) { queue.splice(at, 1); reject(ctx.signal.reason); }
        };
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        queue.push(task);
        dispatch();
      });
    },
    async close() {
      closed = true;
      for (const task of queue.splice(0)) task.reject(new HogportError('E_STOPPED', 'the run was stopped before this chunk started'));
      await Promise.all([...all].map((s) => s.stop()));
    },
  };
}

/** One thread and the chunk it works on. */
class Slot {
  private readonly thread: Thread;
  private task: Task | undefined;
  private dead = false;
  private detach: (() => void) | undefined;

  constructor(options: ThreadedOptions, private readonly onIdle: (s: Slot) => void, private readonly onDead: (s: Slot) => void) {
    this.thread = new Thread(new URL('./thread-entry.js', import.meta.url), {
      workerData: { setup: options.setup.href, data: options.data },
      // Threads write their own logs to stderr; nothing is read from their stdio here.
      stdout: false, stderr: false,
    });
    this.thread.on('message', (reply: ThreadReply) => this.onReply(reply));
    this.thread.on('error', (err) => this.fail(new HogportError('E_THREAD_FAILED', `a worker thread failed: ${err.message}`, { cause: err })));
    this.thread.on('exit', (code) => this.fail(new HogportError('E_THREAD_FAILED', `a worker thread exited (code ${code}) while working on a chunk`)));
  }

  run(task: Task): void {
    this.task = task;
    const onAbort = () => {
      // The runner stops waiting now; the thread is busy until it has wound the chunk down.
      this.thread.postMessage({ type: 'abort', id: task.id } satisfies ThreadRequest);
      task.reject(task.signal.reason);
    };
    task.signal.addEventListener('abort', onAbort, { once: true });
    this.detach = () => task.signal.removeEventListener('abort', onAbort);
    this.thread.postMessage(task.request);
  }

  async stop(): Promise<void> {
    this.dead = true;
    await this.thread.terminate();
  }

  private onReply(reply: ThreadReply): void {
    const task = this.task;
    if (!task || reply.id !== task.id) return;
    if (reply.type === 'progress') { task.progress(reply.records); return; }
    this.detach?.();
    this.task = undefined;
    if (reply.type === 'done') task.resolve(reply.result);
    else task.reject(reviveError(reply.error));
    this.onIdle(this);
  }

  private fail(err: HogportError): void {
    if (this.dead) return;
    this.dead = true;
    void this.thread.terminate();
    const task = this.task;
    this.task = undefined;
    this.detach?.();
    task?.reject(err);
    this.onDead(this);
  }
}

