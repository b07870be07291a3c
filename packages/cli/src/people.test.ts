import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { runCli } from '@hogport/testkit';
import { outboxByChunk } from './e2e.helpers.js';

type Sent = { uuid: string; event: string; distinct_id: string; timestamp: string; properties: Record<string, any>; $set?: Record<string, unknown>; $set_once?: Record<string, unknown> };

/** Every event of the dry-run outbox, by chunk. */
const outbox = async (migrationDir: string) => (await outboxByChunk(migrationDir)) as Map<string, Sent[]>;

const record = (over: Record<string, unknown>) => ({
  event_type: 'Opened App', user_id: 'u-1', device_id: 'D-1', session_id: -1, event_properties: {}, groups: {}, group_properties: {},
  platform: 'iOS', os_name: 'ios', os_version: '17.4', device_type: 'Apple iPhone 15', device_model: 'iPhone15,2', library: 'amplitude-swift/1.13.6',
  version_name: '3.2.1', country: 'Malaysia', region: 'Selangor', city: 'Puchong', ip_address: '203.0.113.17',
  user_properties: { plan: 'free', initial_utm_source: 'newsletter', initial_referrer: 'https://news.example/launch', initial_referring_domain: 'news.example' },
  ...over,
});

test('a person\'s device, geo and first touch reach the person through ~persons, latest and first as PostHog keeps them, with no copy in every event', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-people-'));
  await mkdir(path.join(dir, 'export'));
  // Hour 9 on the phone in Malaysia; hour 10 on a Mac's browser in Berlin, on a page. The hours are
  // written out of order on purpose: what is latest is decided by time, not by reading order.
  const hour9 = [
    record({ uuid: '0b8f6f57-0000-4000-8000-000000000001', event_time: '2024-03-01 09:05:00.000000' }),
    record({ uuid: '0b8f6f57-0000-4000-8000-000000000002', event_time: '2024-03-01 09:20:00.000000', groups: { company: 'acme' } }),
  ];
  const hour10 = [
    record({
      uuid: '0b8f6f57-0000-4000-8000-000000000003', event_type: '[Amplitude] Page Viewed', event_time: '2024-03-01 10:30:00.000000', device_id: 'D-2',
      platform: 'Web', os_name: 'Chrome', os_version: '120', device_family: 'Mac OS X', device_type: null, device_model: null, library: 'amplitude-ts/2.5.1',
      country: 'Germany', region: 'Berlin', city: 'Berlin',
      event_properties: { '[Amplitude] Page URL': 'https://shop.example/pricing?plan=pro', referrer: 'https://www.google.com/search?q=shop', utm_source: 'google' },
      user_properties: { plan: 'pro', initial_utm_source: 'newsletter', initial_referrer: 'EMPTY' },
    }),
  ];
  await writeFile(path.join(dir, 'export', '187520_2024-03-01_10#0.json.gz'), gzipSync(hour10.map((r) => JSON.stringify(r)).join('\n') + '\n'));
  await writeFile(path.join(dir, 'export', '187520_2024-03-01_9#0.json.gz'), gzipSync(hour9.map((r) => JSON.stringify(r)).join('\n') + '\n'));
  for (const h of [9, 10]) await writeFile(path.join(dir, 'export', `187520_2024-03-01_${h}_complete`), '');
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, 'id: people\nstore: ./store\nsource: { type: amplitude, mode: files, location: ./export }\ndestination: { type: dry-run }\n');
  const run = await runCli(['run', file]);
  assert.equal(run.code, 0, run.stderr);

  const sent = await outbox(path.join(dir, 'store', 'people'));
  const [phone, phoneLater] = sent.get('2024-03-01T09')!.filter((e) => e.event === 'Opened App');
  assert.deepEqual(phone!.properties.$os, 'iOS', 'ios under PostHog\'s name');
  // The event carries the device and geo as properties and the source's own person properties;
  // what promotion derives from them reaches the person once, in ~persons, after every event.
  assert.deepEqual([phone!.properties.$app_version, phone!.properties.$device_type, phone!.properties.$os_version, phone!.properties.$geoip_city_name], ['3.2.1', 'Mobile', '17.4', 'Puchong']);
  assert.deepEqual(phone!.$set, { plan: 'free' });
  assert.deepEqual(phone!.$set_once, { $initial_utm_source: 'newsletter', $initial_referrer: 'https://news.example/launch', $initial_referring_domain: 'news.example' });
  assert.deepEqual(phoneLater!.properties.$groups, { company: 'acme' });
  const group = sent.get('2024-03-01T09')!.find((e) => e.event === '$groupidentify')!;
  assert.deepEqual([group.properties.$group_type, group.properties.$group_key, group.properties.$group_set, group.$set], ['company', 'acme', {}, undefined], 'a group without properties is still created, and carries no person properties');

  const [page] = sent.get('2024-03-01T10')!;
  assert.deepEqual([page!.event, page!.properties.$host, page!.properties.$pathname, page!.properties.$referrer, page!.properties.$referring_domain, page!.properties.$browser, page!.properties.$os, page!.properties.$device_type],
    ['$pageview', 'shop.example', '/pricing', 'https://www.google.com/search?q=shop', 'www.google.com', 'Chrome', 'Mac OS X', 'Desktop']);
  assert.equal(page!.$set_once!.$initial_referrer, undefined, 'Amplitude\'s initial_referrer was EMPTY here: PostHog\'s ingestion promotes the page\'s own $referrer itself');
  assert.deepEqual([page!.properties.utm_source, page!.$set!.utm_source], ['google', undefined]);

  // ~persons: one $set per person with the latest of each property, and the first of each $set_once.
  const persons = sent.get('~persons')!;
  assert.equal(persons.length, 1);
  const person = persons[0]!;
  assert.deepEqual([person.event, person.distinct_id, person.timestamp], ['$set', 'u-1', '2024-03-01T10:30:00.000000Z']);
  const set = person.properties.$set as Record<string, unknown>;
  const once = person.properties.$set_once as Record<string, unknown>;
  assert.deepEqual([set.plan, set.$os, set.$device_type, set.$browser, set.$geoip_city_name, set.$geoip_country_name, set.$current_url, set.$pathname, set.$referring_domain, set.utm_source],
    ['pro', 'Mac OS X', 'Desktop', 'Chrome', 'Berlin', 'Germany', 'https://shop.example/pricing?plan=pro', '/pricing', 'www.google.com', 'google']);
  assert.equal(set.$os_version, '17.4', 'the latest value of each property, even from an earlier event');
  assert.deepEqual([once.$initial_utm_source, once.$initial_referrer, once.$initial_os, once.$initial_device_type, once.$initial_geoip_city_name, once.$initial_browser, once.$initial_pathname],
    ['newsletter', 'https://news.example/launch', 'iOS', 'Mobile', 'Puchong', 'Chrome', '/pricing'], 'the first value of each, whenever it first appeared');
  assert.ok(!Object.keys(set).some((k) => k.startsWith('initial_') || k === '$geoip_disable'));
});

