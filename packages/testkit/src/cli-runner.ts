import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built hogport CLI, as a user or a deployment runs it. */
export const HOGPORT_BIN = fileURLToPath(new URL('../../cli/bin/hogport.js', import.meta.url));

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Starts `hogport ...args`; the child and its output are returned for tests that act on it mid-run. */
export function startCli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [HOGPORT_BIN, ...args], {
    cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<CliResult>((resolve, reject) => child.on('close', (code, signal) => {
    const crash = crashIn(`${stderr}\n${stdout}`);
    if (crash) reject(new Error(`hogport ${args.join(' ')} printed ${crash}; whatever the input, hogport handles its errors:\n${stderr.slice(-4000)}`));
    else resolve({ code, signal, stdout, stderr });
  }));
  return { child, done };
}

/**
 * What in a process's output shows an error hogport did not handle: Node's report of an unheard
 * 'error' event or an unhandled rejection, or a stack trace. Every test that runs the CLI fails on
 * it, so a crash never passes for an ordinary non-zero exit.
 */
export function crashIn(output: string): string | undefined {
  if (/Unhandled 'error' event/.test(output)) return "an unhandled 'error' event";
  if (/UnhandledPromiseRejection|unhandled promise rejection/i.test(output)) return 'an unhandled rejection';
  if (/^\s+at .+:\d+:\d+\)?$/m.test(output) || /^Node\.js v\d+/m.test(output)) return 'a stack trace';
  return undefined;
}

export async function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  return startCli(args, options).done;
}

/** Parses the JSON log lines of a run's stderr. */
export function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}
