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

test('uses $user_id as distinct_id and hands every (user, anonymous id) pair to the identity merge, the device in both its forms', () => {
  const anon = mapMixpanelRecord(rec({ distinct_id: '$device:abc', $device_id: 'abc' }), mapping);
  assert.equal(first(anon).distinct_id, '$device:abc');
  assert.ok('events' in anon && !anon.identify);
  const known = mapMixpanelRecord(rec({ distinct_id: 'u1', $user_id: 'u1', $device_id: 'abc', $distinct_id_before_identity: 'legacy-anon' }), mapping);
  assert.equal(first(known).distinct_id, 'u1');
  assert.ok('events' in known);
  assert.deepEqual(known.identify, [
    { distinctId: 'u1', anonId: 'abc', anonForms: ['$device:abc'], properties: { $mixpanel_user_id: 'u1', $mixpanel_device_id: 'abc' } },
    { distinctId: 'u1', anonId: 'legacy-anon', properties: { $mixpanel_user_id: 'u1', $mixpanel_distinct_id_before_identity: 'legacy-anon' } },
  ]);
  const device = mapMixpanelRecord(rec({ distinct_id: undefined, $device_id: 'xyz' }), mapping);
  assert.equal(first(device).distinct_id, 'xyz', 'a record without distinct_id falls back to its bare device id, as PostHog\'s importer does');
  assert.equal((mapMixpanelRecord(rec({ distinct_id: undefined }), mapping) as { code: string }).code, 'missing_distinct_id');
});

test('links $distinct_id_before_identity to the event\'s distinct_id when there is no $user_id', () => {
  const r = mapMixpanelRecord(rec({ distinct_id: 'member-7', $distinct_id_before_identity: 'F1E2-ANON' }), mapping);
  assert.ok('events' in r);
  assert.equal(first(r).distinct_id, 'member-7');
  assert.deepEqual(r.identify, [{ distinctId: 'member-7', anonId: 'F1E2-ANON', properties: { $mixpanel_distinct_id: 'member-7', $mixpanel_distinct_id_before_identity: 'F1E2-ANON' } }]);
  assert.ok('events' in mapMixpanelRecord(rec({ distinct_id: 'same', $distinct_id_before_identity: 'same' }), mapping));
  assert.equal((mapMixpanelRecord(rec({ distinct_id: 'same', $distinct_id_before_identity: 'same' }), mapping) as { identify?: unknown }).identify, undefined);
});

test('derives the uuid PostHog\'s Mixpanel import derives: UUIDv5 of $insert_id in the posthog_mixpanel namespace', () => {
  const e = first(mapMixpanelRecord(rec({ $insert_id: 'c5eed127-c747-59c8-a5ed-d766f48e39a4' }), mapping));
  assert.equal(e.uuid, uuidv5('c5eed127-c747-59c8-a5ed-d766f48e39a4', new Uint8Array(Buffer.from('posthog_mixpanel'))));
  assert.equal(first(mapMixpanelRecord(rec({ $insert_id: 'c5eed127-c747-59c8-a5ed-d766f48e39a4', plan: 'other' }), mapping)).uuid, e.uuid);
  const a = first(mapMixpanelRecord(rec({ $insert_id: undefined }), mapping));
  assert.equal(first(mapMixpanelRecord(rec({ $insert_id: undefined }), mapping)).uuid, a.uuid, 'content-derived without $insert_id');
});

test('drops Mixpanel internals, keeps mp_sent_by_lib_version, and carries geo under PostHog\'s names with GeoLite2\'s country names', () => {
  const e = first(mapMixpanelRecord(rec({ $mp_api_endpoint: 'api.mixpanel.com', mp_processing_time_ms: 1, $mp_api_timestamp_ms: 2, mp_lib: 'web', mp_sent_by_lib_version: '2.47.0', $city: 'Berlin', $region: 'Berlin', mp_country_code: 'DE', $browser: 'Chrome' }), mapping));
  for (const k of ['$mp_api_endpoint', 'mp_processing_time_ms', '$mp_api_timestamp_ms', '$insert_id', 'time', 'distinct_id', 'mp_lib', '$city', '$region', 'mp_country_code']) assert.equal(e.properties[k], undefined, k);
  assert.deepEqual([e.properties.$geoip_city_name, e.properties.$geoip_subdivision_1_name, e.properties.$geoip_country_code, e.properties.$geoip_country_name, e.properties.$lib, e.properties.$browser, e.properties.mp_sent_by_lib_version], ['Berlin', 'Berlin', 'DE', 'Germany', 'web', 'Chrome', '2.47.0']);
  const name = (code: unknown) => first(mapMixpanelRecord(rec({ mp_country_code: code }), mapping)).properties.$geoip_country_name;
  // MaxMind's short names, which PostHog's enrichment writes, not ISO 3166's long ones.
  assert.deepEqual([name('US'), name('GB'), name('AE'), name('KR'), name('us')], ['United States', 'United Kingdom', 'United Arab Emirates', 'South Korea', 'United States']);
  assert.equal(name('ZZ'), undefined, 'an unknown code gets no name');
  assert.equal(name('constructor'), undefined);
  assert.equal(name(49), undefined);
});

