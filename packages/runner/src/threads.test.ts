import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import { layout } from '@hogport/layout';
import { openStore } from '@hogport/store';
import type { ProcessContext } from './job.js';
import { threadedJob } from './threads.js';
import { fixtureJob } from './threads.fixture.js';

async function pool(threads: number) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-threads-'));
  const job = threadedJob(fixtureJob(), { setup: new URL('./threads.fixture.js', import.meta.url), data: { dir }, threads });
  const store = openStore(dir);
  const run = (chunk: string, signal = new AbortController().signal, progress: number[] = []) => {
    const ctx: ProcessContext = { chunk, attempt: `a-${chunk}`, worker: 'w', store, layout: layout('m'), signal, log: silentLogger, previous: undefined, progress: (n) => progress.push(n) };
    return job.process(ctx, { inputDigest: 'in', configHash: 'cfg' });
  };
  return { job, run };
}

test('runs chunks side by side: one in the calling thread, the others in worker threads', async () => {
  const { job, run } = await pool(3);
  try {
    const progress: number[] = [];
    const results = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((c) => run(c, undefined, progress)));
    const threads = new Set(results.map((r) => r.stats?.thread));
    assert.ok(threads.has('main'), 'one chunk at a time runs in the calling thread');
    assert.ok([...threads].filter((t) => t !== 'main').length >= 1, 'others run in worker threads');
    assert.ok(threads.size <= 3, 'never more threads than asked for');
    assert.deepEqual(progress, [1, 1, 1, 1, 1, 1], 'progress crosses from the threads');
  } finally {
    await job.close();
  }
});

/** A pool of two whose calling thread is kept busy, so every chunk `fn` runs goes to a worker thread. */
async function inWorkerThread(fn: (run: Awaited<ReturnType<typeof pool>>['run']) => Promise<void>) {
  const { job, run } = await pool(2);
  const inline = new AbortController();
  const held = run('slow-inline', inline.signal).catch(() => undefined);
  try {
    await fn(run);
  } finally {
    inline.abort(new Error('done'));
    await held;
    await job.close();
  }
}

test('a chunk that fails in a thread fails with its own code and message', () => inWorkerThread(async (run) => {
  await assert.rejects(run('fail-1'), (err: Error & { code?: string }) => err.code === 'E_FIXTURE' && /fail-1 failed on purpose/.test(err.message));
  await assert.rejects(run('fail-fatal'), (err: Error & { details?: { fatal?: boolean } }) => err.details?.fatal === true);
}));

test('a lost lease stops the chunk in its thread at once, and the thread takes the next chunk', () => inWorkerThread(async (run) => {
  const lease = new AbortController();
  const started = Date.now();
  const threaded = run('slow-threaded', lease.signal);
  setTimeout(() => lease.abort(Object.assign(new Error('lease lost'), { code: 'E_LEASE_LOST' })), 300);
  await assert.rejects(threaded, (err: Error & { code?: string }) => err.code === 'E_LEASE_LOST');
  assert.ok(Date.now() - started < 10_000, 'the runner did not wait for the chunk to finish');
  const next = await run('after');
  assert.notEqual(next.stats?.thread, 'main', 'the worker thread is free again');
}));

test('a thread that dies fails only its chunk; the next chunk gets a new thread', () => inWorkerThread(async (run) => {
  await assert.rejects(run('crash-1'), (err: Error & { code?: string }) => err.code === 'E_THREAD_FAILED' && /exited \(code 3\)/.test(err.message));
  const next = await run('after-crash');
  assert.notEqual(next.stats?.thread, 'main');
}));
