// Loaded with `node --import` into a benchmarked process: records its peak RSS when it exits.
import { writeFileSync } from 'node:fs';

const file = process.env.HOGPORT_BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS * 1024)));
