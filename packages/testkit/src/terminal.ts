import { spawn, spawnSync } from 'node:child_process';
import xterm from '@xterm/headless';
import { HOGPORT_BIN } from './cli-runner.js';

/** Whether util-linux `script` is here to give the CLI a pseudo-terminal. */
export function canRunOnTerminal(): boolean {
  return spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface TerminalRun {
  code: number | null;
  /** Everything the terminal received, escape sequences and all. */
  output: string;
}

/**
 * Starts `hogport ...args` on a pseudo-terminal of `cols` columns (through util-linux `script`), as a
 * user at a terminal runs it: stderr is a TTY, so the progress bars show. `pid` is hogport's own
 * process, for a test that signals it mid-run; `output()` what the terminal received so far.
 */
export function startCliOnTerminal(args: string[], options: { env?: Record<string, string>; cols?: number } = {}): { pid: Promise<number>; output(): string; done: Promise<TerminalRun> } {
  const command = ['node', HOGPORT_BIN, ...args].map(shellWord).join(' ');
  // The shell prints its pid, which `exec` hands to hogport, before anything else.
  const child = spawn('script', ['-qfec', `stty cols ${options.cols ?? 160} rows 50; echo "pid=$$"; exec ${command}`, '/dev/null'], {
    env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let announced: (pid: number) => void = () => undefined;
  const pid = new Promise<number>((resolve) => { announced = resolve; });
  const take = (d: Buffer) => {
    output += d.toString();
    const m = /pid=(\d+)\r?\n/.exec(output);
    if (m) announced(Number(m[1]));
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const done = new Promise<TerminalRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output: output.replace(/^pid=\d+\r?\n/, '') }));
  });
  return { pid, output: () => output, done };
}

/** `startCliOnTerminal` to the end. */
export function runCliOnTerminal(args: string[], options: { env?: Record<string, string>; cols?: number } = {}): Promise<TerminalRun> {
  return startCliOnTerminal(args, options).done;
}

/**
 * What a terminal of `cols` columns shows after receiving `output`, scrollback included: one string
 * per line as the user reads it, a long line wrapped by the terminal joined back into one.
 */
export async function screenLines(output: string, cols = 160): Promise<string[]> {
  const term = new xterm.Terminal({ cols, rows: 50, scrollback: 100_000, allowProposedApi: true });
  await new Promise<void>((resolve) => term.write(output, resolve));
  const buffer = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buffer.length; i++) {
    const line = buffer.getLine(i)!;
    const text = line.translateToString(true);
    if (line.isWrapped && lines.length > 0) lines[lines.length - 1] += text;
    else lines.push(text);
  }
  term.dispose();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
