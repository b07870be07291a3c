import { createHash, randomBytes } from 'node:crypto';
import { readlinkSync, type BigIntStats } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { HogportError } from '@hogport/common';
import { assertKey, notFound, preconditionFailed } from '../errors.js';
import { guardBody } from '../retry.js';
import type { Body, ListOptions, ObjectInfo, Store, WriteCondition } from '../types.js';

/** Temp files and locks live here, inside the root, so renames never cross a filesystem. */
const TMP_DIR = '.hogport-tmp';
/** Objects up to this size get a content-derived etag; larger ones one derived from their inode. */
const HASHED_ETAG_MAX = 64 * 1024;
/** A replace-if-unchanged holds its lock for milliseconds; an older lock was left by a dead process. */
const STALE_LOCK_MS = 10_000;
/**
 * A temp file untouched this long is garbage whoever made it: a live writer touches its file with
 * every write, and none waits hours between two. Temp files of dead processes on this host go sooner.
 */
const STALE_TEMP_MS = 6 * 3600_000;
/**
 * Tells temp files whose pid can be checked here from those of other hosts sharing the directory (a
 * network disk) or of containers on this host with pid namespaces of their own, where the same pid
 * names another process.
 */
const HOST_TAG = createHash('sha256').update(`${os.hostname()}\0${pidNamespace()}`).digest('hex').slice(0, 8);
/** `<pid>-<host tag>-<random>`; older versions wrote `<pid>-<random>`, judged by age alone. */
const TEMP_NAME = /^(\d+)-(?:([0-9a-f]{8})-)?[0-9a-f]{16}$/;

/**
 * A store on a local directory. Atomicity comes from writing a temp file and renaming it into place;
 * create-if-absent from `link`, which fails when the target exists; replace-if-unchanged from a
 * short lock around compare-and-rename.
 */
export class FileStore implements Store {
  readonly url: string;
  private swept: Promise<void> | undefined;
  private fsOffset: { ms: number; readAt: number } | undefined;

  constructor(private readonly root: string) {
    this.root = path.resolve(root);
    this.url = pathToFileURL(this.root).href;
  }

