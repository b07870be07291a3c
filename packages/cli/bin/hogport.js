#!/usr/bin/env -S node --max-semi-space-size=4
// A small young generation: hogport allocates short-lived records at a high rate, and V8's default
// nursery (16 MB semi-spaces) only raises peak memory, at no gain in speed (see BENCHMARKS.md).
import '../dist/main.js';
