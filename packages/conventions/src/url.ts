/**
 * `$host` and `$pathname` of a `$current_url`, as posthog-js writes them from `window.location`
 * (the host with its port, the path as the browser keeps it, percent-encoded). Nothing for text that
 * is not an absolute URL with a host: a guess would be a wrong value PostHog cannot tell from a real one.
 */
export function urlParts(url: string): { host: string; pathname: string } | undefined {
  return parsed(url);
}

/**
 * `$referring_domain` of a `$referrer`, as posthog-js writes it: the referrer's host, and `$direct`
 * for `$direct` (no referrer). Nothing for a referrer that is not a URL.
 */
export function referringDomain(referrer: string): string | undefined {
  if (referrer === '$direct') return '$direct';
  return parsed(referrer)?.host;
}

/**
 * The host and path of an absolute URL with a host, remembered: a site has far fewer pages and
 * referrers than events, and parsing one costs a microsecond or two.
 */
function parsed(s: string): { host: string; pathname: string } | undefined {
  const known = recent.get(s);
  if (known !== undefined) return known ?? undefined;
  let parts: { host: string; pathname: string } | null = null;
  // canParse first: a thrown error costs far more than a parse, and bad URLs come in runs.
  if (s.length > 0 && URL.canParse(s)) {
    const u = new URL(s);
    if (u.host !== '') parts = { host: u.host, pathname: u.pathname };
  }
  // Long URLs are not kept: 4096 of them must stay a small amount of memory.
  if (s.length <= 2048) {
    if (recent.size >= 4096) recent.clear();
    recent.set(s, parts);
  }
  return parts ?? undefined;
}
const recent = new Map<string, { host: string; pathname: string } | null>();
