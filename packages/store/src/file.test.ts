import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { openStore } from './open.js';
import { storeContract } from './store.contract.js';

let dir: string;
storeContract('file', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hogport-store-'));
  return openStore(dir);
}, async () => { await rm(dir, { recursive: true, force: true }); });
