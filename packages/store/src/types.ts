import type { Readable } from 'node:stream';

/** What a store knows about one object. `etag` changes whenever the object is replaced. */
export interface ObjectInfo {
  /** The key relative to the store's root prefix. */
  key: string;
  size: number;
  /** S3 ETag, GCS generation, or the file driver's content/stat tag: opaque, compare for equality only. */
  etag: string;
  /**
   * When this version was written, in ms since the epoch by the store's own clock (S3's Last-Modified
   * or the Date of the write's answer, GCS's updated time, the file's mtime): how leases are judged
   * without trusting the clocks of the machines that wrote them. Absent only from stores that cannot tell.
   */
  modifiedAt?: number;
}

/** A write that happens only if the object is absent, or only if it is still the version we read. */
export type WriteCondition = { ifAbsent: true } | { ifMatch: string };

export type Body = Readable | Uint8Array | string;

export interface ListOptions {
  pageSize?: number;
  startAfter?: string;
}

/**
 * The one interface every store driver implements. Keys are relative to the store's root and use `/`.
 * A reader never sees a half-written object: writes become visible whole or not at all.
 */
export interface Store {
  /** The store's URI (credentials never appear in it), for messages. */
  readonly url: string;
  /** Opens an object for streaming. Fails with code `E_NOT_FOUND` when it does not exist. */
  read(key: string): Promise<Readable>;
  /** Writes an object atomically from a stream or bytes, replacing any previous version. */
  write(key: string, body: Body): Promise<ObjectInfo>;
  /**
   * Writes a small object only if the condition holds: create-if-absent or replace-if-unchanged.
   * Fails with code `E_PRECONDITION` when it does not. This is the only coordination primitive
   * hogport needs: claims, leases and manifest commits are built on it.
   */
  writeIf(key: string, body: Uint8Array | string, condition: WriteCondition): Promise<ObjectInfo>;
  /** The object's size and etag, or undefined when it does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /**
   * Every object whose key starts with `prefix`, in key order, fetched page by page; with
   * `startAfter`, only the keys after it (how a listing cut by a fault resumes).
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  /** Deletes an object; deleting an absent object is not an error. */
  delete(key: string): Promise<void>;
  /**
   * The store's time now, in ms since the epoch by its own clock (the one `modifiedAt` is on), as
   * told by one cheap request: what a machine measures its own clock's skew against.
   */
  now(): Promise<number>;
  /** Releases connections; the store must not be used afterwards. */
  close(): Promise<void>;
}

/**
 * What a driver whose reads travel over a network adds, so that a read cut short can go on from where
 * it broke instead of failing: an object opened at a byte offset, pinned to the version first read.
 */
export interface ResumableReads {
  /**
   * Opens `key` from byte `offset`, only as the version `etag` when given (`E_STORE_CHANGED` when it
   * was replaced since). `info` is the whole object's.
   */
  openAt(key: string, offset: number, etag?: string): Promise<{ body: Readable; info: ObjectInfo }>;
}
