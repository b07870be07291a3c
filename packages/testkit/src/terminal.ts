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
 * Runs `hogport ...args` on a pseudo-terminal of `cols` columns (through util-linux `script`), as a
 * user at a terminal runs it: stderr is a TTY, so the progress bars show.
 */
export function runCliOnTerminal(args: string[], options: { env?: Record<string, string>; cols?: number } = {}): Promise<TerminalRun> {
  const command = ['node', HOGPORT_BIN, ...args].map(shellWord).join(' ');
  const child = spawn('script', ['-qfec', `stty cols ${options.cols ?? 160} rows 50; exec ${command}`, '/dev/null'], {
    env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
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
