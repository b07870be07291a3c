/**
 * Every line hogport shows the user on stderr goes through here: straight to stderr, or, while the
 * progress bars show, above them, so that no message lands in the middle of a bar's line.
 */
let above: ((text: string) => void) | undefined;

/** Writes text (whole lines, each ending in a newline) for the user to read. */
export function writeStderr(text: string): void {
  if (above) above(text);
  else process.stderr.write(text);
}

/** Sends what `writeStderr` is given to `to` until the returned function is called. */
export function divertStderr(to: (text: string) => void): () => void {
  above = to;
  return () => { if (above === to) above = undefined; };
}

/** The channel transform threads send their log lines to while the bars show, to go above them. */
export function threadLogChannel(): string {
  return `hogport-log-${process.pid}`;
}
