import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heapTable, mapHeapRow } from './index.js';

const pageview = (over: Record<string, unknown> = {}) => ({
  event_id: '8812039944', user_id: '5551234', session_id: '7003318887', time: '2024-03-01 09:15:42.123', event_table_name: 'pageviews',
  domain: 'shop.example', path: '/pricing', query: '?plan=pro&utm_source=newsletter', hash: '#faq', title: 'Pricing | Shop', referrer: 'https://www.google.com/search?q=shop',
  landing_page: 'shop.example/', utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'spring', utm_term: 'boots', utm_content: 'hero',
  browser: 'Chrome Mobile iOS', device_type: 'Mobile', platform: 'iOS 16.1', country: 'Germany', region: 'Bavaria', city: 'Munich', ip: '203.0.113.9',
  user_agent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 16_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/119.0.6045.109 Mobile/15E148 Safari/604.1',
  session_time: '2024-03-01 09:02:10.500', library: 'web',
  ...over,
});
const eventOf = (row: Record<string, unknown>) => { const r = mapHeapRow(row, 'events'); assert.ok('events' in r, JSON.stringify(r)); return r.events[0]!; };
const timeOf = (uuid: unknown) => parseInt(String(uuid).replace(/-/g, '').slice(0, 12), 16);

test('a Heap pageview lands under PostHog\'s names: URL built from domain, path, query and hash; referrer, title, UTMs, device, OS, geo, ip, user agent (the browser left to it)', () => {
  const e = eventOf(pageview());
  assert.equal(e.event, '$pageview');
  assert.deepEqual(e.properties, {
    $host: 'shop.example', $pathname: '/pricing', $current_url: 'https://shop.example/pricing?plan=pro&utm_source=newsletter#faq',
    $title: 'Pricing | Shop', $referrer: 'https://www.google.com/search?q=shop', landing_page: 'shop.example/',
    utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'spring', utm_term: 'boots', utm_content: 'hero',
    $device_type: 'Mobile', $os: 'iOS', $os_version: '16.1',
    $geoip_country_name: 'Germany', $geoip_subdivision_1_name: 'Bavaria', $geoip_city_name: 'Munich', $ip: '203.0.113.9',
    $raw_user_agent: pageview().user_agent, session_time: '2024-03-01 09:02:10.500', library: 'web',
    $heap_session_id: '7003318887', $session_id: e.properties.$session_id,
  });
});

test('Heap URL parts: a query or hash without its mark gets it, no path is the root, no domain leaves query and hash as they are', () => {
  assert.equal(eventOf(pageview({ query: 'a=1', hash: 'top', path: '' })).properties.$current_url, 'https://shop.example/?a=1#top');
  assert.equal(eventOf(pageview({ query: '', hash: null, path: 'docs' })).properties.$current_url, 'https://shop.example/docs');
  const bare = eventOf(pageview({ domain: null }));
  assert.deepEqual([bare.properties.$current_url, bare.properties.query, bare.properties.hash, bare.properties.$pathname], [undefined, '?plan=pro&utm_source=newsletter', '#faq', '/pricing']);
});

test('Heap platform and device type: the OS apart from its version, device types in PostHog\'s case, any other value kept as written', () => {
  const os = (platform: string) => { const p = eventOf(pageview({ platform })).properties; return [p.$os, p.$os_version]; };
  assert.deepEqual([os('Mac OS X'), os('Mac OS X 10_15_7'), os('Windows 10'), os('Android 13'), os('Linux')], [['Mac OS X', undefined], ['Mac OS X', '10.15.7'], ['Windows', '10'], ['Android', '13'], ['Linux', undefined]]);
  const type = (device_type: string) => eventOf(pageview({ device_type })).properties.$device_type;
  assert.deepEqual(['desktop', 'Tablet', 'MOBILE', 'Watch'].map(type), ['Desktop', 'Tablet', 'Mobile', 'Watch']);
});

