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
 * Copies what of the promoted properties an event holds (named by `signature`, from
 * `PROMOTION_CODES`) PostHog would not promote itself into its `$set` and, as `$initial_*`, its
 * `$set_once`: the `$geoip_*` values (PostHog's GeoIP enrichment promotes the ones it looks up, and
 * imports carry the source's own, which nothing else promotes), and first-touch values the event
 * carries under the `$initial_*` name (`$initial_referrer` on Mixpanel events: the person's first
 * referrer, not this page's), which PostHog's ingestion does not read. The `PERSON_PROPERTIES`
 * PostHog's ingestion promotes from every event's properties as it takes it in (plugin-server's
 * `normalizeEvent` → `personInitialAndUTMProperties`), so a copy in every event's `$set` would only
 * add half again to the bytes sent; the identity merge folds them into `~persons` instead
 * (`personPromotion`), whose latest values win whatever order events load in. A value the source put
 * there itself wins. They go where the event keeps them: its top-level `$set` (made when it has
 * none), or `properties.$set` when only that exists, which is what the identity merge reads too.
 *
 * The copying is straight-line code made for each signature, with a named load and store per
 * property: a store by a computed key turns an object that gets more than about a dozen keys into a
 * slow dictionary for V8, which then serialises at a third of the speed, and reading all 65 names
 * of every event costs more than the rest of the conventions together. Events of one source have a
 * few signatures, each compiled once.
 */
export function promote(e: PostHogEvent, signature: string): void {
  const fn = promoter(signature, 'event');
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
  if (!s && hasGeoValue(signature)) { s = {}; madeSet = true; }
  if (!o) { o = {}; madeOnce = true; }
  fn(p, s, o);
  // A value that was null promotes nothing: an object that stayed empty is not sent.
  if (madeSet && !isEmpty(s!)) e.$set = s;
  if (madeOnce && !isEmpty(o)) e.$set_once = o;
}
/**
 * Every promoted property an event holds, as its person gets them from PostHog once the event is
 * taken in: `$set` with the latest values, `$set_once` with `$initial_*`, leaving out what the
 * event's own `$set`/`$set_once` hold (those win, and are folded as they are). The identity merge
 * folds these into each person's facts, so `~persons` follows the same rules as ingestion.
 */
export function personPromotion(e: PostHogEvent, signature: string): { set: Record<string, unknown>; once: Record<string, unknown> } {
  const set: unknown[] = [];
  const once: unknown[] = [];
  personPromotionPairs(e, signature, set, once);
  return { set: objectOf(set), once: objectOf(once) };
}

/**
 * `personPromotion` as flat lists of name, value, name, value… written into `set` and `once` (emptied
 * first), for the identity merge's fold, which runs on every event: no two objects made per event, and
 * lists the fold reads at one speed whatever the event's shape. Each name appears once in each list.
 */
export function personPromotionPairs(e: PostHogEvent, signature: string, set: unknown[], once: unknown[]): void {
  set.length = 0;
  once.length = 0;
  const p = e.properties;
  const own = objectOrUndefined(e.$set) ?? objectOrUndefined(p.$set) ?? NOTHING;
  const ownOnce = objectOrUndefined(e.$set_once) ?? objectOrUndefined(p.$set_once) ?? NOTHING;
  promoter(signature, 'person')(p, set, once, own, ownOnce);
}
const NOTHING: Record<string, unknown> = Object.freeze(Object.create(null) as Record<string, unknown>);

function objectOf(pairs: unknown[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < pairs.length; i += 2) o[pairs[i] as string] = pairs[i + 1];
  return o;
}

type PersonPromoter = (p: Record<string, unknown>, s: unknown[], o: unknown[], own: Record<string, unknown>, ownOnce: Record<string, unknown>) => void;
const promoters = { event: new Map<string, Promoter>(), person: new Map<string, PersonPromoter>() };

function promoter(signature: string, kind: 'event'): Promoter;
function promoter(signature: string, kind: 'person'): PersonPromoter;
function promoter(signature: string, kind: 'event' | 'person'): Promoter | PersonPromoter {
  const cache = promoters[kind] as Map<string, Promoter | PersonPromoter>;
  let fn = cache.get(signature);
  if (!fn) {
    fn = kind === 'event' ? compile(signature) : compilePerson(signature);
    if (cache.size >= 2048) cache.clear();
    cache.set(signature, fn);
  }
  return fn;
}

const GEO_FROM = PERSON_PROPERTIES.length;

/**
 * Straight-line code for one signature, writing into the event's own objects: geo values and carried
 * first-touch values only (what PostHog would not promote itself).
 */
function compile(signature: string): Promoter {
  const lines = ['let v;'];
  const codes = [...signature].map((c) => c.charCodeAt(0));
  // First-touch values the event carries come first: they win over the ones its own values give.
  for (const code of codes.filter((c) => c >= INITIAL)) {
    const initial = initialName(PROMOTED[code - INITIAL]!);
    lines.push(`v = ${at('p', initial)}; if (v !== undefined && v !== null && ${at('o', initial)} === undefined) ${at('o', initial)} = v;`);
  }
  for (const code of codes.filter((c) => c < INITIAL)) {
    if (code - VALUE < GEO_FROM) continue;
    const name = PROMOTED[code - VALUE]!;
    const initial = initialName(name);
    lines.push(`v = ${at('p', name)}; if (v !== undefined && v !== null) { if (${at('s', name)} === undefined) ${at('s', name)} = v; if (${at('o', initial)} === undefined) ${at('o', initial)} = v; }`);
  }
  return new Function('p', 's', 'o', lines.join('\n')) as Promoter;
}

/**
 * Straight-line code for one signature, giving the person's view: every value, as name/value pairs,
 * skipping what the event's own `$set`/`$set_once` (`own`, `ownOnce`) hold. A first-touch name the
 * event carries and one its value gives are the same `$initial_*` name: the carried one is written
 * first and a flag keeps the second out, so each name is in a list once.
 */
function compilePerson(signature: string): PersonPromoter {
  const lines = ['let v;'];
  const codes = [...signature].map((c) => c.charCodeAt(0));
  const carried = new Set(codes.filter((c) => c >= INITIAL).map((c) => c - INITIAL));
  for (const code of codes.filter((c) => c >= INITIAL)) {
    const i = code - INITIAL;
    const initial = initialName(PROMOTED[i]!);
    const flag = codes.includes(VALUE + i) ? ` w${i} = true;` : '';
    if (flag) lines.push(`let w${i} = false;`);
    lines.push(`v = ${at('p', initial)}; if (v !== undefined && v !== null && ${at('ownOnce', initial)} === undefined) { o.push(${JSON.stringify(initial)}, v);${flag} }`);
  }
  for (const code of codes.filter((c) => c < INITIAL)) {
    const i = code - VALUE;
    const name = PROMOTED[i]!;
    const initial = initialName(name);
    const unwritten = carried.has(i) ? `!w${i} && ` : '';
    lines.push(`v = ${at('p', name)}; if (v !== undefined && v !== null) { if (${at('own', name)} === undefined) s.push(${JSON.stringify(name)}, v); if (${unwritten}${at('ownOnce', initial)} === undefined) o.push(${JSON.stringify(initial)}, v); }`);
  }
  return new Function('p', 's', 'o', 'own', 'ownOnce', lines.join('\n')) as PersonPromoter;
}

/** `o.name` for names that are identifiers (all of PostHog's): a named load or store. */
function at(object: string, name: string): string {
  return /^[$_a-zA-Z][$_a-zA-Z0-9]*$/.test(name) ? `${object}.${name}` : `${object}[${JSON.stringify(name)}]`;
}

function hasGeoValue(signature: string): boolean {
  for (let i = 0; i < signature.length; i++) { const c = signature.charCodeAt(i); if (c < INITIAL && c - VALUE >= GEO_FROM) return true; }
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
