// The merge alone, over a store the merge benchmark wrote: what `hogport merge` runs.
import { silentLogger } from '@hogport/common';
import { layout } from '@hogport/layout';
import { TransformSpec } from '@hogport/pipeline';
import { mergeIdentities } from '@hogport/runner';
import { openStore } from '@hogport/store';

const [dir, shards, ...chunks] = process.argv.slice(2);
const r = await mergeIdentities({ store: openStore(dir), layout: layout('bench-merge'), chunks, transform: TransformSpec.parse({}), worker: 'bench', log: silentLogger, shards: Number(shards) });
console.log(`identities chunks: ${r.identities.length}, persons chunks: ${r.persons.length}, waiting: ${r.waiting.length}`);
