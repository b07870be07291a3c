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
  assert.deepEqual(e.$set_once, { $initial_utm_source: 'google', $initial_utm_medium: 'organic' }, 'the campaign "(organic)" is GA4\'s placeholder, not a campaign');
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

const published = async () => {
  const rows: Array<Record<string, any>> = [];
  for (const f of (await readdir(SAMPLES)).sort()) for (const line of (await readFile(`${SAMPLES}${f}`, 'utf8')).trim().split('\n')) rows.push(JSON.parse(line));
  // session_start and first_visit are dropped by rule: the rows that become events.
  return rows.filter((r) => r.event_name !== 'session_start' && r.event_name !== 'first_visit');
};
const eventOf = (v: unknown) => { const r = mapGa4Row(v); assert.ok('events' in r, JSON.stringify(r)); return r.events[0]!; };
const param = (key: string, value: string | number) => ({ key, value: typeof value === 'number' ? { int_value: String(value) } : { string_value: value } });

test('GA4 campaign params become utm_* and gclid stays gclid; collected_traffic_source fills what the params leave out', async () => {
  const withParams = (await published()).find((r) => r.event_name === 'page_view' && r.event_params.some((p: { key: string }) => p.key === 'gclid'))!;
  const e = eventOf(withParams);
  const params = Object.fromEntries(withParams.event_params.map((p: { key: string; value: Record<string, unknown> }) => [p.key, p.value.string_value ?? p.value.int_value]));
  assert.deepEqual([e.properties.utm_source, e.properties.utm_medium, e.properties.utm_campaign, e.properties.gclid], [params.source, params.medium, params.campaign, params.gclid]);
  for (const k of ['source', 'medium', 'campaign', 'term', 'content']) assert.equal(e.properties[k], undefined, `${k} is sent once, as utm_*`);
  const collected = eventOf(row({
    event_params: [param('term', 'shoes')],
    collected_traffic_source: { manual_source: 'newsletter', manual_medium: 'email', manual_campaign_name: 'spring', manual_term: 'boots', manual_content: 'hero', gclid: 'Cj0KCQ', dclid: null },
  }));
  assert.deepEqual([collected.properties.utm_source, collected.properties.utm_medium, collected.properties.utm_campaign, collected.properties.utm_term, collected.properties.utm_content, collected.properties.gclid],
    ['newsletter', 'email', 'spring', 'shoes', 'hero', 'Cj0KCQ'], 'the event\'s own params win');
});

