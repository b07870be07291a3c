import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mapSegmentMessage } from './index.js';
const hasValue = (v: unknown) => v !== undefined && v !== null && v !== '';

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
  if (byType.has('alias')) {
    const alias = byType.get('alias')!;
    assert.ok('events' in alias && alias.events.length === 0 && alias.identify?.[0]?.kind === 'alias' && alias.identify[0].recorded, 'an alias call is a recorded alias link');
  }
  const identify = byType.get('identify')!;
  assert.ok('events' in identify && identify.events[0]!.properties.$anon_distinct_id === undefined && identify.identify?.every((l) => l.recorded), 'an identify call\'s link is recorded for the merge step, not sent on the call');
  const track = ev('track');
  assert.deepEqual([track.properties.$ip, track.properties.utm_source, track.properties.utm_campaign], ['203.0.113.8', 'Newsletter', 'TPS Innovation Newsletter']);
  const again = mapSegmentMessage(full[0]);
  assert.ok('events' in again && again.events[0]!.uuid === ev(full[0].type).uuid, 'the same message always gets the same uuid');
  const minimal = (await readFile(`${SAMPLES}spec-minimal-messages.jsonl`, 'utf8')).trim().split('\n').map((l) => mapSegmentMessage(JSON.parse(l)));
  assert.ok(minimal.every((r) => 'code' in r && r.reason.length > 10), 'spec snippets without ids or times are refused with a reason');
});

