#!/usr/bin/env node
// Every benchmark in one run, printed as the Markdown that BENCHMARKS.md keeps:
//   1. end to end: 1M records as files → store → PostHog stand-in, at two chunk sizes, then each
//      stage alone and the transform floor on the same files;
//   2. Amplitude transform with 1 and 2 threads against its floor (4 hourly chunks);
//   3. load against the official posthog-node SDK.
// Each part can be run alone: npm run bench:e2e, bench:transform, bench:load (see their headers).
//
//   npm run bench [-- --quick]     (--quick: a tenth of the records, to check the scripts)
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { root, say } from './bench/lib.mjs';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const q = values.quick ? 10 : 1;
const parts = [
  ['End to end and per stage', 'bench-e2e.mjs', ['--events', String(1_000_000 / q), '--chunks', '20,2']],
  ['Amplitude transform, threads against the floor', 'bench-transform.mjs', ['--records', String(200_000 / q), '--sizes', String(200_000 / q), '--chunks', '4', '--threads', '1,2']],
  ['Load against posthog-node', 'bench-load.mjs', ['--events', String(500_000 / q)]],
];

const report = [];
for (const [title, script, args] of parts) {
  say(`\n== ${title}: node scripts/${script} ${args.join(' ')}`);
  const child = spawn(process.execPath, [path.join(root, 'scripts', script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const code = await new Promise((resolve) => child.on('close', resolve));
  if (code !== 0) { say(`${script} failed (exit ${code})`); process.exit(1); }
  report.push(`## ${title}\n\n\`node scripts/${script} ${args.join(' ')}\`\n\n${out.trim()}\n`);
}
process.stdout.write(`\n${report.join('\n')}`);
