// Sends a hogport store's transformed events through the official posthog-node SDK, the way a
// hand-written migration script would: stream each events file, capture every event with its uuid
// and timestamp, historicalMigration on, the SDK's own batching. `flush()` every few batches keeps
// its queue from overflowing (the SDK drops events past maxQueueSize).
//
//   node scripts/bench/posthog-node-load.mjs <store dir> <migration> <host> <flushAt> <maxBatchSize>
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { PostHog } from 'posthog-node';

const [storeDir, migration, host, flushAt = '20', maxBatchSize = '100'] = process.argv.slice(2);
const client = new PostHog(process.env.POSTHOG_PROJECT_API_KEY, {
  host, historicalMigration: true, flushAt: Number(flushAt), maxBatchSize: Number(maxBatchSize), flushInterval: 0, disableGeoip: true,
});
const manifests = path.join(storeDir, migration, 'manifests', 'transform');
let sent = 0;
for (const name of (await readdir(manifests)).sort()) {
  const manifest = JSON.parse(await readFile(path.join(manifests, name), 'utf8'));
  const events = manifest.outputs.find((o) => o.role === 'events');
  const lines = createInterface({ input: createReadStream(path.join(storeDir, events.key)).pipe(createGunzip()), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) continue;
    const e = JSON.parse(line);
    client.capture({ distinctId: String(e.distinct_id), event: e.event, properties: e.properties, timestamp: new Date(e.timestamp), uuid: e.uuid });
    if (++sent % (Number(maxBatchSize) * 10) === 0) await client.flush();
  }
}
await client.shutdown(120_000);
process.stdout.write(`${JSON.stringify({ sent })}\n`);
