#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=100
// Memory over a little speed: hogport allocates short-lived records at a high rate, and V8's
// defaults (16 MB semi-spaces, an old generation that grows up to 4x before it is collected) keep
// garbage around. Here a 1M-event run peaks near 210 MB instead of 270 MB, for about 15% more CPU
// (BENCHMARKS.md). Run `node packages/cli/bin/hogport.js …` to use Node's defaults instead.
import '../dist/main.js';
