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

const PROMOTED: readonly string[] = [...PERSON_PROPERTIES, ...GEOIP_PROPERTIES];

/**
 * A promoted property an event holds, as one character of a signature: `VALUE + i` for the value of
 * `PROMOTED[i]` (to `$set` and `$set_once`), `INITIAL + i` for a first-touch value the event carries
 * under the `$initial_*` name itself (to `$set_once` only).
 */
export const VALUE = 0x100;
export const INITIAL = 0x200;
/** Property name → its signature character, for the names promotion reads. */
export const PROMOTION_CODES: ReadonlyMap<string, string> = new Map([
  ...PROMOTED.map((n, i) => [n, String.fromCharCode(VALUE + i)] as const),
  ...PROMOTED.map((n, i) => [initialName(n), String.fromCharCode(INITIAL + i)] as const),
]);

type Promoter = (p: Record<string, unknown>, s: Record<string, unknown> | undefined, o: Record<string, unknown>) => void;

/**
 * Copies the promoted properties an event holds (named by `signature`, from `PROMOTION_CODES`) into
 * its `$set` and, as `$initial_*`, its `$set_once`. A value the source put there itself wins, and so
 * does a first-touch value the event carries as a property of that name (`$initial_referrer` on
 * Mixpanel events: the person's first referrer, not this page's). They go where the event keeps
 * them: its top-level `$set` (made when it has none), or `properties.$set` when only that exists,
 * which is what the identity merge reads too.
 *
 * The copying is straight-line code made for each signature, with a named load and store per
 * property: a store by a computed key turns an object that gets more than about a dozen keys into a
 * slow dictionary for V8, which then serialises at a third of the speed, and reading all 65 names
 * of every event costs more than the rest of the conventions together. Events of one source have a
 * few signatures, each compiled once.
 */
export function promote(e: PostHogEvent, signature: string): void {
  let fn = promoters.get(signature);
  if (!fn) {
    fn = compile(signature);
    if (promoters.size >= 2048) promoters.clear();
    promoters.set(signature, fn);
  }
  const p = e.properties;
  // A bag that is there but not an object is the source's to answer for: promotion neither replaces
  // it nor writes beside it, so the event goes on exactly as the source made it.
  if (notObject(e.$set) || notObject(e.$set_once) || notObject(p.$set) || notObject(p.$set_once)) return;
  const ownSet = objectOrUndefined(e.$set);
  const ownOnce = objectOrUndefined(e.$set_once);
  let madeSet = false;
  let madeOnce = false;
  let s = ownSet ?? objectOrUndefined(p.$set);
  let o = ownOnce ?? objectOrUndefined(p.$set_once);
  if (!s && hasValue(signature)) { s = {}; madeSet = true; }
  if (!o) { o = {}; madeOnce = true; }
  fn(p, s, o);
  // A value that was null promotes nothing: an object that stayed empty is not sent.
  if (madeSet && !isEmpty(s!)) e.$set = s;
  if (madeOnce && !isEmpty(o)) e.$set_once = o;
}
const promoters = new Map<string, Promoter>();

function compile(signature: string): Promoter {
  const lines = ['let v;'];
  const codes = [...signature].map((c) => c.charCodeAt(0));
  // First-touch values the event carries come first: they win over the ones its own values give.
  for (const code of codes.filter((c) => c >= INITIAL)) {
    const initial = initialName(PROMOTED[code - INITIAL]!);
    lines.push(`v = ${at('p', initial)}; if (v !== undefined && v !== null && ${at('o', initial)} === undefined) ${at('o', initial)} = v;`);
  }
  for (const code of codes.filter((c) => c < INITIAL)) {
    const name = PROMOTED[code - VALUE]!;
    const initial = initialName(name);
    lines.push(`v = ${at('p', name)}; if (v !== undefined && v !== null) { if (${at('s', name)} === undefined) ${at('s', name)} = v; if (${at('o', initial)} === undefined) ${at('o', initial)} = v; }`);
  }
  return new Function('p', 's', 'o', lines.join('\n')) as Promoter;
}

/** `o.name` for names that are identifiers (all of PostHog's): a named load or store. */
function at(object: string, name: string): string {
  return /^[$_a-zA-Z][$_a-zA-Z0-9]*$/.test(name) ? `${object}.${name}` : `${object}[${JSON.stringify(name)}]`;
}

function hasValue(signature: string): boolean {
  for (let i = 0; i < signature.length; i++) if (signature.charCodeAt(i) < INITIAL) return true;
  return false;
}

function isEmpty(o: Record<string, unknown>): boolean {
  for (const _ in o) return false;
  return true;
}

function notObject(v: unknown): boolean {
  return v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v));
}

function objectOrUndefined(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
}
