import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mapSegmentMessage } from './index.js';

const SAMPLES = fileURLToPath(new URL('../../../fixtures/samples/segment/', import.meta.url));

test('maps Segment messages of every type, and refuses the ones without a messageId or a time', async () => {
  const full = (await readFile(`${SAMPLES}spec-full-messages.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  const results = full.map(mapSegmentMessage);
  for (const [i, r] of results.entries()) assert.ok('events' in r, `${full[i].type}: ${JSON.stringify(r)}`);
  const byType = new Map([...full.map((m, i) => [m.type, results[i]] as const)].reverse());
  const ev = (t: string) => { const r = byType.get(t); assert.ok(r && 'events' in r, t); return r.events[0]!; };
  assert.equal(ev('page').event, '$pageview');
  assert.equal(ev('identify').event, '$identify');
  assert.ok(ev('identify').$set);
  if (byType.has('screen')) assert.equal(ev('screen').event, '$screen');
  if (byType.has('group')) assert.equal(ev('group').event, '$groupidentify');
  if (byType.has('alias')) assert.equal(ev('alias').event, '$create_alias');
  const track = ev('track');
  assert.deepEqual([track.properties.$ip, track.properties.$browser, track.properties.utm_source], ['203.0.113.8', 'Chrome', 'Newsletter']);
  const again = mapSegmentMessage(full[0]);
  assert.ok('events' in again && again.events[0]!.uuid === ev(full[0].type).uuid, 'the same message always gets the same uuid');
  const minimal = (await readFile(`${SAMPLES}spec-minimal-messages.jsonl`, 'utf8')).trim().split('\n').map((l) => mapSegmentMessage(JSON.parse(l)));
  assert.ok(minimal.every((r) => 'code' in r && r.reason.length > 10), 'spec snippets without ids or times are refused with a reason');
});
