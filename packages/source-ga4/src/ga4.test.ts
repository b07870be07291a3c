import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mapGa4Row } from './index.js';

const SAMPLES = fileURLToPath(new URL('../../../fixtures/samples/ga4/', import.meta.url));
const row = (over: Record<string, unknown> = {}) => ({
  event_date: '20240301', event_timestamp: '1709280000123456', event_name: 'page_view', user_pseudo_id: '1234.5678', stream_id: '42', event_bundle_sequence_id: '7',
  event_params: [
    { key: 'page_location', value: { string_value: 'https://shop.example/p?x=1' } }, { key: 'page_referrer', value: { string_value: 'https://google.com/' } },
    { key: 'ga_session_id', value: { int_value: '1709279000' } }, { key: 'engagement_time_msec', value: { int_value: '1500' } }, { key: 'ratio', value: { double_value: 0.5 } },
  ],
  user_properties: [{ key: 'plan', value: { string_value: 'pro', set_timestamp_micros: '1' } }],
  device: { category: 'mobile', operating_system: 'Android', web_info: { browser: 'Chrome', hostname: 'shop.example' } },
  geo: { country: 'Germany', region: 'Bavaria', city: 'München' }, traffic_source: { source: 'google', medium: 'organic', name: '(organic)' },
  ...over,
});

test('maps a GA4 row: typed params flattened, INT64 strings parsed, microsecond time, page and session fields', () => {
  const r = mapGa4Row(row());
  assert.ok('events' in r);
  const e = r.events[0]!;
  assert.deepEqual([e.event, e.distinct_id, e.timestamp], ['$pageview', '1234.5678', '2024-03-01T08:00:00.123456Z']);
  assert.deepEqual([e.properties.$current_url, e.properties.$referrer, e.properties.engagement_time_msec, e.properties.ratio], ['https://shop.example/p?x=1', 'https://google.com/', 1500, 0.5]);
  assert.match(String(e.properties.$session_id), /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  assert.equal(parseInt(String(e.properties.$session_id).replace(/-/g, '').slice(0, 12), 16), 1709279000 * 1000);
  assert.deepEqual([e.properties.$device_type, e.properties.$os, e.properties.$browser, e.properties.$geoip_city_name], ['Mobile', 'Android', 'Chrome', 'München']);
  assert.deepEqual(e.$set, { plan: 'pro' });
  assert.deepEqual(e.$set_once, { $initial_utm_source: 'google', $initial_utm_medium: 'organic', $initial_utm_campaign: '(organic)' });
  const again = mapGa4Row(row());
  assert.ok('events' in again && again.events[0]!.uuid === e.uuid, 'the composite key gives the same uuid every time');
  const other = mapGa4Row(row({ event_bundle_sequence_id: '8' }));
  assert.ok('events' in other && other.events[0]!.uuid !== e.uuid);
});

test('uses user_id when set and links it to the pseudo id; drops session_start and first_visit; refuses rows without any id', () => {
  const known = mapGa4Row(row({ user_id: 'member-9' }));
  assert.ok('events' in known && known.events[0]!.distinct_id === 'member-9');
  assert.deepEqual('events' in known && known.identify, [{ distinctId: 'member-9', anonId: '1234.5678' }]);
  assert.deepEqual(mapGa4Row(row({ event_name: 'session_start' })), { drop: 'ga4_session_event' });
  assert.deepEqual(mapGa4Row(row({ event_name: 'first_visit' })), { drop: 'ga4_session_event' });
  const none = mapGa4Row(row({ user_pseudo_id: null }));
  assert.ok('code' in none && none.code === 'missing_identity' && /consent/.test(none.reason));
});

test('maps the published GA4 rows, or refuses them with a reason', async () => {
  let mapped = 0;
  for (const f of await readdir(SAMPLES)) {
    for (const line of (await readFile(`${SAMPLES}${f}`, 'utf8')).trim().split('\n')) {
      const r = mapGa4Row(JSON.parse(line));
      if ('code' in r) assert.ok(r.reason.length > 10, `${f}: ${r.code}`);
      if ('events' in r) { mapped += 1; assert.match(r.events[0]!.timestamp, /^\d{4}-\d\d-\d\dT.*Z$/); }
    }
  }
  assert.ok(mapped > 0);
});
