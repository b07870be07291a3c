#!/usr/bin/env node
// Runs every compiled test file (packages/*/dist/**/*.test.js) with Node's built-in test runner.
// Test files run in parallel processes; each starts the servers it needs on free 127.0.0.1 ports.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir, out) {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) find(full, out);
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = [];
for (const pkg of readdirSync('packages').sort()) {
  const dist = join('packages', pkg, 'dist');
  try { statSync(dist); } catch { continue; }
  for (const f of find(dist, []).sort()) if (filter.length === 0 || filter.some((x) => f.includes(x))) files.push(f);
}
if (files.length === 0) {
  console.error('no test files found: run "npm run build" first');
  process.exit(1);
}
const concurrency = process.env.HOGPORT_TEST_CONCURRENCY ?? '3';
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
