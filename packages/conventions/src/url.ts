/**
 * `$host` and `$pathname` of a `$current_url`, as posthog-js writes them from `window.location`
 * (the host with its port, the path as the browser keeps it, percent-encoded). Nothing for text that
 * is not an absolute URL with a host: a guess would be a wrong value PostHog cannot tell from a real one.
 */
export function urlParts(url: string): { host: string; pathname: string } | undefined {
  if (url === lastUrl) return lastParts;
  lastUrl = url;
  lastParts = undefined;
  const u = parsed(url);
  if (u && u.host !== '') lastParts = { host: u.host, pathname: u.pathname };
  return lastParts;
}
// Consecutive events of one page view share their URL.
let lastUrl: string | undefined;
let lastParts: { host: string; pathname: string } | undefined;

/**
 * `$referring_domain` of a `$referrer`, as posthog-js writes it: the referrer's host, and `$direct`
 * for `$direct` (no referrer). Nothing for a referrer that is not a URL.
 */
export function referringDomain(referrer: string): string | undefined {
  if (referrer === '$direct') return '$direct';
  const u = parsed(referrer);
  return u && u.host !== '' ? u.host : undefined;
}

function parsed(s: string): URL | undefined {
  // canParse first: a thrown error costs far more than a parse, and bad URLs come in runs.
  return s.length > 0 && URL.canParse(s) ? new URL(s) : undefined;
}