test('the conventions apply to every source: PostHog-format files get URL parts, user-agent names and promotion too, and a bad URL costs nothing', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hogport-people-files-'));
  await mkdir(path.join(dir, 'export'));
  const ua = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1';
  const lines = [
    { uuid: '0b8f6f57-0000-4000-8000-00000000000a', event: '$pageview', distinct_id: 'p-1', timestamp: '2024-03-01T09:00:00Z', properties: { $current_url: 'https://shop.example/cart', $raw_user_agent: ua, $referrer: '$direct', $geoip_city_name: 'Oslo' } },
    { uuid: '0b8f6f57-0000-4000-8000-00000000000b', event: 'clicked', distinct_id: 'p-1', timestamp: '2024-03-01T09:01:00Z', properties: { $current_url: 'not a url', $os: 'macOS', $os_version: 14, $set: { $os: 'Own' } } },
    { uuid: '0b8f6f57-0000-4000-8000-00000000000c', event: '$groupidentify', distinct_id: 'p-1', timestamp: '2024-03-01T09:02:00Z', properties: { $group_type: 'company', $group_key: 'acme', $group_set: {}, $os: 'macOS' } },
  ];
  await writeFile(path.join(dir, 'export', 'part-000.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const file = path.join(dir, 'pipeline.yaml');
  await writeFile(file, 'id: conv\nstore: ./store\nsource: { type: posthog-files, location: ./export }\ndestination: { type: dry-run }\n');
  const run = await runCli(['run', file]);
  assert.equal(run.code, 0, run.stderr);
  const [page, click, group] = [...(await outbox(path.join(dir, 'store', 'conv'))).values()].flat();
  assert.deepEqual([page!.properties.$host, page!.properties.$pathname, page!.properties.$referring_domain, page!.properties.$browser, page!.properties.$os, page!.properties.$device_type],
    ['shop.example', '/cart', '$direct', 'Chrome iOS', 'iOS', 'Mobile']);
  // PostHog's ingestion promotes the browser and URLs from the properties itself; the source's geo
  // nothing would promote, and this source has no ~persons: it goes on the event.
  assert.deepEqual([page!.$set, page!.$set_once], [{ $geoip_city_name: 'Oslo' }, { $initial_geoip_city_name: 'Oslo' }]);
  assert.deepEqual([click!.properties.$host, click!.properties.$os, click!.properties.$os_version, click!.properties.$device_type], [undefined, 'Mac OS X', '14', 'Desktop']);
  assert.deepEqual(click!.properties.$set, { $os: 'Own' }, 'the source\'s own $set is sent as it was');
  assert.equal(click!.$set, undefined);
  assert.deepEqual([group!.properties.$os, group!.$set, group!.properties.$set], ['macOS', undefined, undefined], 'a group event is left as it is');
});
