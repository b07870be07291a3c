import { hasCode, sleep, type Logger } from '@hogport/common';
import { readJsonWithEtag, type Store } from '@hogport/store';
import { z } from 'zod';

/** At most `max` queries in any `windowMs`. */
export interface QuotaLimit {
  max: number;
  windowMs: number;
}

/**
 * The queries made of an API within its quota's longest window, one object in the store shared by
 * every process that queries the same project: each query is added with a conditional write, so two
 * processes never both take the last one, and a process started after a kill counts what the killed
 * one made.
 */
export const QuotaRecord = z.object({
  kind: z.literal('hogport.quota'),
  version: z.literal(1),
  source: z.string(),
  scope: z.string(),
  /** When each query in the longest window was let through, ms since the epoch, oldest first. */
  queries: z.array(z.number()).max(1_000_000),
});
export type QuotaRecord = z.infer<typeof QuotaRecord>;

export interface SharedQuotaOptions {
  store: Store;
  key: string;
  source: string;
  scope: string;
  limits: QuotaLimit[];
  log: Logger;
}

/** A quota held by every process together through the store: `take` resolves when one more query fits every limit. */
export class SharedQuota {
  private readonly longest: number;
  private told = 0;

  constructor(private readonly options: SharedQuotaOptions) {
    this.longest = Math.max(...options.limits.map((l) => l.windowMs));
  }

  async take(signal?: AbortSignal): Promise<void> {
    const { store, key, source, scope, limits, log } = this.options;
    for (;;) {
      signal?.throwIfAborted();
      const got = await readJsonWithEtag(store, key);
      const parsed = got ? QuotaRecord.safeParse(got.value) : undefined;
      // An unreadable record is replaced (said in the log): it held at most the quota's queries, within the hour.
      if (parsed && !parsed.success) log.warn({ key, store: store.url }, `the record of ${source} queries is not valid: it is replaced, counting none made before`);
      const now = Date.now();
      const queries = (parsed?.success ? parsed.data.queries : []).filter((t) => t > now - this.longest).sort((a, b) => a - b);
      let wait = 0;
      for (const { max, windowMs } of limits) {
        const inWindow = queries.filter((t) => t > now - windowMs);
        if (inWindow.length >= max) wait = Math.max(wait, inWindow[inWindow.length - max]! + windowMs - now + 1);
      }
      if (wait > 0) {
        if (wait > 5000 && now - this.told > 60_000) {
          this.told = now;
          log.info({ source, scope, waitSeconds: Math.ceil(wait / 1000), queries: queries.length }, `the ${source} query quota is used up by the queries made (by this and other processes) in its window: waiting for room`);
        }
        await sleep(wait, signal);
        continue;
      }
      const next: QuotaRecord = { kind: 'hogport.quota', version: 1, source, scope, queries: [...queries, now] };
      try {
        await store.writeIf(key, `${JSON.stringify(next)}\n`, got ? { ifMatch: got.info.etag } : { ifAbsent: true });
        return;
      } catch (err) {
        if (!hasCode(err, 'E_PRECONDITION')) throw err;
        // Another process took a query at the same moment: look again, a little later.
        await sleep(Math.random() * 50, signal);
      }
    }
  }
}
