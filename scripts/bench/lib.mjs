// What every benchmark script shares: timing a process with its peak RSS, the PostHog stand-in in
// a process of its own, and plain-text tables.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const root = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
export const hogport = path.join(root, 'packages/cli/bin/hogport.js');
export const say = (s) => process.stderr.write(`${s}\n`);
/** The node flags hogport's bin runs with (its shebang line), so a benchmark runs it as users do. */
export const hogportFlags = readFileSync(hogport, 'utf8').split('\n')[0].split(/\s+/).filter((a) => a.startsWith('--'));

/** Runs `node args…` to its end; resolves with seconds taken, peak RSS (bytes) and stdout. */
export async function timed(args, env = process.env) {
  const rssFile = path.join(tmpdir(), `hogport-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const started = process.hrtime.bigint();
  const flags = args[0] === hogport ? hogportFlags : [];
  const child = spawn(process.execPath, [...flags, '--import', path.join(root, 'scripts/bench/rss.mjs'), ...args], {
    env: { ...env, HOGPORT_BENCH_RSS_FILE: rssFile }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => child.on('close', resolve));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`${args.join(' ')} exited ${code}:\n${err.slice(-2000)}`);
  const rss = Number(await readFile(rssFile, 'utf8'));
  await rm(rssFile, { force: true });
  return { seconds, rss, out, err };
}

/** The PostHog stand-in in its own process, counting only, so no client pays for it. */
export async function standIn(token, { timeline = false } = {}) {
  const child = spawn(process.execPath, [path.join(root, 'scripts/posthog-stand-in.mjs'), '--token', token, '--count-only', ...(timeline ? ['--timeline'] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await replies.next()).value);
  const { url } = await next();
  return {
    url,
    /** {events, uuids, requests} received since the last reset. */
    stats: async () => { child.stdin.write('stats\n'); return next(); },
    reset: async () => { child.stdin.write('reset\n'); return next(); },
    /** Every capture request answered 429 with this Retry-After (seconds) until calm(). */
    storm: async (retryAfterSeconds) => { child.stdin.write(`storm ${retryAfterSeconds}\n`); return next(); },
    calm: async () => { child.stdin.write('calm\n'); return next(); },
    /** [ms since the epoch, events] of every accepted request (with { timeline: true }). */
    timeline: async () => { child.stdin.write('timeline\n'); return next(); },
    stop: () => child.stdin.end(),
  };
}

export const mb = (bytes) => (bytes / 1048576).toFixed(0);
export const int = (n) => Math.round(n).toLocaleString('en-US');

/** Rows (the first is the header) as a Markdown table. */
export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((v, i) => (i === 0 ? String(v).padEnd(widths[i]) : String(v).padStart(widths[i]))).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
