import {
  constants,
  promises as fs,
  lstat as lstatCallback,
  statSync,
  type BigIntStats,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { ManagementError } from '../../errors';
import { errCode, StoreError } from '../errors';
import {
  isTokenFileName,
  JSON_SUFFIX,
  tokenFileName,
  type TokenFile,
  type TokenFileInfo,
  type TokenStore,
} from '../tokens';
import { atomicWrite, cleanupTempFilesIn } from './atomic-write';

/** How many `lstat`s a listing keeps in flight at once. */
const LIST_CONCURRENCY = 64;

/**
 * `lstat`, `undefined` when the entry is missing, else `READ_FAILED`. On the callback API,
 * which costs about half of `fs.promises.lstat` per call (no `FileHandle` machinery); a listing
 * makes one call per file. `bigint`: times in nanoseconds (the identity `readAll` caches under).
 */
function lstatOrUndefined(file: string): Promise<Stats | undefined>;
function lstatOrUndefined(file: string, bigint: true): Promise<BigIntStats | undefined>;
function lstatOrUndefined(file: string, bigint = false): Promise<Stats | BigIntStats | undefined> {
  return new Promise((resolve, reject) => {
    lstatCallback(file, { bigint }, (err, st) => {
      if (!err) return resolve(st);
      const code = errCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return resolve(undefined);
      reject(new StoreError('READ_FAILED', code));
    });
  });
}

/**
 * A file whose last change (ctime) is younger than this is read again by every `readAll`: a
 * file system stamps times at a coarse tick, so a change made in the same tick as our read could
 * leave every field of the `lstat` identity as it was. Older files are cached: any later change
 * gets a newer ctime.
 */
const SETTLED_MS = 2000;

/**
 * The file engine's token store: a local folder. A missing folder is created (0700, parents
 * too) by the first write; until then the list is empty. Symlinks and other non-regular entries
 * are never listed, read, replaced or removed. Writes are atomic (temp file, fsync, rename).
 */
export class FolderTokenStore implements TokenStore {
  /**
   * Serialises `update`s and removals of one name in this process: a read-modify-write must not
   * interleave with another, nor with a removal (its rename would bring a deleted file back).
   */
  private readonly updating = new Map<string, Promise<unknown>>();
  /**
   * What `readAll` read, by name, with the `lstat` identity (device, inode, size, mtime and ctime
   * in nanoseconds) it was read under: a listing then costs one `lstat` per unchanged file
   * instead of an open, a read and a close. Only settled files are kept (see `SETTLED_MS`).
   */
  private readonly readCache = new Map<string, { readonly id: string; readonly file: TokenFile }>();

  /**
   * @throws {ManagementError} `ERR_INVALID_OPTION` at once when `dir` exists but is not a
   *   readable folder (a fatal misconfiguration, reported before the first request).
   */
  constructor(readonly dir: string) {
    let st: Stats | undefined;
    try {
      st = statSync(dir);
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOTDIR')
        throw new ManagementError('ERR_INVALID_OPTION', `authDir is not a folder: ${dir}`);
      if (code !== 'ENOENT')
        throw new ManagementError('ERR_INVALID_OPTION', `authDir cannot be read: ${dir} (${code})`);
    }
    if (st && !st.isDirectory())
      throw new ManagementError('ERR_INVALID_OPTION', `authDir is not a folder: ${dir}`);
    // Temp files of writes that a crash interrupted (hidden, 0600, never listed): remove them.
    void cleanupTempFilesIn(dir).catch(() => undefined);
  }

  async list(): Promise<TokenFileInfo[]> {
    const names = (await this.jsonFiles()).filter(isTokenFileName);
    const files: TokenFileInfo[] = [];
    // lstat in slices of LIST_CONCURRENCY at once: one at a time, each waits for a round trip
    // to the thread pool (10,000 files took 0.3 s); all at once would queue 10,000 requests
    // ahead of every other request's file-system work.
    for (let i = 0; i < names.length; i += LIST_CONCURRENCY) {
      const slice = names.slice(i, i + LIST_CONCURRENCY);
      const stats = await Promise.all(
        slice.map((name) => lstatOrUndefined(path.join(this.dir, name))),
      );
      slice.forEach((name, k) => {
        const st = stats[k];
        if (st?.isFile()) files.push({ name, size: st.size, modtime: st.mtime });
      });
    }
    return files;
  }

  async read(name: string): Promise<TokenFile | undefined> {
    const file = this.pathOf(name);
    const opened = await this.openRegular(file);
    if (!opened) return undefined;
    const { handle, st } = opened;
    try {
      // At most the bytes fstat saw, so the size holds even if the file grows meanwhile.
      const data = Buffer.alloc(st.size);
      let off = 0;
      while (off < st.size) {
        const { bytesRead } = await handle.read(data, off, st.size - off, off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return {
        name,
        size: off,
        modtime: st.mtime,
        data: off === st.size ? data : data.subarray(0, off),
      };
    } catch (err) {
      throw new StoreError('READ_FAILED', errCode(err));
    } finally {
      await handle.close();
    }
  }

  async readAll(): Promise<TokenFile[]> {
    // Only names the one rule accepts: a file no route could name (made by hand) is not listed.
    const names = (await this.jsonFiles()).filter(isTokenFileName);
    const files: TokenFile[] = [];
    const settledBefore = BigInt(Date.now() - SETTLED_MS) * 1_000_000n;
    // Same slicing as list(): a bounded number of file operations in flight.
    for (let i = 0; i < names.length; i += LIST_CONCURRENCY) {
      const read = await Promise.all(
        names.slice(i, i + LIST_CONCURRENCY).map((name) => this.readCached(name, settledBefore)),
      );
      for (const file of read) if (file) files.push(file);
    }
    if (this.readCache.size > files.length) {
      const listed = new Set(names);
      for (const name of this.readCache.keys()) if (!listed.has(name)) this.readCache.delete(name);
    }
    return files;
  }

  /** One file for `readAll`: the cached read when the file's identity is unchanged, else a fresh read. */
  private async readCached(name: string, settledBefore: bigint): Promise<TokenFile | undefined> {
    const st = await lstatOrUndefined(this.pathOf(name), true);
    if (!st?.isFile()) {
      this.readCache.delete(name);
      return undefined;
    }
    const id = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    const hit = this.readCache.get(name);
    if (hit?.id === id) return hit.file;
    const file = await this.read(name);
    // Changed between the lstat and the read: the next listing sees a new identity and reads it again.
    if (file && st.ctimeNs < settledBefore) this.readCache.set(name, { id, file });
    else this.readCache.delete(name);
    return file;
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    const target = this.pathOf(name);
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new StoreError('WRITE_FAILED', errCode(err));
    }
    const existing = await lstatOrUndefined(target);
    // A symlink (or folder, FIFO...) under that name is the owner's doing: never replace it.
    if (existing && !existing.isFile()) throw new StoreError('NOT_REGULAR');
    try {
      await atomicWrite(target, data, 0o600, { keepMode: false });
    } catch (err) {
      throw new StoreError('WRITE_FAILED', errCode(err));
    }
  }

  update(name: string, edit: (data: Buffer) => Uint8Array): Promise<boolean> {
    const checked = tokenFileName(name);
    return this.exclusive(checked, async () => {
      const current = await this.read(checked);
      if (!current) return false;
      const data = edit(current.data);
      // Removed meanwhile by another process: a revoked credential stays revoked (the rename
      // below would create the file again).
      if (!(await lstatOrUndefined(this.pathOf(checked)))?.isFile()) return false;
      await this.write(checked, data);
      return true;
    });
  }

  remove(name: string): Promise<boolean> {
    const file = this.pathOf(name);
    return this.exclusive(tokenFileName(name), () => this.removePath(file));
  }

  async removeAll(): Promise<number> {
    let removed = 0;
    for (const name of await this.jsonFiles()) {
      // A name outside the rule (made by hand) cannot be in an update: removed directly.
      const gone = isTokenFileName(name)
        ? await this.remove(name)
        : await this.removePath(path.join(this.dir, name));
      if (gone) removed++;
    }
    return removed;
  }

  /** Run `work` after every earlier update or removal of `name` in this process has settled. */
  private exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.updating.get(name) ?? Promise.resolve();
    const run = previous.then(work);
    const tail = run.catch(() => undefined);
    this.updating.set(name, tail);
    void tail.then(() => {
      if (this.updating.get(name) === tail) this.updating.delete(name);
    });
    return run;
  }

  async close(): Promise<void> {
    await Promise.all([...this.updating.values()]);
    this.readCache.clear();
  }

  /** The path of a checked name, asserted to be a direct child of the folder (defence in depth). */
  private pathOf(name: string): string {
    const checked = tokenFileName(name);
    const full = path.join(this.dir, checked);
    if (path.dirname(full) !== this.dir || path.basename(full) !== checked)
      throw new StoreError('INVALID_NAME');
    return full;
  }

  /** Regular `.json` files of the folder, sorted; `[]` when the folder vanished. */
  private async jsonFiles(): Promise<string[]> {
    let entries;
    try {
      entries = await fs.readdir(this.dir, { withFileTypes: true });
    } catch (err) {
      if (errCode(err) === 'ENOENT') return [];
      throw new StoreError('LIST_FAILED', errCode(err));
    }
    return entries
      .filter((e) => e.isFile() && JSON_SUFFIX.test(e.name))
      .map((e) => e.name)
      .sort();
  }

  private async removePath(file: string): Promise<boolean> {
    const st = await lstatOrUndefined(file);
    if (!st?.isFile()) return false;
    try {
      await fs.unlink(file);
      return true;
    } catch (err) {
      if (errCode(err) === 'ENOENT') return false; // a concurrent delete won
      throw new StoreError('DELETE_FAILED', errCode(err));
    }
  }

  /**
   * Open a regular file for reading without following a symlink: `lstat` first (a symlink, a
   * folder, a FIFO or a device is never opened), then `O_NOFOLLOW | O_NONBLOCK`, then `fstat`
   * must show the same regular file (the name may have been swapped in between).
   */
  private async openRegular(
    file: string,
  ): Promise<{ handle: fs.FileHandle; st: Stats } | undefined> {
    const before = await lstatOrUndefined(file);
    if (!before?.isFile()) return undefined;
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(
        file,
        constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0),
      );
    } catch (err) {
      const code = errCode(err);
      if (['ENOENT', 'ELOOP', 'EMLINK', 'ENOTDIR', 'ENXIO', 'EISDIR'].includes(code))
        return undefined;
      throw new StoreError('READ_FAILED', code);
    }
    const st = await handle.stat();
    if (!st.isFile() || st.ino !== before.ino || st.dev !== before.dev) {
      await handle.close();
      return undefined;
    }
    return { handle, st };
  }
}
