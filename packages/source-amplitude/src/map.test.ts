import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyConventions } from '@hogport/conventions';
import { asPersonSees } from '@hogport/testkit';
import type { PostHogEvent } from '@hogport/pipeline';
import { mapAmplitudeRecord, sessionUuid, type AmplitudeMapping, type Mapped } from './index.js';

const SAMPLES = fileURLToPath(new URL('../../../fixtures/samples/amplitude/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const mapping: AmplitudeMapping = { renameEvents: {}, dropProperties: [] };
const base = {
  uuid: '817A8ABF-7C25-4992-8D41-DCDBD556C1A9', $insert_id: 'INS-1', event_type: 'Signed Up', user_id: 'u-1', device_id: 'D-1',
  amplitude_id: 42, event_id: 7, session_id: 1751254640623, event_time: '2025-06-30 03:37:52.846123', client_event_time: '2025-06-30 03:37:52.800000',
  server_received_time: '2025-07-01 17:18:45.113000', event_properties: { plan: 'pro' }, user_properties: {}, groups: {}, group_properties: {},
  platform: 'iOS', os_name: 'ios', os_version: '18.5', device_family: 'Apple iPhone', device_type: 'Apple iPhone 15', library: 'amplitude-swift/1.13.6',
  version_name: '1.0.81', ip_address: '203.0.113.17', country: 'Malaysia', region: 'Selangor', city: 'Puchong',
};
// The mapper owns the record it is given (as it owns each freshly parsed line): every call gets a copy.
const map = (over: Record<string, unknown> = {}, m = mapping): Mapped => mapAmplitudeRecord(structuredClone({ ...base, ...over }), m);
const first = (over: Record<string, unknown> = {}, m = mapping) => {
  const r = map(over, m);
  assert.ok('events' in r, JSON.stringify(r));
  return r.events[0]!;
};

/** Applies the conventions to a mapped event and gives what its person gets: its own $set/$set_once, and PostHog's promotion of its properties. */
function personView(e: PostHogEvent): { set: Record<string, unknown>; once: Record<string, unknown> } {
  applyConventions(e);
  const seen = asPersonSees(e);
  return { set: seen.$set ?? {}, once: seen.$set_once ?? {} };
}

test('drops session_start and session_end by a named rule', () => {
  assert.deepEqual(map({ event_type: 'session_start' }), { drop: 'amplitude_session_event' });
  assert.deepEqual(map({ event_type: 'session_end' }), { drop: 'amplitude_session_event' });
});

test('renames page views to $pageview with PostHog\'s page properties, and element events to $autocapture', () => {
  const e = first({ event_type: '[Amplitude] Page Viewed', event_properties: { '[Amplitude] Page URL': 'https://example.com/a?b=1', '[Amplitude] Page Domain': 'example.com', '[Amplitude] Page Path': '/a', '[Amplitude] Referrer': 'https://google.com/' } });
  assert.equal(e.event, '$pageview');
  assert.deepEqual([e.properties.$current_url, e.properties.$host, e.properties.$pathname, e.properties.$referrer], ['https://example.com/a?b=1', 'example.com', '/a', 'https://google.com/']);
  assert.equal(e.properties.$amplitude_event_type, '[Amplitude] Page Viewed');
  assert.equal(first({ event_type: '[Amplitude] Element Clicked' }).event, '$autocapture');
  assert.equal(first({ event_type: '[Amplitude] Element Changed' }).event, '$autocapture');
});

test('takes user_id as distinct_id, else device_id, and refuses a record with neither', () => {
  assert.equal(first().distinct_id, 'u-1');
  assert.equal(first({ user_id: null }).distinct_id, 'D-1');
  assert.equal(first({ user_id: 'null' }).distinct_id, 'D-1');
  assert.deepEqual(Object.keys(map({ user_id: null, device_id: '' })), ['code', 'reason']);
  assert.equal((map({ user_id: null, device_id: null }) as { code: string }).code, 'missing_identity');
});

test('keeps the record\'s uuid, else derives one from $insert_id that every re-run repeats', () => {
  assert.equal(first().uuid, '817a8abf-7c25-4992-8d41-dcdbd556c1a9');
  const a = first({ uuid: undefined });
  const b = first({ uuid: undefined, event_properties: { other: true } });
  assert.equal(a.uuid, b.uuid, 'the same $insert_id is the same event');
  assert.notEqual(a.uuid, first({ uuid: undefined, $insert_id: 'INS-2' }).uuid);
  assert.match(first({ uuid: 'not-a-uuid', $insert_id: undefined }).uuid, /^[0-9a-f-]{36}$/);
});

test('takes event_time as UTC, falls back to client then server time, and refuses a record with none', () => {
  assert.equal(first().timestamp, '2025-06-30T03:37:52.846123Z');
  assert.equal(first({ event_time: null }).timestamp, '2025-06-30T03:37:52.800000Z');
  assert.equal(first({ event_time: null, client_event_time: null }).timestamp, '2025-07-01T17:18:45.113000Z');
  const r = map({ event_time: 'yesterday' });
  assert.equal((r as { code: string }).code, 'bad_timestamp');
  assert.equal((map({ event_time: null, client_event_time: null, server_received_time: null }) as { code: string }).code, 'bad_timestamp');
});

test('sets every user property but "EMPTY" ones, and initial_* ones only once, under PostHog\'s $initial_* names', () => {
  const e = first({ user_properties: { plan: 'pro', seats: 3, nickname: 'EMPTY', initial_utm_source: 'google', initial_referrer: 'EMPTY', initial_referring_domain: 'www.google.com', initial_gclid: 'g-1', initial_utm_campaign: null } });
  assert.deepEqual(e.$set, { plan: 'pro', seats: 3 });
  assert.deepEqual(e.$set_once, { $initial_utm_source: 'google', $initial_referring_domain: 'www.google.com', $initial_gclid: 'g-1' });
  assert.equal(first().$set, undefined);
  assert.equal(first({ user_properties: { initial_referrer: 'EMPTY' } }).$set_once, undefined, 'EMPTY is no value');
});

test('a property bag that is not an object: event_properties rejects the record, the others are left out and counted', () => {
  for (const bad of ['plan=pro', ['pro'], 7, true]) {
    const r = map({ event_properties: bad });
    assert.ok('code' in r, JSON.stringify(bad));
    assert.equal(r.code, 'bad_properties');
    assert.match(r.reason, /^event_properties is (a string|an array|a number|a boolean), not an object/);
  }
  const e = map({ event_properties: null, user_properties: null, groups: null, group_properties: null });
  assert.ok('events' in e && e.changed === undefined, 'null is an empty bag, as Amplitude writes one');
  const r = map({ user_properties: 'pro', groups: ['acme'], group_properties: 'x' });
  assert.ok('events' in r);
  assert.deepEqual(r.changed, ['amplitude_user_properties_not_object', 'amplitude_groups_not_object', 'amplitude_group_properties_not_object']);
  assert.deepEqual([r.events.length, r.events[0]!.$set, r.events[0]!.properties.$groups, r.events[0]!.properties.plan], [1, undefined, undefined, 'pro']);
  const one = map({ groups: 'acme', group_properties: { company: { acme: { plan: 'x' } } } });
  assert.ok('events' in one);
  assert.deepEqual(one.changed, ['amplitude_groups_not_object']);
  assert.equal(one.events[1]!.properties.$group_key, 'acme', 'the bags that can be read are still read');
});

test('$device_type from device_type and platform as PostHog\'s importer maps them; an OS in device_type is not a model', () => {
  const type = (over: Record<string, unknown>) => first(over).properties;
  const cases: Array<[Record<string, unknown>, string | undefined, unknown]> = [
    [{ device_type: 'mobile', device_model: null }, 'Mobile', undefined],
    [{ device_type: 'Tablet', device_model: null }, 'Tablet', undefined],
    [{ device_type: 'iOS', device_model: null }, 'Mobile', undefined],
    [{ device_type: 'Android', device_model: null, platform: 'Android' }, 'Mobile', undefined],
    [{ device_type: 'Windows', device_model: null, platform: 'Windows' }, 'Desktop', undefined],
    [{ device_type: 'Linux', device_model: null }, 'Desktop', undefined],
    [{ device_type: 'Mac', device_model: null }, 'Desktop', undefined],
    [{ device_type: 'Apple iPhone 15' }, 'Mobile', 'Apple iPhone 15'],
    [{ device_type: 'Apple iPad Pro', device_model: 'iPad13,8' }, 'Tablet', 'iPad13,8'],
    [{ device_type: null, device_family: 'Apple iPad', platform: 'iOS' }, 'Tablet', undefined],
    [{ device_type: 'Samsung Galaxy S21', platform: 'Android' }, 'Mobile', 'Samsung Galaxy S21'],
    [{ device_type: null, platform: 'Web', os_name: 'Chrome', device_family: 'Mac OS X' }, undefined, undefined],
  ];
  for (const [over, want, model] of cases) {
    const p = type(over);
    assert.deepEqual([p.$device_type, p.$device_model], [want, model], JSON.stringify(over));
  }
});

test('referrer, referring domain and viewport reach PostHog\'s names, beside Amplitude\'s own; imports are marked as PostHog\'s importer marks them', () => {
  const p = first({ event_properties: { referrer: 'https://news.example/a', referring_domain: 'news.example', '[Amplitude] Viewport Height': 844, '[Amplitude] Viewport Width': 390 } }).properties;
  assert.deepEqual([p.$referrer, p.$referring_domain, p.$viewport_height, p.$viewport_width], ['https://news.example/a', 'news.example', 844, 390]);
  assert.deepEqual([p.referrer, p['[Amplitude] Viewport Width']], ['https://news.example/a', 390]);
  assert.equal(p.analytics_source, 'amplitude');
  const both = first({ event_properties: { '[Amplitude] Referrer': 'https://a.example/', referrer: 'https://b.example/' } }).properties;
  assert.equal(both.$referrer, 'https://a.example/', 'the SDK\'s page referrer comes first');
});

test('gives each Amplitude session a deterministic UUIDv7 $session_id starting at the session start; -1 is no session', () => {
  const s = first().properties.$session_id as string;
  assert.match(s, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(parseInt(s.replace(/-/g, '').slice(0, 12), 16), 1751254640623);
  assert.equal(first({ event_type: 'Other' }).properties.$session_id, s);
  assert.notEqual(first({ device_id: 'D-2' }).properties.$session_id, s);
  assert.equal(first({ session_id: -1 }).properties.$session_id, undefined);
  assert.equal(sessionUuid(-1, 'x'), undefined);
  // What hogport sent before the shared UUIDv7: a loaded session keeps its id across the change.
  assert.equal(sessionUuid(1751254640623, 'D-1'), '0197bee9-27ef-742e-9fea-97d7f0b12dcd');
});

test('maps groups to $groups and sends one $groupidentify per group of the record, an empty $group_set where it has no properties', () => {
  const r = map({ groups: { company: ['acme', 'globex'], team: 'blue' }, group_properties: { company: { acme: { plan: 'enterprise' } } } });
  assert.ok('events' in r);
  assert.deepEqual(r.events[0]!.properties.$groups, { company: 'acme', team: 'blue' });
  assert.deepEqual(r.events.slice(1).map((g) => [g.event, g.properties.$group_type, g.properties.$group_key, g.properties.$group_set, g.timestamp]), [
    ['$groupidentify', 'company', 'acme', { plan: 'enterprise' }, r.events[0]!.timestamp],
    ['$groupidentify', 'company', 'globex', {}, r.events[0]!.timestamp],
    ['$groupidentify', 'team', 'blue', {}, r.events[0]!.timestamp],
  ]);
  assert.equal(new Set(r.events.map((e) => e.uuid)).size, 4);
  const again = map({ groups: { company: ['acme', 'globex'], team: 'blue' }, group_properties: { company: { acme: { plan: 'enterprise' } } } });
  assert.ok('events' in again);
  assert.deepEqual(again.events.map((e) => e.uuid), r.events.map((e) => e.uuid), 'every re-run repeats them');
  const flat = map({ groups: { company: 'acme' }, group_properties: { company: { plan: 'team' } } });
  assert.ok('events' in flat && flat.events.length === 2 && flat.events[1]!.properties.$group_key === 'acme');
  const repeated = map({ groups: { company: ['acme', 'acme'] } });
  assert.ok('events' in repeated && repeated.events.length === 2, 'once per group per record');
  const onlyProps = map({ groups: {}, group_properties: { company: { initech: { size: 5 } } } });
  assert.ok('events' in onlyProps);
  assert.deepEqual(onlyProps.events.map((e) => e.properties.$group_key), [undefined, 'initech']);
  const none = map({ groups: {}, group_properties: {} });
  assert.ok('events' in none && none.events.length === 1);
});

test('carries device, OS, browser, library, app version, IP and location under PostHog\'s names', () => {
  const app = first().properties;
  assert.deepEqual([app.$os, app.$os_version, app.$device_model, app.$lib, app.$lib_version, app.$app_version, app.$ip], ['ios', '18.5', 'Apple iPhone 15', 'amplitude-swift', '1.13.6', '1.0.81', '203.0.113.17']);
  assert.deepEqual([app.$geoip_country_name, app.$geoip_subdivision_1_name, app.$geoip_city_name], ['Malaysia', 'Selangor', 'Puchong']);
  assert.deepEqual([app.$device_id, app.$amplitude_user_id, app.$amplitude_device_id, app.$amplitude_id, app.$amplitude_event_id, app.$amplitude_insert_id], ['D-1', 'u-1', 'D-1', 42, 7, 'INS-1']);
  const web = first({ platform: 'Web', os_name: 'Chrome', os_version: '120', device_family: 'Mac OS X', device_type: null }).properties;
  assert.deepEqual([web.$browser, web.$browser_version, web.$os], ['Chrome', '120', 'Mac OS X']);
});

test('applies the definition\'s event renames and property drops', () => {
  const m = { renameEvents: { 'Signed Up': 'user signed up', '[Amplitude] Page Viewed': 'page' }, dropProperties: ['plan', 'email'] };
  const e = first({ user_properties: { email: 'a@b.c', seats: 1 } }, m);
  assert.equal(e.event, 'user signed up');
  assert.equal(e.properties.plan, undefined);
  assert.deepEqual(e.$set, { seats: 1 });
  assert.equal(first({ event_type: '[Amplitude] Page Viewed' }, m).event, 'page');
});

test('refuses what cannot be mapped, with a reason', () => {
  assert.equal((mapAmplitudeRecord([1, 2], mapping) as { code: string }).code, 'not_an_object');
  assert.equal((map({ event_type: '' }) as { code: string }).code, 'missing_event_type');
});

test('maps the published Amplitude sample records', async () => {
  const lines = (await readFile(`${SAMPLES}aierie-round-trip.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  const results = lines.map((r) => mapAmplitudeRecord(structuredClone(r), mapping));
  assert.equal(results.filter((r) => 'code' in r).length, 0, JSON.stringify(results.filter((r) => 'code' in r)));
  const dropped = lines.filter((r) => r.event_type === 'session_start' || r.event_type === 'session_end').length;
  assert.equal(results.filter((r) => 'drop' in r).length, dropped);
  for (const [i, r] of results.entries()) {
    if (!('events' in r)) continue;
    assert.equal(r.events[0]!.uuid, lines[i].uuid);
    assert.equal(r.events[0]!.distinct_id, lines[i].user_id ?? lines[i].device_id);
  }
  // Airbyte rewrote the times as RFC 3339; they still map, to the same instant.
  const airbyte = (await readFile(`${SAMPLES}airbyte-expected-records-wrapped.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l).data);
  for (const rec of airbyte) {
    const r = mapAmplitudeRecord(rec, mapping);
    assert.ok('events' in r, JSON.stringify(r));
    assert.equal(Date.parse(r.events[0]!.timestamp), Date.parse(rec.event_time));
  }
});

test('the published samples land under PostHog\'s names once the conventions have run: iOS, Mobile, and the person\'s geo', async () => {
  const lines = (await readFile(`${SAMPLES}aierie-round-trip.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  let fromDevice = 0;
  let fromServer = 0;
  for (const rec of lines) {
    const r = mapAmplitudeRecord(structuredClone(rec), mapping);
    if (!('events' in r)) continue;
    const [e] = r.events;
    const view = personView(e!);
    assert.equal(e!.properties.analytics_source, 'amplitude');
    if (rec.platform === 'iOS') {
      fromDevice += 1;
      assert.deepEqual([e!.properties.$os, e!.properties.$device_type], ['iOS', 'Mobile'], rec.event_type);
      assert.deepEqual([e!.$set?.$geoip_country_name, e!.$set_once?.$initial_geoip_country_name], ['Malaysia', 'Malaysia'], 'the source\'s geo, which nothing else promotes, on the event');
      assert.deepEqual([view.set.$geoip_country_name, view.set.$os, view.set.$app_version, view.once.$initial_geoip_country_name, view.once.$initial_device_type], ['Malaysia', 'iOS', rec.version_name, 'Malaysia', 'Mobile']);
    } else {
      // Sent from a server (Amplitude's HTTP API) without device or place: nothing to promote, nothing made up.
      fromServer += 1;
      assert.deepEqual([e!.properties.$os, e!.properties.$device_type, e!.$set, e!.$set_once], [undefined, undefined, undefined, undefined], rec.event_type);
    }
  }
  assert.deepEqual([fromDevice, fromServer], [5, 6]);
});

test('generated records for what the samples lack land as PostHog\'s importer and SDKs name them (fixtures/fidelity.jsonl)', async () => {
  type Case = { case: string; record: Record<string, unknown>; expect: { event?: string; reject?: string; changed?: string[]; properties?: Record<string, unknown>; $set?: Record<string, unknown>; $set_once?: Record<string, unknown>; absent?: Record<string, string[]>; groupidentify?: unknown[] } };
  const cases = (await readFile(`${FIXTURES}fidelity.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Case);
  assert.ok(cases.length >= 10);
  for (const { case: name, record, expect } of cases) {
    const r = mapAmplitudeRecord(structuredClone(record), mapping);
    if (expect.reject) {
      assert.ok('code' in r, name);
      assert.equal(r.code, expect.reject, name);
      continue;
    }
    assert.ok('events' in r, `${name}: ${JSON.stringify(r)}`);
    const [e, ...groups] = r.events;
    // $set and $set_once are what the person gets from the event: its own, and what PostHog promotes from its properties.
    const view = personView(e!);
    for (const g of groups) applyConventions(g);
    const got = { properties: e!.properties, $set: view.set, $set_once: view.once };
    if (expect.event) assert.equal(e!.event, expect.event, name);
    assert.deepEqual(r.changed, expect.changed, name);
    for (const part of ['properties', '$set', '$set_once'] as const) {
      for (const [k, v] of Object.entries(expect[part] ?? {})) assert.deepEqual(got[part][k], v, `${name}: ${part}.${k}`);
      for (const k of expect.absent?.[part] ?? []) assert.ok(!Object.hasOwn(got[part], k), `${name}: no ${part}.${k}`);
    }
    if (expect.groupidentify) assert.deepEqual(groups.map((g) => [g.properties.$group_type, g.properties.$group_key, g.properties.$group_set]), expect.groupidentify, name);
  }
});
