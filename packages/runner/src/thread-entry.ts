import { parentPort, workerData } from 'node:worker_threads';
import { HogportError } from '@hogport/common';
import { serializeError, type ThreadReply, type ThreadRequest } from './thread-protocol.js';
import type { ThreadJob, ThreadSetup } from './threads.js';

// The body of every thread of a threaded job: builds the job once, then processes chunks as the
// runner sends them, one at a time.
const port = parentPort;
if (!port) throw new Error('thread-entry runs only as a worker thread');
const { setup, data } = workerData as { setup: string; data: unknown };
const built: Promise<ThreadJob> = import(setup).then((m: { default: ThreadSetup }) => m.default(data));
// A failed setup fails every chunk sent here with its own message, not a crash.
built.catch(() => undefined);
const running = new Map<number, AbortController>();
const reply = (message: ThreadReply) => port.postMessage(message);

port.on('message', (message: ThreadRequest) => {
  if (message.type === 'abort') {
    running.get(message.id)?.abort(new HogportError('E_STOPPED', 'the chunk was stopped by the runner'));
    return;
  }
  const controller = new AbortController();
  running.set(message.id, controller);
  void (async () => {
    const { job, store, layout, log } = await built;
    const result = await job.process({
      chunk: message.chunk, attempt: message.attempt, worker: message.worker, store, layout, signal: controller.signal,
      log: log.child({ stage: job.stage, chunk: message.chunk, attempt: message.attempt }), previous: message.previous,
      progress: (records) => reply({ type: 'progress', id: message.id, records }),
    }, message.expected);
    reply({ type: 'done', id: message.id, result });
  })().catch((err: unknown) => reply({ type: 'failed', id: message.id, error: serializeError(err) })).finally(() => running.delete(message.id));
});
