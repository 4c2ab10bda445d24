import { closeSync, constants, fstatSync, openSync, promises as fs, readFileSync, realpathSync, watch, type FSWatcher, type Stats } from 'node:fs';
import path from 'node:path';
import { ManagementError } from '../../errors';
import type { Logger } from '../../types';
import { atomicWrite, cleanupTempFiles } from './atomic-write';
import { applyGroup, BaseConfigStore, type Parsed, type Pending } from '../config-store';
import { errCode, saveFailed, StoreError } from '../errors';
import { parseConfigText } from '../yaml-text';

/** Guards a read-modify-write against other processes; returns the release function. */
export type FileLock = (file: string) => Promise<() => Promise<void>>;

export interface FileConfigStoreOptions {
  readonly watch: boolean;
  readonly logger: Logger;
  readonly lock?: FileLock;
}

interface Stamp {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/** Why a file is not readable as the config: not a regular file (a FIFO would block every read). */
const NOT_REGULAR = 'config file is not a regular file';
/** Why a file cannot be written: its bytes are not UTF-8, and a rewrite would replace them with U+FFFD. */
const NOT_UTF8 = 'not UTF-8';
/** Opened without blocking: `open` of a FIFO waits for a writer unless told not to. */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The file's text, and whether its bytes were valid UTF-8 (when not, the text holds U+FFFD and must never be written back). */
function decode(bytes: Uint8Array): { text: string; utf8: boolean } {
  try {
    return { text: utf8Decoder.decode(bytes), utf8: true };
  } catch {
    return { text: Buffer.from(bytes).toString('utf8'), utf8: false };
  }
}

const stampOf = (st: Stats): Stamp => ({ ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
const sameStamp = (a: Stamp | undefined, b: Stamp): boolean =>
  !!a && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;

/**
 * The file engine's config store: the YAML file is the source of truth.
 *
 * - Reads come from memory, refreshed by a folder watcher and before every write.
 * - Each group is applied to the newest text on disk (a `stat` tells whether it changed), under
 *   a cross-process lock, and written atomically with one fsync.
 * - A file that is not valid YAML (a person mid-edit) keeps the last good config for reads and
 *   fails every mutation with `SAVE_FAILED` and the reason; the file is not touched.
 */
export class FileConfigStore extends BaseConfigStore {
  /** The real path of the config (a symlink is written through to its target). */
  readonly file: string;
  private stamp: Stamp | undefined;
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private readonly housekeeping: Promise<unknown>[] = [];

  constructor(
    configPath: string,
    private readonly options: FileConfigStoreOptions,
  ) {
    super(options.logger);
    try {
      // Write to the real file: a rename onto a symlink would replace the link itself.
      this.file = realpathSync(configPath);
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOENT') throw new ManagementError('ERR_CONFIG_NOT_FOUND', `config file not found: ${configPath}`);
      throw new ManagementError('ERR_CONFIG_UNREADABLE', `cannot resolve config file ${configPath}: ${code}`);
    }
    let bytes: Buffer;
    try {
      // Opened without blocking, checked on the open file (no swap between a check and the read).
      const fd = openSync(this.file, READ_FLAGS);
      try {
        if (!fstatSync(fd).isFile()) throw new ManagementError('ERR_CONFIG_UNREADABLE', `${NOT_REGULAR}: ${configPath}`);
        bytes = readFileSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if (err instanceof ManagementError) throw err;
      throw new ManagementError('ERR_CONFIG_UNREADABLE', `cannot read config file ${configPath}: ${errCode(err)}`);
    }
    const { text, utf8 } = decode(bytes);
    const parsed = parseConfigText(text);
    if ('error' in parsed) throw new ManagementError('ERR_CONFIG_INVALID', `${configPath}: ${parsed.error}`);
    this.adopt({ text, parsed }, undefined);
    if (!utf8) this.notUtf8();
    if (options.watch) this.startWatching();
    this.inBackground(cleanupTempFiles(this.file));
  }

  /**
   * Start-up housekeeping (a stale temp file, a dead process's lock) runs beside the first
   * requests; `close()` waits for it, so nothing touches the folder once the store is closed.
   */
  inBackground(task: Promise<unknown>): void {
    this.housekeeping.push(task.catch(() => undefined));
  }

  reload(): Promise<void> {
    return this.exclusive(async () => {
      await this.refresh();
    });
  }

  override async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    await super.close();
    await Promise.all(this.housekeeping);
  }

  /**
   * Bring the in-memory copy up to date with the disk. Returns false when the file is not
   * usable (missing, unreadable, invalid YAML); the last good config is kept for reads then.
   */
  private async refresh(): Promise<boolean> {
    let st: Stats;
    try {
      st = await fs.stat(this.file);
    } catch (err) {
      this.error = `cannot read config file: ${errCode(err)}`;
      return false;
    }
    if (!st.isFile()) {
      this.error = NOT_REGULAR;
      return false;
    }
    const stamp = stampOf(st);
    if (sameStamp(this.stamp, stamp)) return this.error === undefined;
    let bytes: Buffer;
    try {
      // Never a blocking open (a FIFO swapped in after the stat): checked again on the open file.
      const handle = await fs.open(this.file, READ_FLAGS);
      try {
        if (!(await handle.stat()).isFile()) {
          this.error = NOT_REGULAR;
          return false;
        }
        bytes = await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (err) {
      this.error = `cannot read config file: ${errCode(err)}`;
      return false;
    }
    const { text, utf8 } = decode(bytes);
    if (text === this.current.text && this.error === undefined) {
      this.stamp = stamp;
      return true;
    }
    const parsed = parseConfigText(text);
    if ('error' in parsed) {
      this.stamp = stamp;
      if (this.error !== parsed.error) this.logger.warn(`cli-proxy-management: config file is not valid: ${parsed.error}`);
      this.error = parsed.error;
      return false;
    }
    this.stamp = stamp;
    this.adopt({ text, parsed }, 'file');
    if (utf8) return true;
    this.notUtf8();
    return false;
  }

  /** Reads serve the file (odd bytes shown as U+FFFD); every write is refused until the file is UTF-8. */
  private notUtf8(): void {
    if (this.error !== NOT_UTF8) this.logger.warn('cli-proxy-management: the config file is not valid UTF-8; it is never rewritten, every change is refused until it is');
    this.error = NOT_UTF8;
  }

  protected async commit(batch: Pending[]): Promise<void> {
    let release: (() => Promise<void>) | undefined;
    try {
      release = await this.options.lock?.(this.file);
    } catch (err) {
      this.failAll(batch, saveFailed(`cannot lock config file: ${err instanceof Error ? err.message : 'lock failed'}`));
      return;
    }
    try {
      if (!(await this.refresh())) {
        this.failAll(batch, saveFailed(this.error ?? 'config file is not usable'));
        return;
      }
      const { next, done, failed } = applyGroup(this.current, batch);
      if (next && done.length > 0) {
        try {
          await this.write(next);
        } catch (err) {
          this.failAll(batch, err instanceof StoreError ? err : saveFailed(errCode(err) === 'error' ? 'write failed' : errCode(err)));
          return;
        }
      }
      this.published(done.length, failed.length, next !== undefined && done.length > 0);
      for (const p of done) p.resolve();
      for (const [p, error] of failed) p.reject(error);
    } finally {
      await release?.().catch(() => undefined);
    }
  }

  private async write(next: Parsed): Promise<void> {
    const written = await atomicWrite(this.file, next.text);
    // The file is ours only if it is still the inode we wrote, unchanged. An edit on disk between
    // the rename and this stat must not be mistaken for our own write (it would never be loaded):
    // then keep the stamp of what we wrote, so the next refresh sees a difference and reads it.
    const now = await fs.stat(this.file).catch(() => undefined);
    const ours = now && now.ino === written.ino && now.size === written.size && now.mtimeMs === written.mtimeMs;
    this.stamp = stampOf(ours ? now : written);
    this.adopt(next, 'api');
  }

  private startWatching(): void {
    try {
      const base = path.basename(this.file);
      this.watcher = watch(path.dirname(this.file), { persistent: false }, (_event, name) => {
        if (name === null || name === base) this.scheduleReload();
      });
      this.watcher.on('error', () => {
        this.logger.warn('cli-proxy-management: config watcher failed; edits on disk are picked up before the next write only');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.logger.warn('cli-proxy-management: cannot watch the config folder; edits on disk are picked up before the next write only');
    }
  }

  private scheduleReload(): void {
    if (this.closed) return;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      // The event of our own write is checked outside the commit queue: a file that is still
      // what we wrote (same stamp) needs no reload, so it never waits behind (or delays) commits.
      // Anything else (or a stat racing a commit) is a reload in the queue, which checks again.
      fs.stat(this.file).then(
        (st) => {
          if (!sameStamp(this.stamp, stampOf(st)) && !this.closed) void this.reload().catch(() => undefined);
        },
        () => {
          if (!this.closed) void this.reload().catch(() => undefined);
        },
      );
    }, 20);
    this.reloadTimer.unref();
  }
}
