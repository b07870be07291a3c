import { randomBucket, startFakeGcs, type FakeGcs } from '@hogport/testkit';
import { openStore } from './open.js';
import { storeContract } from './store.contract.js';

let fake: FakeGcs;
storeContract('gcs (in-repo fake of the JSON API)', async () => {
  fake = await startFakeGcs();
  return openStore(`gs://${randomBucket()}/some/prefix?endpoint=${encodeURIComponent(fake.endpoint)}&project=test`);
}, async () => { await fake.close(); });
