#!/usr/bin/env node
// Writes the demo export in pipelines/demo/export/: PostHog-format JSON lines, some gzip (one of them
// named .jsonl though it is gzip, as real exports do), with a few bad records that transform rejects.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { gzipText, jsonLines, posthogEvents } from '@hogport/testkit';

const dir = new URL('../pipelines/demo/export/', import.meta.url);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const bad = [
  '{"event":"no distinct id","timestamp":"2024-01-01T00:00:00Z","properties":{}}',
  '{"event":"broken json", "distinct_id": ',
  '{"event":"","distinct_id":"u1","timestamp":"2024-01-01T00:00:00Z"}',
  '{"event":"bad time","distinct_id":"u1","timestamp":"2024-02-30T10:00:00Z"}',
];
const days = ['2024-01-01', '2024-01-02', '2024-01-03', '2024-01-04', '2024-01-05', '2024-01-06'];
days.forEach((day, i) => {
  const text = jsonLines(posthogEvents({ seed: 100 + i, count: 400, start: new Date(`${day}T00:00:00Z`) }), i % 2 === 0 ? bad.slice(0, 2 + (i % 3)) : []);
  if (i === 1) writeFileSync(new URL(`events-${day}.jsonl`, dir), gzipText(text));
  else if (i % 2 === 0) writeFileSync(new URL(`events-${day}.jsonl.gz`, dir), gzipText(text));
  else writeFileSync(new URL(`events-${day}.jsonl`, dir), text);
});
console.log(`wrote ${days.length} files to ${dir.pathname}`);
