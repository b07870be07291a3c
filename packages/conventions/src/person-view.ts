import type { PostHogEvent } from '@hogport/event';
import { applyConventions } from './apply.js';
import { personPromotion } from './promotion.js';

/**
 * A sent event as its person sees it: `$set`/`$set_once` hold what the event sets (its own, at
 * the top level or in its properties) and what PostHog's ingestion promotes from its properties
 * when it takes the event in (plugin-server's `normalizeEvent` → `personInitialAndUTMProperties`),
 * which hogport leaves to PostHog rather than copy into every event. A claim about an event's
 * `$set` is a claim about what reaches the person.
 */
export function asPersonSees(event: Record<string, any>): Record<string, any> {
  const copy = structuredClone(event) as PostHogEvent;
  if (copy.properties === null || typeof copy.properties !== 'object') return event;
  const promoted = personPromotion(copy, applyConventions(copy));
  const own = (v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined);
  const set = { ...own(copy.properties.$set), ...own(copy.$set), ...promoted.set };
  const once = { ...own(copy.properties.$set_once), ...own(copy.$set_once), ...promoted.once };
  const out: Record<string, any> = { ...event };
  if (Object.keys(set).length > 0) out.$set = set;
  if (Object.keys(once).length > 0) out.$set_once = once;
  return out;
}
