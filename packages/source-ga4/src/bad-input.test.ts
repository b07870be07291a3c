import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { silentLogger } from '@hogport/common';
import type { SourceFactory } from '@hogport/pipeline';
import { openStore } from '@hogport/store';
import { nestedJson, transformVerdicts, verdictBrief, type Verdict } from '@hogport/testkit';
import { ga4Source } from './index.js';

const make = (factory: SourceFactory, type: string, location = tmpdir()) => factory({ options: { type, location }, baseDir: tmpdir(), openStore: (uri) => openStore(uri), log: silentLogger });
const eventsOf = (v: Verdict | undefined) => { assert.ok(v?.kind === 'events', JSON.stringify(v)); return v.events; };

test('GA4 bad input: prototype-named params are properties, a 20-digit event_timestamp is a reject, and the file completes', async () => {
  const row = (more: string) => `{"event_name":"purchase","event_timestamp":"1709283600000000","user_pseudo_id":"p1",${more}"stream_id":"7"}`;
  const corpus = [
    row(''),
    row('"event_params":[{"key":"constructor","value":{"string_value":"c"}},{"key":"__proto__","value":{"int_value":"7"}},{"key":"toString","value":{"double_value":1.5}}],'),
    `{"event_name":"constructor","event_timestamp":"1709283600000001","user_pseudo_id":"p2"}`,
    `{"event_name":"purchase","event_timestamp":"12345678901234567890","user_pseudo_id":"p3"}`,
    `{"event_name":"purchase","event_timestamp":1e20,"user_pseudo_id":"p3"}`,
    row(`"items":${nestedJson(100_000)},`),
    `{"event_name":"purchase","event_timestamp":"1709283600000002","user_pseudo_id":"${'p'.repeat(201)}"}`,
    row('"device":{"category":"constructor"},'),
  ].join('\n');
  const { verdicts, counts } = await transformVerdicts(make(ga4Source, 'ga4'), [{ name: 'events_20240301.json', data: corpus }]);
  assert.deepEqual(verdicts.map(verdictBrief), [
    [1, 'events', 'purchase'],
    [2, 'events', 'purchase'],
    [3, 'events', 'constructor'],
    [4, 'reject', 'bad_timestamp'],
    [5, 'reject', 'bad_timestamp'],
    [6, 'reject', 'too_deep'],
    [7, 'reject', 'distinct_id_too_long'],
    [8, 'events', 'purchase'],
  ]);
  assert.deepEqual(counts, { in: 8, out: 4, rejected: 4, dropped: 0 });
  const props = eventsOf(verdicts[1])[0]!.properties;
  assert.deepEqual([props.constructor, props.__proto__, props.toString], ['c', 7, 1.5]);
  assert.ok(!Object.keys(props).some((k) => k.includes('function')), 'no property named after a function\'s source text');
  assert.equal(eventsOf(verdicts[7])[0]!.properties.$device_type, undefined);
});