test('GA4 placeholders are not values: (direct), (none), (organic), (not set)… are left out of params, traffic sources, geo and device', async () => {
  const e = eventOf(row({
    event_params: [param('source', '(direct)'), param('medium', '(none)'), param('campaign', '(referral)'), param('term', '(not provided)'), param('content', '(data deleted)'), param('note', '(none)')],
    traffic_source: { source: '(direct)', medium: '(none)', name: '(direct)' },
    collected_traffic_source: { manual_source: '(not set)', manual_campaign_name: '(organic)' },
    geo: { country: 'Germany', city: '(not set)', region: '(not set)' },
    device: { category: 'mobile', operating_system: 'Android', operating_system_version: '(not set)', mobile_brand_name: '(not set)' },
  }));
  for (const k of ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content', '$geoip_city_name', '$geoip_subdivision_1_name', '$os_version', '$device_manufacturer']) assert.equal(e.properties[k], undefined, k);
  assert.equal(e.properties.$geoip_country_name, 'Germany');
  assert.equal(e.properties.note, '(none)', 'a param of the user\'s own is the user\'s value, whatever it says');
  assert.equal(e.$set_once, undefined, 'a direct first visit sets no initial campaign');
  const organic = (await published()).filter((r) => r.traffic_source?.name === '(organic)').map(eventOf);
  assert.ok(organic.length > 0);
  for (const o of organic) {
    assert.equal(o.$set_once?.$initial_utm_campaign, undefined);
    assert.equal(o.$set_once?.$initial_utm_medium, 'organic');
    assert.notEqual(o.properties.utm_term, '(not provided)');
  }
});

test('GA4 app_info and screens under PostHog\'s names: $app_version, $app_namespace, $screen_name from firebase_screen, else its class', () => {
  const screen = eventOf(row({ event_name: 'screen_view', app_info: { id: 'com.example.shop', version: '4.2.0', install_source: 'com.android.vending' }, event_params: [param('firebase_screen', 'Checkout'), param('firebase_screen_class', 'CheckoutActivity')] }));
  assert.deepEqual([screen.event, screen.properties.$app_version, screen.properties.$app_namespace, screen.properties.$screen_name, screen.properties.firebase_screen_class], ['$screen', '4.2.0', 'com.example.shop', 'Checkout', 'CheckoutActivity']);
  const classOnly = eventOf(row({ event_name: 'screen_view', event_params: [param('firebase_screen_class', 'MainActivity')] }));
  assert.equal(classOnly.properties.$screen_name, 'MainActivity');
});

test('GA4 on a desktop: the mobile_* fields name the browser, so they are not the device; on a phone they are', async () => {
  const rows = await published();
  const desktop = eventOf(rows.find((r) => r.device?.category === 'desktop' && r.device.mobile_model_name === 'Chrome'));
  assert.deepEqual([desktop.properties.$device_type, desktop.properties.$browser, desktop.properties.$device_manufacturer, desktop.properties.$device_model], ['Desktop', 'Chrome', undefined, undefined]);
  const phone = eventOf(rows.find((r) => r.device?.mobile_model_name === 'SM-G781B'));
  assert.deepEqual([phone.properties.$device_type, phone.properties.$device_manufacturer, phone.properties.$device_model, phone.properties.$browser], ['Mobile', 'Samsung', 'SM-G781B', 'Chrome']);
  const unlabelled = eventOf(row({ device: { mobile_brand_name: 'Microsoft', mobile_model_name: 'Edge', web_info: { browser: 'Edge' } } }));
  assert.deepEqual([unlabelled.properties.$device_manufacturer, unlabelled.properties.$device_model], [undefined, undefined], 'a model named like the browser is the browser');
});

test('GA4\'s browser names land as posthog-js names them, the OS telling iOS\'s apart; a web view\'s name is kept as ga4_<path>', async () => {
  const browserOf = (browser: string, operating_system = 'Android', at: 'web_info' | 'device' = 'web_info') => {
    const p = eventOf(row({ device: at === 'web_info' ? { operating_system, web_info: { browser } } : { operating_system, browser } })).properties;
    return [p.$browser, p.ga4_device_web_info_browser ?? p.ga4_device_browser];
  };
  assert.deepEqual(browserOf('Edge', 'Windows'), ['Microsoft Edge', undefined]);
  assert.deepEqual(browserOf('Samsung Internet'), ['Samsung Internet', undefined]);
  assert.deepEqual(browserOf('Opera'), ['Opera', undefined]);
  assert.deepEqual(browserOf('Chrome'), ['Chrome', undefined]);
  assert.deepEqual(browserOf('Chrome', 'iOS'), ['Chrome iOS', undefined], 'posthog-js names Chrome on iOS by its CriOS agent');
  assert.deepEqual(browserOf('Safari', 'iOS'), ['Mobile Safari', undefined]);
  assert.deepEqual(browserOf('Safari', 'Macintosh'), ['Safari', undefined]);
  assert.deepEqual(browserOf('Android Webview'), ['Chrome', 'Android Webview'], 'an app\'s web view is not Chrome, though posthog-js calls it so');
  assert.deepEqual(browserOf('Safari (in-app)', 'iOS', 'device'), ['Mobile Safari', 'Safari (in-app)']);
  assert.deepEqual(browserOf('Netscape'), ['Netscape', undefined], 'a name posthog-js does not use is kept as written');
  const iphone = eventOf((await published()).find((r) => r.device?.operating_system === 'iOS'));
  assert.equal(iphone.properties.$browser, 'Chrome iOS');
});

test('GA4 $os_version is the version alone, as PostHog\'s SDKs send it', async () => {
  const versionOf = (os: string, version: unknown) => eventOf(row({ device: { operating_system: os, operating_system_version: version } })).properties.$os_version;
  assert.deepEqual([versionOf('Android', 'Android 13.0.0'), versionOf('iOS', 'iOS 17.0'), versionOf('Windows', 'Windows 11'), versionOf('Macintosh', 'Macintosh Intel 10.15'), versionOf('Chrome OS', 'Chrome OS 14541.0.0'), versionOf('Android', '11'), versionOf('Android', 12)],
    ['13.0.0', '17.0', '11', '10.15', '14541.0.0', '11', '12']);
  for (const e of (await published()).filter((r) => r.device?.operating_system_version).map(eventOf)) assert.match(String(e.properties.$os_version), /^\d/, String(e.properties.$os_version));
});

test('GA4 automatic user properties do not churn the person: session ones stay on the event, first_open_time is set once, the rest set', () => {
  const up = (key: string, value: string | number) => ({ ...param(key, value), value: { ...param(key, value).value, set_timestamp_micros: '1709280000000000' } });
  const e = eventOf(row({
    event_params: [param('ga_session_id', 1709279000)],
    user_properties: [up('ga_session_id', 1709279000), up('ga_session_number', 3), up('first_open_time', 1709276400000), up('plan', 'pro'), up('_ltv_USD', 120)],
  }));
  assert.deepEqual(e.$set, { plan: 'pro', _ltv_USD: 120 });
  assert.deepEqual(e.$set_once, { first_open_time: 1709276400000, $initial_utm_source: 'google', $initial_utm_medium: 'organic' });
  assert.deepEqual([e.properties.ga_session_id, e.properties.ga_session_number], [1709279000, 3]);
  const fromUserProperties = eventOf(row({ event_params: [], user_properties: [up('ga_session_id', 1709279000)] }));
  assert.equal(fromUserProperties.properties.$session_id, eventOf(row()).properties.$session_id, 'the session is the same whichever list carries its id');
});

test('GA4\'s items are kept where the event has products; the empty list BigQuery writes on every other event is no value', () => {
  const items = [{ item_id: 'SKU-1', quantity: 2 }];
  const withItems = mapGa4Row(row({ items }));
  const empty = mapGa4Row(row({ items: [] }));
  assert.ok('events' in withItems && 'events' in empty);
  assert.deepEqual(withItems.events[0]!.properties.items, items);
  assert.ok(!Object.hasOwn(empty.events[0]!.properties, 'items'));
});

/** Every scalar (or list) in `v` with its dotted path. */
const leaves = (v: unknown, at = ''): Array<[string, unknown]> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v).flatMap(([k, x]) => leaves(x, at ? `${at}.${k}` : k)) : [[at, v]];
const PLACEHOLDER = /^\((direct|none|not set|organic|referral|data deleted|not provided)\)$/;