  private pathOf(key: string): string {
    assertKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  async read(key: string): Promise<Readable> {
    const file = this.pathOf(key);
    const handle = await fs.open(file, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'EISDIR') throw notFound(this.url, key, err);
      throw err;
    });
    return handle.createReadStream({ highWaterMark: 256 * 1024 });
  }

  async write(key: string, body: Body): Promise<ObjectInfo> {
    guardBody(body);
    const target = this.pathOf(key);
    const tmp = await this.writeTemp(body);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rename(tmp, target);
    return this.infoOf(key, target);
  }

  async writeIf(key: string, body: Uint8Array | string, condition: WriteCondition): Promise<ObjectInfo> {
    const target = this.pathOf(key);
    const tmp = await this.writeTemp(body);
    await fs.mkdir(path.dirname(target), { recursive: true });
    try {
      if ('ifAbsent' in condition) {
        await fs.link(tmp, target).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'EEXIST') throw preconditionFailed(this.url, key, err);
          throw err;
        });
        return await this.infoOf(key, target);
      }
      return await this.withLock(key, async () => {
        const current = await this.head(key);
        if (!current || current.etag !== condition.ifMatch) throw preconditionFailed(this.url, key);
        await fs.rename(tmp, target);
        return this.infoOf(key, target);
      });
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const file = this.pathOf(key);
    const stat = await fs.stat(file, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (!stat || !stat.isFile()) return undefined;
    return { key, size: Number(stat.size), etag: await this.etagOf(file, stat), modifiedAt: mtimeOf(stat) };
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    // Walk only the directory that contains the prefix; filter names by the rest of it.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash === -1 ? '' : prefix.slice(0, slash);
    const start = dirKey === '' ? this.root : this.pathOf(dirKey);
    const real = await fs.realpath(start).catch(() => start);
    for await (const info of this.walk(start, dirKey, prefix, [real])) {
      if (options.startAfter === undefined || info.key > options.startAfter) yield info;
    }
  }

  /**
   * Symbolic links are followed, to files and to directories alike (a source directory of links to
   * export files is a source directory), except a link back into a directory being walked, which
   * would loop forever. A link to nothing is an error naming it: skipping it would lose its data
   * without a word.
   */
  private async *walk(dir: string, dirKey: string, prefix: string, ancestors: string[]): AsyncIterable<ObjectInfo> {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
      throw err;
    });
    const typed: Array<{ name: string; kind: 'file' | 'dir' | 'other'; link: boolean }> = [];
    for (const e of entries) {
      if (dirKey === '' && e.name === TMP_DIR) continue;
      if (!e.isSymbolicLink()) {
        typed.push({ name: e.name, kind: e.isDirectory() ? 'dir' : e.isFile() ? 'file' : 'other', link: false });
        continue;
      }
      const key = dirKey === '' ? e.name : `${dirKey}/${e.name}`;
      if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`) && !`${key}/`.startsWith(prefix)) continue;
      const target = await fs.stat(path.join(dir, e.name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ELOOP') return undefined;
        throw err;
      });
      if (!target) {
        const to = await fs.readlink(path.join(dir, e.name)).catch(() => '?');
        throw new HogportError('E_DANGLING_LINK', `${path.join(dir, e.name)} is a symbolic link to ${to}, which does not exist: restore what it points to, or remove the link`, { details: { key, target: to } });
      }
      typed.push({ name: e.name, kind: target.isDirectory() ? 'dir' : target.isFile() ? 'file' : 'other', link: true });
    }
    // Sorting by key, with directories as "name/", keeps the listing in the same order as S3's.
    const named = typed
      .map((e) => ({ entry: e, sortKey: e.kind === 'dir' ? `${e.name}/` : e.name }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const { entry } of named) {
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.kind === 'dir') {
        if (!(`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`))) continue;
        const full = path.join(dir, entry.name);
        const real = entry.link ? await fs.realpath(full) : path.join(ancestors[ancestors.length - 1]!, entry.name);
        // A link to a directory that holds one being walked leads back into it; its files are listed already.
        if (entry.link && ancestors.some((a) => a === real || a.startsWith(`${real}${path.sep}`))) continue;
        yield* this.walk(full, key, prefix, [...ancestors, real]);
      } else if (entry.kind === 'file' && key.startsWith(prefix)) {
        const info = await this.head(key);
        if (info) yield info;
      }
    }
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.pathOf(key), { force: true });
  }

  /**
   * The filesystem's clock, as the mtime of a file written now: on a network disk that is the file
   * server's, the clock every machine sharing the directory sees on the objects it writes.
   */
  async now(): Promise<number> {
    const dir = path.join(this.root, TMP_DIR);
    await fs.mkdir(dir, { recursive: true });
    const tmp = path.join(dir, `${process.pid}-${HOST_TAG}-${randomBytes(8).toString('hex')}`);
    await (await fs.open(tmp, 'wx')).close();
    try {
      return mtimeOf(await fs.stat(tmp, { bigint: true }));
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  /**
   * The filesystem's time now, as this machine's clock plus the difference last read (again after a
   * minute): the ages of locks and temp files are told on the clock that stamped them, so a machine
   * whose clock is off neither breaks a live lock nor waits out a dead one.
   */
  private async fsTime(): Promise<number> {
    const now = performance.now();
    if (!this.fsOffset || now - this.fsOffset.readAt > 60_000) {
      const before = Date.now();
      const fsNow = await this.now();
      this.fsOffset = { ms: fsNow - (before + Date.now()) / 2, readAt: now };
    }
    return Date.now() + this.fsOffset.ms;
  }

  async close(): Promise<void> {}

  private async writeTemp(body: Body): Promise<string> {
    guardBody(body);
    const dir = path.join(this.root, TMP_DIR);
    await fs.mkdir(dir, { recursive: true });
    await (this.swept ??= this.sweep(dir));
    const tmp = path.join(dir, `${process.pid}-${HOST_TAG}-${randomBytes(8).toString('hex')}`);
    const handle = await fs.open(tmp, 'wx');
    try {
      if (typeof body === 'string' || body instanceof Uint8Array) {
        await handle.writeFile(body);
      } else {
        for await (const chunk of body) await handle.write(chunk as Buffer);
      }
      await handle.sync();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await handle.close();
    return tmp;
  }

  /**
   * Removes what killed processes left in the temp directory: temp files of processes on this host
   * that no longer exist, anything untouched for hours, and lock directories long past their use.
   * Never a live writer's file: this process's own are kept, and so are those of live processes.
   */
  private async sweep(dir: string): Promise<void> {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    if (names.length === 0) return;
    const now = await this.fsTime();
    for (const name of names) {
      const full = path.join(dir, name);
      const stat = await fs.lstat(full).catch(() => undefined);
      if (!stat) continue;
      const age = now - stat.mtimeMs;
      if (name.startsWith('lock-')) {
        if (age > 6 * STALE_LOCK_MS) await fs.rm(full, { recursive: true, force: true }).catch(() => undefined);
        continue;
      }
      const m = TEMP_NAME.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      const deadHere = m[2] === HOST_TAG && pid !== process.pid && !processAlive(pid);
      if (deadHere || (age > STALE_TEMP_MS && pid !== process.pid)) await fs.rm(full, { force: true }).catch(() => undefined);
    }
  }

  private async infoOf(key: string, file: string): Promise<ObjectInfo> {
    const stat = await fs.stat(file, { bigint: true });
    return { key, size: Number(stat.size), etag: await this.etagOf(file, stat), modifiedAt: mtimeOf(stat) };
  }

  private async etagOf(file: string, stat: BigIntStats): Promise<string> {
    if (Number(stat.size) <= HASHED_ETAG_MAX) {
      // Small objects are the coordination objects (claims, manifests): a content hash cannot be
      // fooled by inode reuse within the filesystem's timestamp granularity.
      const data = await fs.readFile(file).catch(() => undefined);
      if (data) return `c${createHash('sha256').update(data).digest('hex').slice(0, 32)}`;
    }
    return `s${stat.ino.toString(16)}-${stat.mtimeNs.toString(16)}-${stat.size.toString(16)}`;
  }

  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const lock = path.join(this.root, TMP_DIR, `lock-${createHash('sha256').update(key).digest('hex').slice(0, 24)}`);
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await fs.mkdir(lock);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const stat = await fs.stat(lock).catch(() => undefined);
        if (stat && (await this.fsTime()) - stat.mtimeMs > STALE_LOCK_MS) {
          await fs.rm(lock, { recursive: true, force: true });
          continue;
        }
        if (Date.now() > deadline) throw new HogportError('E_LOCK_TIMEOUT', `could not lock ${key} in ${this.url} within 30 s`);
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      }
    }
    try {
      return await fn();
    } finally {
      await fs.rm(lock, { recursive: true, force: true });
    }
  }
}

function mtimeOf(stat: BigIntStats): number {
  return Number(stat.mtimeNs / 1_000_000n);
}

function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
