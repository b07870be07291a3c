import { randomBucket, startMoto, type Moto } from '@hogport/testkit';
import { openStore } from './open.js';
import { storeContract } from './store.contract.js';

let moto: Moto;
storeContract('s3 (moto_server)', async () => {
  moto = await startMoto();
  return openStore(await moto.bucket(randomBucket(), 'some/prefix'));
}, async () => { await moto.stop(); });