test('no field of a published GA4 row vanishes: each value is a property, in $set or $set_once, or a placeholder', async () => {
  // Read whole (time, name, identity), or renamed to PostHog's values.
  const transformed = new Set(['event_timestamp', 'event_name', 'user_id', 'device.category', 'device.operating_system_version', 'device.web_info.browser', 'device.browser', 'event_params', 'user_properties']);
  for (const r of (await published()).filter((x) => 'events' in mapGa4Row(x))) {
    const e = eventOf(r);
    const landed = new Set([...leaves(e.properties), ...leaves(e.$set ?? {}), ...leaves(e.$set_once ?? {})].map(([, v]) => JSON.stringify(v)));
    for (const [path, v] of leaves(r)) {
      if (transformed.has(path) || v === null || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'string' && PLACEHOLDER.test(v))) continue;
      assert.ok(landed.has(JSON.stringify(v)), `${r.event_name}: ${path} (${JSON.stringify(v)}) is in no property`);
    }
  }
});

test('when GA4 last set a user property lands on the event as ga4_user_properties_<key>_set_timestamp_micros, as the export wrote it; an empty one does not', () => {
  const e = eventOf(row({
    user_properties: [
      { key: 'plan', value: { string_value: 'pro', set_timestamp_micros: '1709287200000000' } },
      { key: 'ga_session_number', value: { int_value: '3', set_timestamp_micros: '1709287100000000' } },
      { key: 'tier', value: { string_value: 'gold', set_timestamp_micros: null } },
      { key: 'seats', value: { int_value: '5', set_timestamp_micros: '' } },
    ],
  }));
  assert.equal(e.properties.ga4_user_properties_plan_set_timestamp_micros, '1709287200000000');
  assert.equal(e.properties.ga4_user_properties_ga_session_number_set_timestamp_micros, '1709287100000000');
  assert.deepEqual(Object.keys(e.properties).filter((k) => k.endsWith('_set_timestamp_micros')).sort(), ['ga4_user_properties_ga_session_number_set_timestamp_micros', 'ga4_user_properties_plan_set_timestamp_micros']);
  assert.deepEqual(e.$set, { plan: 'pro', tier: 'gold', seats: 5 }, 'the values stay the person\'s');
});

