// The floor a transform is measured against: the same files read the same way (gunzip, split
// lines, JSON.parse), written back (JSON.stringify, gzip), with no mapping at all.
//
//   node scripts/bench/transform-floor.mjs <out file> <input files...>
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { gunzipIfGzipped, splitLines } from '../../packages/common/dist/index.js';

const [out, ...inputs] = process.argv.slice(2);
const gzip = createGzip({ level: 6, writableHighWaterMark: 1024 * 1024 });
const done = once(gzip.pipe(createWriteStream(out)), 'finish');
let records = 0;
for (const file of inputs) {
  for await (const { line } of splitLines(await gunzipIfGzipped(createReadStream(file)))) {
    if (!line) continue;
    if (!gzip.write(`${JSON.stringify(JSON.parse(line))}\n`)) await once(gzip, 'drain');
    records += 1;
  }
}
gzip.end();
await done;
process.stdout.write(`${JSON.stringify({ records })}\n`);