const published = async () => (await readFile(`${SAMPLES}spec-full-messages.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
const eventOf = (m: unknown) => { const r = mapSegmentMessage(m); assert.ok('events' in r, JSON.stringify(r)); return r.events[0]!; };
const message = (over: Record<string, unknown>) => ({ type: 'track', event: 'Viewed', messageId: 'm-1', userId: 'u1', timestamp: '2024-03-01T09:00:00.000Z', ...over });

test('Segment context lands under the names PostHog\'s SDKs send: screen, app, network, device, location, campaign', async () => {
  const track = eventOf((await published())[0]);
  const p = track.properties;
  assert.deepEqual([p.$screen_width, p.$screen_height, p.$screen_density], [320, 568, 2]);
  assert.deepEqual([p.$app_name, p.$app_version, p.$app_build, p.$app_namespace], ['InitechGlobal', '545', '3.0.1.545', 'com.production.segment']);
  assert.deepEqual([p.$network_wifi, p.$network_bluetooth, p.$network_cellular, p.$network_carrier], [false, false, true, 'T-Mobile US']);
  assert.deepEqual([p.$device_type, p.$device_manufacturer, p.$device_model, p.$device_name, p.$device_id], ['Mobile', 'Apple', 'iPhone7,2', 'maguro', 'B5372DB0-C21E-11E4-8DFC-AA07A5B093DB']);
  assert.deepEqual([p.$os, p.$os_version, p.$locale, p.$timezone, p.$lib, p.$lib_version], ['iPhone OS', '8.1.3', 'en-US', 'Europe/Amsterdam', 'analytics.js', '2.11.1']);
  assert.deepEqual([p.utm_source, p.utm_medium, p.utm_campaign, p.utm_term, p.utm_content], ['Newsletter', 'email', 'TPS Innovation Newsletter', 'tps reports', 'image link']);
  assert.deepEqual(p.$groups, { company: '12345' }, 'context.groupId puts the event in the group, of the type group calls use');
  const located = eventOf(message({ context: { location: { city: 'San Francisco', country: 'United States', region: 'California', latitude: 37.7, longitude: -122.4 } } })).properties;
  assert.deepEqual([located.$geoip_city_name, located.$geoip_country_name, located.$geoip_subdivision_1_name, located.$geoip_latitude, located.$geoip_longitude], ['San Francisco', 'United States', 'California', 37.7, -122.4]);
});

test('Segment\'s device.type becomes PostHog\'s $device_type: phones Mobile, tablets Tablet, computers Desktop, any other type kept as written', () => {
  const typeOf = (type: unknown) => eventOf(message({ context: { device: { type } } })).properties.$device_type;
  assert.deepEqual(['ios', 'android', 'Android', 'tablet', 'ipados', 'macos', 'windows', 'linux', 'tv', ''].map(typeOf), ['Mobile', 'Mobile', 'Mobile', 'Tablet', 'Tablet', 'Desktop', 'Desktop', 'Desktop', 'tv', undefined]);
});

test('Segment\'s user agent is kept raw as $raw_user_agent; browser, OS and device are left to the shared step that parses it', async () => {
  const all = (await published()).filter((m) => m.type !== 'alias').map(eventOf);
  const ua = (await published())[0]!.context.userAgent as string;
  assert.equal(all[0]!.properties.$raw_user_agent, ua);
  for (const e of all) for (const k of ['$browser', '$browser_version']) assert.equal(e.properties[k], undefined, `${e.event}: ${k} is not guessed from the user agent here`);
  assert.equal(all[0]!.properties.$os, 'iPhone OS', 'context.os is what the sender said, kept as written');
});

test('a Segment page call\'s own title, path, referrer and url win over context.page and go under PostHog\'s names, the context\'s differing ones under segment_page', async () => {
  const page = eventOf((await published()).find((m) => m.type === 'page'));
  assert.deepEqual([page.event, page.properties.$title, page.properties.$current_url], ['$pageview', 'Welcome | Initech', 'http://www.example.com']);
  assert.deepEqual([page.properties.title, page.properties.url], [undefined, undefined], 'not sent twice under two names');
  const e = eventOf(message({
    type: 'page', name: 'Pricing',
    context: { page: { path: '/from-context', referrer: 'https://search.example/?q=a', title: 'Context title', url: 'https://shop.example/from-context' } },
    properties: { title: 'Pricing | Shop', path: '/pricing', url: 'https://shop.example/pricing?plan=pro', search: '?plan=pro', plan: 'pro' },
  }));
  assert.deepEqual(e.properties, {
    $current_url: 'https://shop.example/pricing?plan=pro', $pathname: '/pricing', $title: 'Pricing | Shop', $referrer: 'https://search.example/?q=a',
    search: '?plan=pro', plan: 'pro', $segment_page_name: 'Pricing',
    segment_page: { url: 'https://shop.example/from-context', path: '/from-context', title: 'Context title' },
  });
  const track = eventOf(message({ context: { page: { url: 'https://shop.example/cart', path: '/cart' } }, properties: { url: 'https://api.example/' } }));
  assert.deepEqual([track.properties.$current_url, track.properties.url], ['https://shop.example/cart', 'https://api.example/'], 'a track call\'s own properties keep their names');
});

test('Segment context.traits reach the person through $set, on every call and merged under an identify\'s own traits', async () => {
  const clicked = eventOf((await published()).find((m) => m.event === 'Button Clicked'));
  assert.deepEqual(clicked.$set, { username: 'testing-123' });
  const identify = eventOf(message({ type: 'identify', anonymousId: 'a1', traits: { plan: 'pro', email: 'user@example.com' }, context: { traits: { plan: 'free', company: 'Initech' } } }));
  assert.deepEqual(identify.$set, { plan: 'pro', company: 'Initech', email: 'user@example.com' });
  assert.equal(eventOf(message({})).$set, undefined, 'no traits, no $set');
});

test('a Segment message whose properties, traits or context are not objects is a reject naming the field, never silently emptied', () => {
  const verdict = (over: Record<string, unknown>) => { const r = mapSegmentMessage(message(over)); return 'code' in r ? [r.code, r.reason] : 'kept'; };
  assert.deepEqual(verdict({ properties: 'plan=pro' }), ['bad_properties', 'properties is a string, not an object as Segment sends']);
  assert.deepEqual(verdict({ type: 'identify', traits: ['pro'] }), ['bad_properties', 'traits is an array, not an object as Segment sends']);
  assert.deepEqual(verdict({ context: 7 }), ['bad_properties', 'context is a number, not an object as Segment sends']);
  assert.deepEqual(verdict({ context: { traits: 'x' } }), ['bad_properties', 'context.traits is a string, not an object as Segment sends']);
  assert.equal(verdict({ properties: null, traits: null, context: null }), 'kept', 'absent is not malformed');
});

/** Every value in `v` with its path, down to the scalars. */
const leaves = (v: unknown, at = ''): Array<[string, unknown]> =>
  v !== null && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => leaves(x, at ? `${at}.${k}` : k)) : [[at, v]];

test('Segment context no PostHog name takes lands as segment_<key>, holding only what the mapping leaves of it', async () => {
  const p = eventOf((await published())[0]).properties;
  assert.deepEqual(p.segment_device, { advertisingId: '7A3CBEA0-BDF5-11E4-8DFC-AA07A5B093DB', adTrackingEnabled: true, token: 'ff15bc0c20c4aa6cd50854ff165fd265c838e5405bfeb9571066395b8c9da449' });
  assert.deepEqual(p.segment_referrer, { id: 'ABCD582CDEFFFF01919', type: 'dataxu' });
  assert.equal(p.segment_active, true);
  assert.deepEqual((p.segment_userAgentData as { platform: string }).platform, 'macOS');
  for (const k of ['segment_library', 'segment_os', 'segment_app', 'segment_network', 'segment_screen', 'segment_page', 'segment_ip', 'segment_locale', 'segment_traits', 'segment_groupId']) {
    assert.ok(!Object.hasOwn(p, k), `${k}: every field of it has a PostHog name (or, like page.search "", no value)`);
  }
  assert.deepEqual([p.$device_id, p.$lib, p.$locale, p.$timezone], ['B5372DB0-C21E-11E4-8DFC-AA07A5B093DB', 'analytics.js', 'en-US', 'Europe/Amsterdam'], 'the mapped fields are as before');
});

test('Segment context extras of every kind land: os, library, location, page and custom keys under segment_*, campaign fields as utm_<key>', () => {
  const e = eventOf(message({
    context: {
      os: { name: 'Android', version: '14', build: 'UQ1A' }, library: { name: 'analytics-android', version: '4.11', plugins: ['a'] },
      location: { city: 'Berlin', speed: 0, country: '' }, page: { url: 'https://shop.example/?a=1', search: '?a=1', hash: '#top' },
      campaign: { source: 'ads', id: 'cmp-7', gclid: 'Cj0' }, instanceId: 'i-1', experiment: { arm: 'B' }, page_view_id: null, screen: 'big',
    },
  }));
  const p = e.properties;
  assert.deepEqual(p.segment_os, { build: 'UQ1A' });
  assert.deepEqual(p.segment_library, { plugins: ['a'] });
  assert.deepEqual(p.segment_location, { speed: 0 }, 'a zero is a value; an empty country is not');
  assert.deepEqual(p.segment_page, { search: '?a=1', hash: '#top' });
  assert.deepEqual([p.utm_source, p.utm_id, p.utm_gclid, p.segment_campaign], ['ads', 'cmp-7', 'Cj0', undefined]);
  assert.deepEqual([p.segment_instanceId, p.segment_experiment, p.segment_screen], ['i-1', { arm: 'B' }, 'big'], 'a custom key, or a known one not holding an object, is kept whole');
  assert.ok(!Object.hasOwn(p, 'segment_page_view_id'), 'null is no value');
  assert.deepEqual([p.$os, p.$os_version, p.$lib, p.$lib_version, p.$geoip_city_name], ['Android', '14', 'analytics-android', '4.11', 'Berlin']);
});

test('a context value an event property replaces with a different one lands as segment_<context path>; an equal one is sent once', () => {
  const p = eventOf(message({
    context: {
      ip: '203.0.113.7', page: { url: 'https://shop.example/cart', search: '?a=1', title: 'Cart' }, device: { type: 'ios', id: 'd-1' },
      campaign: { source: 'ads', id: 'cmp-7' }, locale: 'en-GB',
    },
    properties: { $ip: '198.51.100.1', $current_url: 'https://shop.example/checkout', $title: 'Cart', $device_type: 'Tablet', utm_source: 'mail', utm_id: 'cmp-8', $locale: 'en-GB' },
  })).properties;
  assert.deepEqual([p.$ip, p.$current_url, p.$device_type, p.utm_source, p.utm_id], ['198.51.100.1', 'https://shop.example/checkout', 'Tablet', 'mail', 'cmp-8'], 'the event\'s own value wins');
  assert.equal(p.segment_ip, '203.0.113.7');
  assert.deepEqual(p.segment_page, { search: '?a=1', url: 'https://shop.example/cart' }, 'joined to the page fields no PostHog name takes; the equal title is not repeated');
  assert.deepEqual(p.segment_device, { type: 'ios' }, 'as the sender wrote it');
  assert.deepEqual(p.segment_campaign, { source: 'ads', id: 'cmp-7' });
  assert.ok(!Object.hasOwn(p, 'segment_locale'), 'an equal value is sent once');
  const same = eventOf(message({ context: { ip: '203.0.113.7', device: { type: 'ios' } }, properties: { $ip: '203.0.113.7', $device_type: 'Mobile' } })).properties;
  assert.deepEqual([same.segment_ip, same.segment_device], [undefined, undefined], 'the context\'s type means what the event says');
  const emptied = eventOf(message({ type: 'page', context: { page: { title: 'Cart' } }, properties: { title: '' } })).properties;
  assert.deepEqual([emptied.$title, emptied.segment_page], ['Cart', undefined], 'an empty property is no value and replaces nothing');
  const owned = mapSegmentMessage(message({ context: { page: { title: 'Cart' } }, properties: { $title: 'Basket', segment_page: 'mine' } }));
  assert.ok('events' in owned);
  assert.equal(owned.events[0]!.properties.segment_page, 'mine', 'an event\'s own segment_<key> is kept whole, not mixed with context');
  assert.deepEqual(owned.changed, ['segment_context_shadowed'], 'the context value it leaves out is counted');
  const carried = mapSegmentMessage(message({ context: { device: { token: 't-1' } }, properties: { segment_device: { token: 't-2' } } }));
  assert.ok('events' in carried);
  assert.deepEqual([carried.events[0]!.properties.segment_device, carried.changed], [{ token: 't-2' }, ['segment_context_shadowed']]);
  const unshadowed = mapSegmentMessage(message({ context: { ip: '203.0.113.7' }, properties: { $ip: '198.51.100.1' } }));
  assert.ok('events' in unshadowed && unshadowed.changed === undefined, 'nothing left out, nothing counted');
});

test('no value of a Segment message\'s context vanishes: each lands in the event\'s properties or $set', async () => {
  const extra: Record<string, any> = message({ type: 'group', groupId: 'g-1', context: { groupId: 'g-1', locale: 'de-DE', device: { adTrackingEnabled: false, type: 'android' }, campaign: { id: 7 } } });
  const shadowed: Record<string, any> = message({ type: 'page', messageId: 'm-2', context: { ip: '203.0.113.7', page: { title: 'Old', url: 'https://a.example/' } }, properties: { $ip: '198.51.100.1', title: 'New', url: 'https://b.example/' } });
  for (const m of [...(await published()).filter((x) => x.type !== 'alias'), extra, shadowed]) {
    const e = eventOf(m);
    const landed = new Set([...leaves(e.properties), ...leaves(e.$set ?? {})].map(([, v]) => JSON.stringify(v)));
    for (const [path, v] of leaves(m.context ?? {})) {
      // device.type is renamed to PostHog's device types (`ios` → `Mobile`).
      if (!hasValue(v) || path === 'device.type') continue;
      assert.ok(landed.has(JSON.stringify(v)), `${m.type} ${m.messageId}: context.${path} (${JSON.stringify(v)}) is in no property`);
    }
  }
  assert.equal(eventOf(extra).properties.segment_groupId, 'g-1', 'a group call\'s context.groupId is kept, not made a second group');
});
