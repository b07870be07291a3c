/**
 * Secrets are read from the environment only. Every value read through `readSecret` is remembered so
 * that `redact` can scrub it from anything hogport writes (logs, failure records, error messages),
 * even when a library echoes it back inside an unrelated message.
 */
const known = new Set<string>();

export function readSecret(envName: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[envName];
  if (value === undefined || value === '') return undefined;
  rememberSecret(value);
  return value;
}

export function rememberSecret(value: string): void {
  // Very short values would redact ordinary words; a real key is never this short.
  if (value.length >= 6) known.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of known) {
    if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  }
  return out;
}
