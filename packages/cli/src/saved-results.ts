import { describeError, readAll, redact } from '@hogport/common';
import type { ProfileJSON } from '@hogport/profile';
import type { VerifyReport } from '@hogport/verify';
import type { Context } from './context.js';

/** A result `verify` or `profile` keeps in the store for the report, with when it was taken. */
export interface Saved<T> {
  kind: 'hogport.verify' | 'hogport.profile';
  version: 1;
  takenAt: string;
  result: T;
}

export type SavedVerify = Saved<VerifyReport>;
export type SavedProfile = Saved<ProfileJSON>;

/**
 * Keeps the result under its layout key, replacing the last one. A store that refuses the write
 * costs the report this figure, not the command its result: it is logged and said.
 */
export async function saveResult(ctx: Context, kind: Saved<unknown>['kind'], result: unknown, say: (line: string) => void): Promise<void> {
  const key = kind === 'hogport.verify' ? ctx.layout.verifyResult() : ctx.layout.profileResult();
  const saved: Saved<unknown> = { kind, version: 1, takenAt: new Date().toISOString(), result };
  try {
    await ctx.store.write(key, redact(`${JSON.stringify(saved, null, 2)}\n`));
  } catch (err) {
    const { code, message } = describeError(err);
    ctx.log.warn({ key, error: { code, message: redact(message) } }, 'the result could not be kept in the store; hogport report will not show it');
    say(`hogport: warning: could not keep this result in the store for hogport report (${code}): ${redact(message)}`);
  }
}

/** The saved result of a kind; undefined when there is none, a note when it cannot be read. */
export async function readSaved<T>(ctx: Context, kind: Saved<unknown>['kind']): Promise<{ saved?: Saved<T>; note?: string }> {
  const key = kind === 'hogport.verify' ? ctx.layout.verifyResult() : ctx.layout.profileResult();
  if (!(await ctx.store.head(key))) return {};
  try {
    const value = JSON.parse((await readAll(await ctx.store.read(key))).toString('utf8')) as Saved<T>;
    if (value?.kind !== kind || value.version !== 1 || typeof value.takenAt !== 'string' || !value.result) throw new Error('not a saved result this hogport reads');
    return { saved: value };
  } catch (err) {
    return { note: `${key} could not be read (${describeError(err).message}): the report leaves it out` };
  }
}
