import { gzipSync } from 'node:zlib';

/** A small, fast, seeded PRNG (mulberry32): the same seed always gives the same fixtures. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EVENTS = ['$pageview', 'signed_up', 'clicked_button', 'purchase', '$autocapture', 'video played ▶'];
const PATHS = ['/', '/pricing', '/docs/getting-started', '/blog/über-analytics', '/signup'];

export interface PostHogFixtureOptions {
  seed: number;
  count: number;
  /** First timestamp; events step forward by up to a minute each. */
  start: Date;
  /** Fraction of events without a uuid (hogport derives one). */
  withoutUuid?: number;
}

/** PostHog-format events like a batch export writes: realistic properties, some unicode, some without uuids. */
export function posthogEvents(options: PostHogFixtureOptions): Array<Record<string, unknown>> {
  const rand = seeded(options.seed);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  let t = options.start.getTime();
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < options.count; i++) {
    t += Math.floor(rand() * 60_000);
    const user = `user-${Math.floor(rand() * 50)}`;
    const event = EVENTS[Math.floor(rand() * EVENTS.length)]!;
    const e: Record<string, unknown> = {
      event,
      distinct_id: user,
      timestamp: new Date(t).toISOString(),
      properties: {
        $current_url: `https://example.com${PATHS[Math.floor(rand() * PATHS.length)]}`,
        $browser: rand() < 0.5 ? 'Chrome' : 'Firefox',
        $lib: 'web',
        plan: rand() < 0.3 ? 'pro' : 'free',
        amount: Math.round(rand() * 10000) / 100,
      },
    };
    if (rand() >= (options.withoutUuid ?? 0.2)) e.uuid = `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
    if (event === 'signed_up') e.$set = { email_domain: 'example.com', plan: 'free' };
    out.push(e);
  }
  return out;
}

/** JSON lines text of records, optionally with extra raw lines (bad records) spliced in. */
export function jsonLines(records: readonly unknown[], extraLines: readonly string[] = []): string {
  const lines = records.map((r) => JSON.stringify(r));
  extraLines.forEach((line, i) => lines.splice(Math.min(lines.length, (i + 1) * 7), 0, line));
  return `${lines.join('\n')}\n`;
}

export function gzipText(text: string): Buffer {
  return gzipSync(Buffer.from(text));
}

/** Events and persons of a PostHog instance, as hogport's PostHog source reads them through the query API. */
export function posthogInstance(options: { seed: number; start: Date; days: number; count: number; persons: number }): {
  events: Array<{ uuid: string; event: string; distinct_id: string; properties: Record<string, unknown>; timestamp: string; elements_chain?: string; person_id?: string }>;
  persons: Array<{ id: string; properties: Record<string, unknown>; distinct_ids: string[] }>;
} {
  const rand = seeded(options.seed);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const events = Array.from({ length: options.count }, (_, i) => {
    const person = i % options.persons;
    const micros = String(Math.floor(rand() * 1000)).padStart(3, '0');
    return {
      uuid: `0190c${hex(3)}-${hex(4)}-7${hex(3)}-8${hex(3)}-${hex(12)}`, event: i % 5 === 0 ? '$autocapture' : '$pageview', distinct_id: `person-${person}`,
      properties: { $current_url: `https://app.example/${i % 7}`, $browser: 'Firefox', n: i, title: 'Übersicht ✓' }, person_id: `p-${String(person).padStart(3, '0')}`,
      timestamp: new Date(options.start.getTime() + Math.floor(rand() * options.days * 86_400_000)).toISOString().replace('Z', `${micros}Z`),
      ...(i % 5 === 0 ? { elements_chain: 'button.buy:text="Kaufen"' } : {}),
    };
  });
  const persons = Array.from({ length: options.persons }, (_, i) => ({
    id: `p-${String(i).padStart(3, '0')}`, properties: { email: `p${i}@example.com`, plan: i % 2 ? 'pro' : 'free' },
    distinct_ids: i % 4 === 0 ? [`person-${i}`, `anon-${i}`] : [`person-${i}`],
  }));
  return { events, persons };
}

/** Segment messages as Segment's S3/GCS logs hold them: every type, anonymous then identified users, UTM context. */
export function segmentMessages(options: { seed: number; count: number; start: Date }): Array<Record<string, unknown>> {
  const rand = seeded(options.seed);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const types = ['track', 'track', 'track', 'page', 'page', 'screen', 'identify', 'group', 'alias'];
  return Array.from({ length: options.count }, (_, i) => {
    const type = types[Math.floor(rand() * types.length)]!;
    const n = Math.floor(rand() * 20);
    const known = n % 2 === 0 || type === 'identify' || type === 'alias';
    const t = new Date(options.start.getTime() + i * 37_000).toISOString();
    const m: Record<string, unknown> = {
      type, messageId: i % 3 === 0 ? `ajs-${hex(24)}` : `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`,
      anonymousId: `anon-${n}`, ...(known ? { userId: `user-${n}` } : {}),
      timestamp: t, originalTimestamp: t, sentAt: t, receivedAt: t,
      context: { ip: `198.51.100.${n}`, page: { url: `https://shop.example/${n}`, path: `/${n}`, referrer: 'https://www.google.com/' }, library: { name: 'analytics.js', version: '2.11.1' },
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36', campaign: { source: 'newsletter', medium: 'email', name: 'spring' } },
    };
    if (type === 'track') Object.assign(m, { event: rand() < 0.5 ? 'Order Completed' : 'Produkt angesehen ✓', properties: { revenue: Math.round(rand() * 100) } });
    if (type === 'page') Object.assign(m, { name: 'Home', properties: { title: 'Home', url: `https://shop.example/${n}` } });
    if (type === 'screen') Object.assign(m, { name: 'Settings' });
    if (type === 'identify') Object.assign(m, { traits: { email: `user${n}@example.com`, plan: 'pro' } });
    if (type === 'group') Object.assign(m, { groupId: `org-${n % 3}`, traits: { name: `Org ${n % 3}` } });
    if (type === 'alias') Object.assign(m, { previousId: `anon-${n}` });
    return m;
  });
}
