#!/usr/bin/env node
// Drawing a sample (`hogport load --sample`): the persons' clusters found on local disk over N
// generated persons of four ids each, at a few percents. Time and peak RSS of the draw's process.
//
//   npm run bench:sample -- [--persons 100000,1000000,5000000] [--percents 1,10]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { hogportFlags, int, mb, root, say, table, timed } from './bench/lib.mjs';

const { values } = parseArgs({ options: { persons: { type: 'string', default: '100000,1000000,5000000' }, percents: { type: 'string', default: '1,10' } } });
const rows = [['persons', 'linked ids', 'percent', 'rounds', 'clusters drawn', 'ids held', 'seconds', 'peak RSS MB']];
for (const persons of values.persons.split(',').map(Number)) {
  for (const percent of values.percents.split(',').map(Number)) {
    const dir = await mkdtemp(path.join(tmpdir(), 'hogport-bench-sample-'));
    try {
      // The bin's node flags, so memory is what a sampled load would see.
      const run = await timed([...hogportFlags, path.join(root, 'scripts/bench/sample-child.mjs'), String(persons), String(percent)], { ...process.env, TMPDIR: dir });
      const r = JSON.parse(run.out);
      rows.push([int(persons), int(r.linkedIds.total), `${percent}%`, r.rounds, int(r.clusters.sampled), int(r.held), run.seconds.toFixed(0), mb(run.rss)]);
      say(rows.at(-1).join(' | '));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
console.log(table(rows));
