import type { PostHogEvent } from '@hogport/event';

/**
 * The event properties PostHog's ingestion copies to the person (plugin-server's
 * `EVENT_TO_PERSON_PROPERTIES` and `CAMPAIGN_PROPERTIES`): the latest value into `$set`, the first as
 * `$initial_<name without $>` into `$set_once`. Persons pages, cohorts and first-touch attribution
 * read them there.
 */
export const PERSON_PROPERTIES = [
  '$app_build', '$app_name', '$app_namespace', '$app_version', '$browser', '$browser_version', '$device_type',
  '$current_url', '$pathname', '$os', '$os_name', '$os_version', '$referring_domain', '$referrer',
  '$screen_height', '$screen_width', '$viewport_height', '$viewport_width', '$raw_user_agent',
  'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_name', 'utm_term',
  'gclid', 'gad_source', 'gclsrc', 'dclid', 'gbraid', 'wbraid', 'fbclid', 'msclkid', 'twclid', 'li_fat_id',
  'mc_cid', 'igshid', 'ttclid', 'rdt_cid', 'irclid', '_kx', 'epik', 'qclid', 'sccid',
] as const;

/**
 * The `$geoip_*` properties PostHog's GeoIP enrichment writes to an event and to its person: promoted
 * like `PERSON_PROPERTIES`. A fixed list rather than every name with the prefix: `$geoip_disable` is
 * an instruction to capture, not a place, and must never reach a person.
 */
export const GEOIP_PROPERTIES = [
  '$geoip_city_name', '$geoip_city_confidence', '$geoip_country_name', '$geoip_country_code', '$geoip_country_confidence',
  '$geoip_continent_name', '$geoip_continent_code', '$geoip_postal_code', '$geoip_postal_code_confidence',
  '$geoip_latitude', '$geoip_longitude', '$geoip_accuracy_radius', '$geoip_time_zone',
  '$geoip_subdivision_1_code', '$geoip_subdivision_1_name', '$geoip_subdivision_1_confidence',
  '$geoip_subdivision_2_code', '$geoip_subdivision_2_name', '$geoip_subdivision_2_confidence',
  '$geoip_subdivision_3_code', '$geoip_subdivision_3_name',
] as const;

/** The `$set_once` name of a promoted property: `$browser` → `$initial_browser`, `utm_source` → `$initial_utm_source`. */
export function initialName(name: string): string {
  return `$initial_${name.startsWith('$') ? name.slice(1) : name}`;
}

/**
 * Copies the event's person properties into its `$set` and, as `$initial_*`, its `$set_once`. A value
 * the source put there itself wins, and so does a first-touch value the event carries as a property
 * of that name (`$initial_referrer` on Mixpanel events: the person's first referrer, not this page's). They go where the event keeps them: its top-level `$set` (made
 * when it has none), or `properties.$set` when only that exists, which is what the identity merge
 * reads too.
 *
 * Generated as straight-line code with a named load and store per property: a store by a computed key
 * turns an object that gets more than about a dozen keys into a slow dictionary for V8, which then
 * serialises at a third of the speed, and most events gain twenty or more.
 */
export const promotePersonProperties: (e: PostHogEvent) => void = build();

function build(): (e: PostHogEvent) => void {
  const names = [...PERSON_PROPERTIES, ...GEOIP_PROPERTIES];
  const body = [
    'const p = e.properties;',
    'const ownSet = obj(e.$set), inSet = ownSet ? undefined : obj(p.$set);',
    'const ownOnce = obj(e.$set_once), inOnce = ownOnce ? undefined : obj(p.$set_once);',
    'let s = ownSet ?? inSet, o = ownOnce ?? inOnce, made = false, madeOnce = false, v;',
  ];
  for (const name of names) {
    const at = JSON.stringify(name);
    const initial = JSON.stringify(initialName(name));
    // Dot access for names that are identifiers (all of them): named loads and stores.
    const get = (of: string, n: string) => /^[$_a-zA-Z][$_a-zA-Z0-9]*$/.test(JSON.parse(n) as string) ? `${of}.${JSON.parse(n) as string}` : `${of}[${n}]`;
    body.push(
      // A first-touch value the event carries itself (Mixpanel's $initial_referrer) is the person's.
      `v = ${get('p', initial)};`,
      'if (v !== undefined && v !== null) {',
      `  if (o === undefined) { o = {}; madeOnce = true; }`,
      `  if (${get('o', initial)} === undefined) ${get('o', initial)} = v;`,
      '}',
      `v = ${get('p', at)};`,
      'if (v !== undefined && v !== null) {',
      `  if (s === undefined) { s = {}; made = true; }`,
      `  if (${get('s', at)} === undefined) ${get('s', at)} = v;`,
      `  if (o === undefined) { o = {}; madeOnce = true; }`,
      `  if (${get('o', initial)} === undefined) ${get('o', initial)} = v;`,
      '}',
    );
  }
  body.push('if (made) e.$set = s;', 'if (madeOnce) e.$set_once = o;');
  const fn = new Function('obj', `return (e) => {\n${body.join('\n')}\n};`) as (obj: (v: unknown) => Record<string, unknown> | undefined) => (e: PostHogEvent) => void;
  return fn(objectOrUndefined);
}

function objectOrUndefined(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
}
