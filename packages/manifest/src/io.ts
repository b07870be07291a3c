import { HogportError } from '@hogport/common';
import { readJsonWithEtag, type ObjectInfo, type Store } from '@hogport/store';
import type { z } from 'zod';

/**
 * Reads and validates a control object (manifest, claim, failure). A file that does not validate
 * is an error with the key in its message, never a silently ignored object.
 */
export async function readControl<S extends z.ZodTypeAny>(store: Store, key: string, schema: S): Promise<{ value: z.infer<S>; info: ObjectInfo } | undefined> {
  let got;
  try {
    got = await readJsonWithEtag(store, key);
  } catch (err) {
    if (err instanceof SyntaxError) throw new HogportError('E_CORRUPT_CONTROL', `${key} in ${store.url} is not valid JSON: ${err.message}`);
    throw err;
  }
  if (!got) return undefined;
  const parsed = schema.safeParse(got.value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new HogportError('E_CORRUPT_CONTROL', `${key} in ${store.url} is not a valid ${schema.description ?? 'control object'}: ${problems}`);
  }
  return { value: parsed.data, info: got.info };
}

/** Serialises a control object after validating it, so an invalid one is never written. */
export function encodeControl<S extends z.ZodTypeAny>(schema: S, value: z.input<S>): string {
  return `${JSON.stringify(schema.parse(value), null, 2)}\n`;
}
