import { HogportError } from '@hogport/common';

export function notFound(store: string, key: string, cause?: unknown): HogportError {
  return new HogportError('E_NOT_FOUND', `${key} does not exist in ${store}`, { cause });
}

export function preconditionFailed(store: string, key: string, cause?: unknown): HogportError {
  return new HogportError('E_PRECONDITION', `${key} in ${store} was created or changed by someone else`, { cause });
}

export function changedWhileRead(store: string, key: string, cause?: unknown): HogportError {
  return new HogportError('E_STORE_CHANGED', `${key} in ${store} was replaced while it was being read: run again to read the new version`, { cause });
}

export function assertKey(key: string): void {
  if (key === '' || key.startsWith('/') || key.split('/').some((part) => part === '..' || part === '.')) {
    throw new HogportError('E_BAD_KEY', `"${key}" is not a valid store key: use a relative path without "." or ".." parts`);
  }
}

/** Joins a root prefix and a key with exactly one `/`. */
export function joinKey(prefix: string, key: string): string {
  if (prefix === '') return key;
  return prefix.endsWith('/') ? prefix + key : `${prefix}/${key}`;
}