test('Heap\'s session id becomes a UUIDv7 $session_id whose time is the session\'s start, the same on every event of the session', () => {
  const first = eventOf(pageview());
  const later = eventOf(pageview({ event_id: '8812039999', time: '2024-03-01 09:40:00.000', path: '/checkout' }));
  assert.match(String(first.properties.$session_id), /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(later.properties.$session_id, first.properties.$session_id);
  assert.equal(timeOf(first.properties.$session_id), Date.parse('2024-03-01T09:02:10.500Z'));
  assert.notEqual(eventOf(pageview({ session_id: '7003318888' })).properties.$session_id, first.properties.$session_id, 'another session, another id');
  assert.equal(timeOf(eventOf(pageview({ session_time: 1709283730500 })).properties.$session_id), Date.parse('2024-03-01T09:02:10.500Z'), 'epoch milliseconds read as such');
});

test('without a session start, Heap\'s session id still gives one $session_id per session: its time is a UTC midnight, each event of the session agreeing', () => {
  const none = [eventOf(pageview({ session_time: null })), eventOf(pageview({ session_time: undefined, time: '2024-03-01 23:59:59.000' }))];
  assert.equal(none[0]!.properties.$session_id, none[1]!.properties.$session_id);
  assert.equal(timeOf(none[0]!.properties.$session_id), Date.parse('2024-03-01T00:00:00Z'));
  // Seconds since the session started, in whole seconds: the start they imply moves from row to row.
  const elapsed = [eventOf(pageview({ session_time: 0, time: '2024-03-01 00:00:00.700' })), eventOf(pageview({ session_time: '4', time: '2024-03-01 00:00:05.200' }))];
  assert.equal(elapsed[0]!.properties.$session_id, elapsed[1]!.properties.$session_id);
  assert.equal(timeOf(elapsed[0]!.properties.$session_id), Date.parse('2024-03-01T00:00:00Z'));
  assert.equal(eventOf(pageview({ session_id: null })).properties.$session_id, undefined, 'no session id, no session');
  const before1970 = eventOf(pageview({ session_time: '1965-01-01 00:00:00' })).properties;
  assert.deepEqual([before1970.$session_id, before1970.$heap_session_id], [undefined, '7003318887'], 'a start a UUIDv7 cannot hold gives no $session_id, the session id is kept');
});

test('Heap\'s browser column lands under posthog-js\'s names; a user agent naming a browser decides it, Heap\'s own name kept only where it disagrees', () => {
  const browserOf = (browser: unknown, user_agent: unknown = null) => { const p = eventOf(pageview({ browser, user_agent })).properties; return [p.$browser, p.$heap_browser]; };
  assert.deepEqual([browserOf('Chrome Mobile iOS'), browserOf('IE'), browserOf('Edge'), browserOf('Samsung Browser'), browserOf('Mobile Safari UI/WKWebView'), browserOf('Vivaldi')],
    [['Chrome iOS', undefined], ['Internet Explorer', undefined], ['Microsoft Edge', undefined], ['Samsung Internet', undefined], ['Mobile Safari', 'Mobile Safari UI/WKWebView'], ['Vivaldi', undefined]]);
  const ua = pageview().user_agent;
  assert.deepEqual(browserOf('Chrome Mobile iOS', ua), [undefined, undefined], 'the agent names the same browser: the shared step derives $browser (and its version) from $raw_user_agent');
  assert.deepEqual(browserOf('Chrome', ua), [undefined, 'Chrome'], 'the agent says Chrome iOS: Heap\'s differing name is kept beside it');
  assert.deepEqual(browserOf('Firefox', 'curl/8.4.0'), ['Firefox', undefined], 'an agent naming no browser leaves Heap\'s');
  assert.deepEqual(browserOf('Android Webview'), ['Chrome', 'Android Webview'], 'posthog-js calls a web view Chrome: without an agent, Heap\'s name is kept too, as GA4\'s is');
});

test('a Heap chunk under a sessions folder holds the sessions table; an event table with session in its name holds events', () => {
  assert.deepEqual(['sessions~part-0000.json', 'sync_1/sessions/part-0.avro', 'main_production_sessions~0.jsonl', 'session_started~0.json', 'users~0.json', 'checkout~0.json'].map(heapTable),
    ['sessions', 'sessions', 'sessions', 'events', 'users', 'events']);
  assert.deepEqual(mapHeapRow({ session_id: '1', user_id: '2', time: '2024-03-01 09:00:00' }, 'sessions'), { drop: 'heap_session_row' });
});