test('GA4 fields no PostHog name takes land as ga4_<path>, flattened, with the export\'s values; placeholders and empties do not', () => {
  const p = eventOf(row({
    platform: 'ANDROID', event_value_in_usd: 12.5, user_first_touch_timestamp: '1709270000000000', user_ltv: { revenue: 33.5, currency: 'USD' },
    privacy_info: { analytics_storage: 'Yes', ads_storage: 'No' }, app_info: { id: 'com.example.shop', version: '4.2.0', install_source: 'com.android.vending' },
    device: { category: 'smart tv', operating_system: 'Android', advertising_id: null, time_zone_offset_seconds: 3600 },
    geo: { country: 'Germany', metro: '(not set)', sub_continent: 'Western Europe' }, traffic_source: { source: 'google', medium: 'cpc', name: 'spring', campaign_id: '17' },
  })).properties;
  assert.deepEqual([p.ga4_platform, p.ga4_event_value_in_usd, p.ga4_user_first_touch_timestamp, p.ga4_user_ltv_revenue, p.ga4_user_ltv_currency], ['ANDROID', 12.5, '1709270000000000', 33.5, 'USD']);
  assert.deepEqual([p.ga4_privacy_info_analytics_storage, p.ga4_privacy_info_ads_storage, p.ga4_app_info_install_source, p.ga4_device_time_zone_offset_seconds], ['Yes', 'No', 'com.android.vending', 3600]);
  assert.equal(p.ga4_device_category, 'smart tv', 'a category PostHog has no device type for is kept, not dropped');
  assert.equal(p.$device_type, undefined);
  assert.deepEqual([p.ga4_geo_sub_continent, p.ga4_traffic_source_campaign_id, p.ga4_event_bundle_sequence_id, p.ga4_event_date], ['Western Europe', '17', '7', '20240301']);
  for (const k of ['ga4_geo_metro', 'ga4_device_advertising_id', 'ga4_geo_country', 'ga4_app_info_id', 'ga4_device_operating_system', 'ga4_traffic_source_source', 'ga4_user_pseudo_id', 'ga4_stream_id', 'ga4_event_name']) {
    assert.ok(!Object.hasOwn(p, k), `${k}: a placeholder, an empty value, or a field already under a PostHog name`);
  }
});

test('GA4 values the mapping sets aside still land: a desktop\'s mobile_* fields, a campaign the params already name, a session user property that differs', async () => {
  const desktop = eventOf((await published()).find((r) => r.device?.category === 'desktop' && r.device.mobile_model_name === 'Chrome'));
  assert.deepEqual([desktop.properties.$device_model, desktop.properties.ga4_device_mobile_model_name, desktop.properties.ga4_device_mobile_brand_name], [undefined, 'Chrome', 'Google']);
  const e = eventOf(row({
    event_params: [param('source', 'newsletter'), param('ga_session_id', 1709279000), param('ga4_platform', 'mine')], platform: 'WEB',
    collected_traffic_source: { manual_source: 'bing', manual_medium: 'organic' },
    user_properties: [{ key: 'ga_session_id', value: { int_value: '1709270000' } }, { key: 'ga_session_number', value: { int_value: '3' } }],
  }));
  assert.deepEqual([e.properties.utm_source, e.properties.ga4_collected_traffic_source_manual_source, e.properties.utm_medium], ['newsletter', 'bing', 'organic'], 'the event\'s own source wins; the collected one is kept beside it');
  assert.equal(e.properties.ga4_collected_traffic_source_manual_medium, undefined, 'a collected field that became utm_medium is not sent twice');
  assert.deepEqual([e.properties.ga_session_id, e.properties.ga4_user_properties_ga_session_id, e.properties.ga_session_number], [1709279000, 1709270000, 3]);
  assert.equal(e.properties.ga4_platform, 'mine', 'a param of the user\'s own keeps its value');
  const same = eventOf(row({ user_properties: [{ key: 'ga_session_id', value: { int_value: '1709279000' } }] }));
  assert.ok(!Object.hasOwn(same.properties, 'ga4_user_properties_ga_session_id'), 'the same session id is not sent twice');
});
