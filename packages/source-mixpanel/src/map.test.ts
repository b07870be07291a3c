import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RecordResult } from '@hogport/pipeline';
import { v5 as uuidv5 } from 'uuid';
import { mapMixpanelProfile, mapMixpanelRecord, mixpanelTime, type MixpanelMapping } from './index.js';

const SAMPLES = fileURLToPath(new URL('../../../fixtures/samples/mixpanel/', import.meta.url));
const mapping: MixpanelMapping = { renameEvents: {}, dropProperties: [] };
const rec = (p: Record<string, unknown> = {}, event = 'Signed Up') => ({ event, properties: { time: 1704103200, distinct_id: 'u1', $insert_id: 'ins-1', ...p } });
const first = (r: RecordResult) => { assert.ok('events' in r, JSON.stringify(r)); return r.events[0]!; };

test('renames $mp_web_page_view to $pageview', () => {
  const e = first(mapMixpanelRecord(rec({}, '$mp_web_page_view'), mapping));
  assert.equal(e.event, '$pageview');
  assert.equal(e.properties.$mixpanel_event_name, '$mp_web_page_view');
});

test('reads time as seconds, keeps fractions, detects milliseconds, and takes a project zone back to UTC', () => {
  assert.equal(mixpanelTime(1704103200), '2024-01-01T10:00:00.000Z');
  assert.equal(mixpanelTime(1704103200.123456), '2024-01-01T10:00:00.123456Z');
  assert.equal(mixpanelTime(1704103200123), '2024-01-01T10:00:00.123Z');
  assert.equal(mixpanelTime('1704103200'), '2024-01-01T10:00:00.000Z');
  // A pre-2023 project in Los Angeles stored 10:00 local as if it were UTC: it was 18:00 UTC (PST), 17:00 in summer (PDT).
  assert.equal(mixpanelTime(Date.UTC(2022, 0, 10, 10) / 1000, 'America/Los_Angeles'), '2022-01-10T18:00:00.000Z');
  assert.equal(mixpanelTime(Date.UTC(2022, 6, 10, 10) / 1000, 'America/Los_Angeles'), '2022-07-10T17:00:00.000Z');
  assert.equal(mixpanelTime(-5), undefined);
  assert.equal((mapMixpanelRecord(rec({ time: 'soon' }), mapping) as { code: string }).code, 'bad_time');
});

test('uses $user_id as distinct_id and hands every (user, anonymous id) pair to the identity merge', () => {
  const anon = mapMixpanelRecord(rec({ distinct_id: '$device:abc', $device_id: 'abc' }), mapping);
  assert.equal(first(anon).distinct_id, '$device:abc');
  assert.ok('events' in anon && !anon.identify);
  const known = mapMixpanelRecord(rec({ distinct_id: 'u1', $user_id: 'u1', $device_id: 'abc', $distinct_id_before_identity: 'legacy-anon' }), mapping);
  assert.equal(first(known).distinct_id, 'u1');
  assert.ok('events' in known);
  assert.deepEqual(known.identify, [{ distinctId: 'u1', anonId: '$device:abc' }, { distinctId: 'u1', anonId: 'legacy-anon' }]);
  assert.equal(first(mapMixpanelRecord(rec({ distinct_id: undefined, $device_id: 'xyz' }), mapping)).distinct_id, '$device:xyz');
  assert.equal((mapMixpanelRecord(rec({ distinct_id: undefined }), mapping) as { code: string }).code, 'missing_distinct_id');
});

test('derives the uuid PostHog\'s Mixpanel import derives: UUIDv5 of $insert_id in the posthog_mixpanel namespace', () => {
  const e = first(mapMixpanelRecord(rec({ $insert_id: 'c5eed127-c747-59c8-a5ed-d766f48e39a4' }), mapping));
  assert.equal(e.uuid, uuidv5('c5eed127-c747-59c8-a5ed-d766f48e39a4', new Uint8Array(Buffer.from('posthog_mixpanel'))));
  assert.equal(first(mapMixpanelRecord(rec({ $insert_id: 'c5eed127-c747-59c8-a5ed-d766f48e39a4', plan: 'other' }), mapping)).uuid, e.uuid);
  const a = first(mapMixpanelRecord(rec({ $insert_id: undefined }), mapping));
  assert.equal(first(mapMixpanelRecord(rec({ $insert_id: undefined }), mapping)).uuid, a.uuid, 'content-derived without $insert_id');
});

