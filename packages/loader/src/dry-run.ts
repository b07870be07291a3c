import { sha256 } from '@hogport/common';
import type { Store } from '@hogport/store';
import { gzipBatchBody, type Batch, type Destination, type SendReport } from './destination.js';

/**
 * The dry-run destination: writes each request body it would send, gzip-compressed exactly as it
 * would go on the wire, to the store's outbox. Events pass the same checks before they get here as
 * for PostHog. The project key is never written: it is replaced by a placeholder, so an outbox can
 * be shared for review.
 */
export class DryRunDestination implements Destination {
  readonly name = 'dry-run';
  constructor(private readonly store: Store, private readonly keyOf: (batch: Batch) => string, private readonly options: { historicalMigration?: boolean } = {}) {}

  async send(batch: Batch): Promise<SendReport> {
    const body = await gzipBatchBody('[redacted]', batch.events, { historicalMigration: this.options.historicalMigration !== false });
    const key = this.keyOf(batch);
    await this.store.write(key, body);
    return { requests: 1, retries: 0, written: { key, bytes: body.length, sha256: sha256(body) } };
  }

  async close(): Promise<void> {}
}
