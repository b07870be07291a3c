import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Stage } from '@hogport/layout';
import { formatEta, formatLine, RATE_WINDOW_MS, StageMeter, StageMeters } from './progress.js';

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

const started = (stage: Stage, chunk: string) => ({ type: 'start' as const, stage, chunk, attempt: 'a' });
const progress = (stage: Stage, chunk: string, records: number) => ({ type: 'progress' as const, stage, chunk, records });
const done = (stage: Stage, chunk: string, records: number) => ({ type: 'done' as const, stage, chunk, attempt: 'a', records });

test('a pipelined run counts each stage\'s chunks and records on its own line, never summed across stages', () => {
  const clock = fakeClock();
  const meters = new StageMeters(['extract', 'transform', 'load'], 4, clock.now);
  for (let i = 0; i < 4; i++) {
    const chunk = `c${i}`;
    meters.onEvent(started('extract', chunk)); meters.onEvent(progress('extract', chunk, 1)); meters.onEvent(done('extract', chunk, 1));
    meters.onEvent(started('transform', chunk));
    clock.advance(1000);
    meters.onEvent(progress('transform', chunk, 1000)); meters.onEvent(done('transform', chunk, 1000));
    meters.onEvent(started('load', chunk)); meters.onEvent(progress('load', chunk, 1000)); meters.onEvent(done('load', chunk, 1000));
  }
  const transform = meters.view('transform');
  assert.deepEqual([transform.done, transform.total, transform.records], [4, 4, 4000]);
  assert.equal(Math.round(transform.rate), 1000, '1000 records a second, not the 2000 that summing transform and load would show');
  const load = meters.view('load');
  assert.deepEqual([load.done, load.records], [4, 4000]);
  const extract = meters.view('extract');
  assert.deepEqual([extract.done, extract.records], [4, 4], 'extract counts its files, not the records the other stages read');
});

test('the rate is over the last seconds, not since the start: a stage that slows down shows its new pace', () => {
  const clock = fakeClock();
  const meter = new StageMeter(10, clock.now);
  meter.onEvent(started('transform', 'c0'));
  for (let s = 0; s < 60; s++) { clock.advance(1000); meter.onEvent(progress('transform', 'c0', 10_000)); }
  assert.equal(Math.round(meter.view().rate), 10_000);
  for (let s = 0; s < 30; s++) { clock.advance(1000); meter.onEvent(progress('transform', 'c0', 100)); }
  const slow = meter.view();
  assert.equal(slow.records, 603_000);
  assert.ok(slow.rate >= 100 && slow.rate < 120, `the last ${RATE_WINDOW_MS / 1000} s went at about 100 records/s, not the run's average of ~6700 (shows ${slow.rate})`);
  clock.advance(RATE_WINDOW_MS + 1000);
  assert.equal(meter.view().rate, 0, 'a stage that has done nothing for the whole window shows 0/s');
});

test('the ETA follows the pace of the chunks the stage worked on; chunks already done do not make it look instant', () => {
  const clock = fakeClock();
  const meter = new StageMeter(10, clock.now);
  assert.equal(meter.view().eta, undefined, 'no estimate before a chunk is done');
  for (let i = 0; i < 4; i++) meter.onEvent({ type: 'skipped', stage: 'load', chunk: `s${i}` });
  meter.onEvent(started('load', 'c0'));
  clock.advance(10_000);
  meter.onEvent(done('load', 'c0', 1));
  meter.onEvent(started('load', 'c1'));
  clock.advance(10_000);
  meter.onEvent({ type: 'failed', stage: 'load', chunk: 'c1', error: { code: 'E', message: 'm' } });
  const v = meter.view();
  assert.deepEqual([v.done, v.failed, v.total], [6, 1, 10]);
  assert.equal(v.eta, 40, '4 chunks left at 10 s each');
  assert.match(formatLine('load', 'events', v), /^load \[\{bar\}\] 6\/10 chunks \(1 failed\) \| 0 events \| 0 events\/s \| ETA 40s$/);
});

test('more chunks than planned (the identities and persons a merge adds) raise the total instead of passing it', () => {
  const meter = new StageMeter(1, fakeClock().now);
  meter.onEvent(done('load', '~identities', 1));
  meter.onEvent(done('load', 'c0', 1));
  assert.deepEqual([meter.view().done, meter.view().total], [2, 2]);
});

test('an ETA reads in seconds, minutes or hours', () => {
  assert.deepEqual([formatEta(undefined), formatEta(42.4), formatEta(125), formatEta(7322)], ['-', '42s', '2m05s', '2h02m']);
});