test('drops Mixpanel internals and carries geo under PostHog\'s names', () => {
  const e = first(mapMixpanelRecord(rec({ $mp_api_endpoint: 'api.mixpanel.com', mp_processing_time_ms: 1, $mp_api_timestamp_ms: 2, mp_lib: 'web', $city: 'Berlin', $region: 'Berlin', mp_country_code: 'DE', $browser: 'Chrome' }), mapping));
  for (const k of ['$mp_api_endpoint', 'mp_processing_time_ms', '$mp_api_timestamp_ms', '$insert_id', 'time', 'distinct_id', 'mp_lib', '$city', '$region', 'mp_country_code']) assert.equal(e.properties[k], undefined, k);
  assert.deepEqual([e.properties.$geoip_city_name, e.properties.$geoip_subdivision_1_name, e.properties.$geoip_country_code, e.properties.$lib, e.properties.$browser], ['Berlin', 'Berlin', 'DE', 'web', 'Chrome']);
});

test('leaves Mixpanel\'s own identity events out, counted by rule', () => {
  assert.deepEqual(mapMixpanelRecord(rec({}, '$identify'), mapping), { drop: 'mixpanel_identity_event' });
  assert.deepEqual(mapMixpanelRecord(rec({}, '$create_alias'), mapping), { drop: 'mixpanel_identity_event' });
});

test('turns an Engage profile into a person $set at its last-seen time', () => {
  const r = mapMixpanelProfile({ $distinct_id: 7, $properties: { $email: 'a@b.c', $name: 'A', plan: 'pro', $last_seen: '2024-02-01T08:30:00' } }, mapping, '2025-01-01T00:00:00.000Z');
  const e = first(r);
  assert.deepEqual([e.event, e.distinct_id, e.timestamp], ['$set', '7', '2024-02-01T08:30:00.000Z']);
  assert.deepEqual(e.properties.$set, { email: 'a@b.c', name: 'A', plan: 'pro' });
  assert.equal(first(mapMixpanelProfile({ $distinct_id: 'x', $properties: {} }, mapping, '2025-01-01T00:00:00.000Z')).timestamp, '2025-01-01T00:00:00.000Z');
});

test('maps the published Mixpanel samples, or refuses them with a reason', async () => {
  for (const file of ['airbyte-source-mixpanel-export.jsonl', 'docs-export-methods.jsonl', 'docs-export-openapi.jsonl', 'mixpanel-go-export-test.jsonl']) {
    for (const line of (await readFile(`${SAMPLES}${file}`, 'utf8')).trim().split('\n')) {
      const r = mapMixpanelRecord(JSON.parse(line), mapping);
      if ('code' in r) assert.ok(r.reason.length > 5, `${file}: ${r.code}`);
      else if ('events' in r) assert.match(r.events[0]!.timestamp, /^\d{4}-\d\d-\d\dT/);
    }
  }
  const sample = first(mapMixpanelRecord(JSON.parse((await readFile(`${SAMPLES}airbyte-source-mixpanel-export.jsonl`, 'utf8')).trim()), mapping));
  assert.equal(sample.timestamp, '2021-06-16T16:28:00.000Z');
  for (const file of ['docs-engage-profiles.jsonl', 'airbyte-source-mixpanel-engage.jsonl']) {
    for (const line of (await readFile(`${SAMPLES}${file}`, 'utf8')).trim().split('\n')) {
      assert.ok('events' in mapMixpanelProfile(JSON.parse(line), mapping, '2025-01-01T00:00:00.000Z'), `${file}: ${line.slice(0, 80)}`);
    }
  }
});
