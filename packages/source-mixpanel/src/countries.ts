import { GEOLITE2_COUNTRY_NAMES } from './geolite2-countries.js';

// Looked up by codes from data: a Map, so `constructor` finds nothing.
const NAMES = new Map(Object.entries(GEOLITE2_COUNTRY_NAMES));

/**
 * The name PostHog's GeoIP enrichment gives a country (MaxMind GeoLite2's English name: "United
 * States", "United Kingdom"), from its ISO 3166 alpha-2 code in any case; undefined for a code
 * GeoLite2 does not know, so no name is ever guessed.
 */
export function countryName(code: string): string | undefined {
  return code.length === 2 ? NAMES.get(code.toUpperCase()) : undefined;
}