test('Mixpanel\'s own identity calls become recorded links with no events of their own', () => {
  const at = '2024-01-01T10:00:00.000Z';
  assert.deepEqual(mapMixpanelRecord(rec({ distinct_id: 'u1', $identified_id: 'u1', $anon_distinct_id: 'A-1' }, '$identify'), mapping), {
    events: [], identify: [{ distinctId: 'u1', anonId: 'A-1', at, kind: 'identify', recorded: true, properties: { $mixpanel_identified_id: 'u1', $mixpanel_anon_distinct_id: 'A-1' } }],
  });
  // Mixpanel's alias is the new id, its distinct_id the one before: PostHog's $create_alias on the alias.
  assert.deepEqual(mapMixpanelRecord(rec({ distinct_id: 'A-2', alias: 'u2' }, '$create_alias'), mapping), {
    events: [], identify: [{ distinctId: 'u2', anonId: 'A-2', at, kind: 'alias', recorded: true, properties: { $mixpanel_alias: 'u2', $mixpanel_distinct_id: 'A-2' } }],
  });
  const merge = mapMixpanelRecord(rec({ $distinct_ids: ['u3', '$device:d3'] }, '$merge'), mapping);
  assert.ok('events' in merge);
  assert.deepEqual(merge.identify?.map((l) => [l.distinctId, l.anonId, l.anonForms, l.kind, l.recorded]), [['u3', '$device:d3', ['d3'], 'identify', true]]);
  assert.deepEqual(mapMixpanelRecord(rec({ $distinct_ids: ['u3', 'u4'] }, '$merge'), mapping), { drop: 'mixpanel_merge_unsafe' });
  assert.equal((mapMixpanelRecord(rec({ $distinct_ids: 'u3' }, '$merge'), mapping) as { code: string }).code, 'incomplete_identity_event');
  assert.equal((mapMixpanelRecord(rec({ distinct_id: 'u1' }, '$identify'), mapping) as { code: string }).code, 'incomplete_identity_event');
  assert.equal((mapMixpanelRecord(rec({ distinct_id: 'u1' }, '$create_alias'), mapping) as { code: string }).code, 'incomplete_identity_event');
  assert.deepEqual(mapMixpanelRecord(rec({ distinct_id: 'u1', $anon_distinct_id: 'u1' }, '$identify'), mapping), { drop: 'mixpanel_identity_self' });
});

test('turns an Engage profile into a person record at its last-seen time, sent with the person facts', () => {
  const r = mapMixpanelProfile({ $distinct_id: 7, $properties: { $email: 'a@b.c', $name: 'A', plan: 'pro', $last_seen: '2024-02-01T08:30:00' } }, mapping, '2025-01-01T00:00:00.000Z');
  assert.deepEqual(r, { person: { distinctId: '7', at: '2024-02-01T08:30:00.000Z', set: { email: 'a@b.c', name: 'A', plan: 'pro' } } });
  const bare = mapMixpanelProfile({ $distinct_id: 'x', $properties: {} }, mapping, '2025-01-01T00:00:00.000Z');
  assert.ok('person' in bare);
  assert.equal(bare.person.at, '2025-01-01T00:00:00.000Z');
});

test('maps the published Mixpanel samples, or refuses them with a reason', async () => {
  for (const file of ['airbyte-source-mixpanel-export.jsonl', 'docs-export-methods.jsonl', 'docs-export-openapi.jsonl', 'mixpanel-go-export-test.jsonl']) {
    for (const line of (await readFile(`${SAMPLES}${file}`, 'utf8')).trim().split('\n')) {
      const r = mapMixpanelRecord(JSON.parse(line), mapping);
      if ('code' in r) assert.ok(r.reason.length > 5, `${file}: ${r.code}`);
      else if ('events' in r && r.events.length > 0) assert.match(r.events[0]!.timestamp, /^\d{4}-\d\d-\d\dT/);
    }
  }
  const sample = first(mapMixpanelRecord(JSON.parse((await readFile(`${SAMPLES}airbyte-source-mixpanel-export.jsonl`, 'utf8')).trim()), mapping));
  assert.equal(sample.timestamp, '2021-06-16T16:28:00.000Z');
  for (const file of ['docs-engage-profiles.jsonl', 'airbyte-source-mixpanel-engage.jsonl']) {
    for (const line of (await readFile(`${SAMPLES}${file}`, 'utf8')).trim().split('\n')) {
      assert.ok('person' in mapMixpanelProfile(JSON.parse(line), mapping, '2025-01-01T00:00:00.000Z'), `${file}: ${line.slice(0, 80)}`);
    }
  }
});
