import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import type { SourceFactory } from '@hogport/pipeline';
import { openStore } from '@hogport/store';
import { nestedJson, transformVerdicts, verdictBrief, type Verdict } from '@hogport/testkit';
import { heapSource } from './index.js';

const make = (factory: SourceFactory, type: string, location = tmpdir()) => factory({ options: { type, location }, baseDir: tmpdir(), openStore: (uri) => openStore(uri), log: silentLogger });
const eventsOf = (v: Verdict | undefined) => { assert.ok(v?.kind === 'events', JSON.stringify(v)); return v.events; };

test('Heap: the table is told once, from the chunk, so a location named heap-users-export plans and maps its events as events', async () => {
  const root = path.join(await mkdtemp(path.join(tmpdir(), 'hogport-heap-')), 'heap-users-export');
  await mkdir(path.join(root, 'events'), { recursive: true });
  await mkdir(path.join(root, 'users'), { recursive: true });
  const events = [
    `{"event_id":"e1","user_id":"1","time":"2024-03-01T09:00:00Z","event_table_name":"pageviews","path":"/"}`,
    `{"event_id":"e2","user_id":"2","time":"2024-03-01T09:00:00Z","event_table_name":"constructor","__proto__":"p","toString":"t"}`,
    `{"event_id":"e3","user_id":"3","time":1e20,"event_table_name":"pageviews"}`,
    `{"event_id":"e4","user_id":"4","time":"2024-03-01T09:00:00Z","event_table_name":"deep","nest":${nestedJson(100_000)}}`,
    `{"event_id":"e5","user_id":"${'9'.repeat(201)}","time":"2024-03-01T09:00:00Z","event_table_name":"pageviews"}`,
  ].join('\n');
  const users = `{"user_id":"1","identity":"ada@example.com","last_modified":"2024-03-02T00:00:00Z","constructor":"c","__proto__":"p"}`;
  await writeFile(path.join(root, 'events', 'pageviews.json'), events);
  await writeFile(path.join(root, 'users', 'users.json'), users);
  const heap = make(heapSource, 'heap', root);
  const planned = await heap.plan();
  assert.deepEqual(planned.map((c) => [c.id, c.loadLast ?? false]), [['events~pageviews.json', false], ['users~users.json', false]]);

  const ev = await transformVerdicts(heap, [{ name: 'pageviews.json', data: events }], { chunk: 'events~pageviews.json' });
  assert.deepEqual(ev.verdicts.map(verdictBrief), [
    [1, 'events', '$pageview'],
    [2, 'events', 'constructor'],
    [3, 'reject', 'bad_timestamp'],
    [4, 'reject', 'too_deep'],
    [5, 'reject', 'distinct_id_too_long'],
  ]);
  assert.deepEqual(ev.counts, { in: 5, out: 2, rejected: 3, dropped: 0 });
  const props = eventsOf(ev.verdicts[1])[0]!.properties;
  assert.deepEqual([props.__proto__, props.toString], ['p', 't']);

  const us = await transformVerdicts(heap, [{ name: 'users.json', data: users }], { chunk: 'users~users.json' });
  const v = us.verdicts[0];
  assert.ok(v?.kind === 'person', JSON.stringify(v));
  assert.equal(v.person.distinctId, 'ada@example.com');
  assert.deepEqual(Object.keys(v.person.set!).sort(), ['__proto__', 'constructor']);
});

test('Heap: a row of the sessions table is a counted drop, not a rejected event; the events beside it are mapped as before', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'hogport-heap-sessions-'));
  await mkdir(path.join(root, 'sessions'), { recursive: true });
  await mkdir(path.join(root, 'pageviews'), { recursive: true });
  const sessions = [
    `{"session_id":"7003318887","user_id":"5551234","time":"2024-03-01 09:02:10.500","landing_page":"shop.example/","browser":"Chrome","platform":"iOS 16.1"}`,
    `{"session_id":"7003318888","user_id":"5551235","time":"2024-03-01 10:00:00"}`,
    `[1]`,
  ].join('\n');
  const pageviews = `{"event_id":"e1","user_id":"5551234","session_id":"7003318887","time":"2024-03-01 09:15:42.123","event_table_name":"pageviews","path":"/"}`;
  await writeFile(path.join(root, 'sessions', 'part-0000.json'), sessions);
  await writeFile(path.join(root, 'pageviews', 'part-0000.json'), pageviews);
  const heap = make(heapSource, 'heap', root);
  const chunks = (await heap.plan()).map((c) => c.id).sort();
  assert.deepEqual(chunks, ['pageviews~part-0000.json', 'sessions~part-0000.json']);

  const dropped = await transformVerdicts(heap, [{ name: 'part-0000.json', data: sessions }], { chunk: 'sessions~part-0000.json' });
  assert.deepEqual(dropped.verdicts.map(verdictBrief), [[1, 'drop', 'heap_session_row'], [2, 'drop', 'heap_session_row'], [3, 'reject', 'not_an_object']]);
  assert.deepEqual(dropped.counts, { in: 3, out: 0, rejected: 1, dropped: 2 });
  const events = await transformVerdicts(heap, [{ name: 'part-0000.json', data: pageviews }], { chunk: 'pageviews~part-0000.json' });
  assert.deepEqual(events.verdicts.map(verdictBrief), [[1, 'events', '$pageview']]);
});
