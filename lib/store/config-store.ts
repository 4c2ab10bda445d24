import { channel } from 'node:diagnostics_channel';
import { promises as fs, readFileSync, realpathSync, watch, type FSWatcher, type Stats } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Document } from 'yaml';
import { HttpError, ManagementError } from '../http/errors';
import type { ConfigChange, ConfigListener, Logger, ProxyConfig } from '../types';
import { atomicWrite, cleanupTempFiles } from './atomic-write';
import { parseConfigText, renderEdit, type ParsedText } from './yaml-text';

/**
 * A mutation: a pure edit of the config document. It throws an {@link HttpError} (before it
 * changes anything, ideally) to fail alone; the other mutations of its batch still commit.
 */
export type Mutation = (doc: Document) => void;

/** Guards a read-modify-write against other processes; returns the release function. */
export type FileLock = (file: string) => Promise<() => Promise<void>>;

export interface ConfigStoreOptions {
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

interface Pending {
  readonly fn: Mutation;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

const stampOf = (st: Stats): Stamp => ({ ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
const sameStamp = (a: Stamp | undefined, b: Stamp): boolean =>
  !!a && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Name of the `node:diagnostics_channel` on which the store publishes a {@link CommitMessage}
 * after every group commit (benchmarks and metrics subscribe; nothing is built when nobody does).
 */
export const COMMIT_CHANNEL = 'cli-proxy-management:commit';

/** What {@link COMMIT_CHANNEL} carries: one group commit. */
export interface CommitMessage {
  /** Mutations of the group that succeeded (acknowledged once `written` bytes were durable). */
  readonly mutations: number;
  /** Mutations of the group that failed alone (not found, invalid) or with the group. */
  readonly failed: number;
  /** Whether a file was written (false when the group left the text unchanged, or failed). */
  readonly written: boolean;
}

const commitChannel = channel(COMMIT_CHANNEL);

const saveError = (reason: string): HttpError => new HttpError(500, `failed to save config: ${reason}`);

/**
 * The one owner of the YAML config file.
 *
 * - Reads are served from memory (`config`), refreshed by a folder watcher and before every write.
 * - Writes are mutations of the parsed document, queued and committed in groups: every mutation
 *   that arrives while a write is in flight joins the next group, which is applied to the newest
 *   text on disk (a `stat` tells whether it changed), rendered with the user's layout kept,
 *   re-parsed and checked, and written atomically with one fsync. Each mutation's promise settles
 *   only once its bytes are durable (or it failed on its own).
 * - A file that is not valid YAML (a person mid-edit) keeps the last good config for reads and
 *   fails every mutation with `500 failed to save config: <reason>`; the file is not touched.
 */
export class ConfigStore {
  readonly file: string;
  private text = '';
  private parsed!: ParsedText;
  private snapshot: ProxyConfig = deepFreeze({});
  private stamp: Stamp | undefined;
  private error: string | undefined;
  private readonly listeners = new Set<ConfigListener>();
  private queue: Pending[] = [];
  private flushing = false;
  private chain: Promise<unknown> = Promise.resolve();
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    configPath: string,
    private readonly options: ConfigStoreOptions,
  ) {
    try {
      // Write to the real file: a rename onto a symlink would replace the link itself.
      this.file = realpathSync(configPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new ManagementError('ERR_CONFIG_NOT_FOUND', `config file not found: ${configPath}`);
      throw new ManagementError('ERR_CONFIG_UNREADABLE', `cannot resolve config file ${configPath}: ${code ?? 'error'}`);
    }
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      throw new ManagementError(
        'ERR_CONFIG_UNREADABLE',
        `cannot read config file ${configPath}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    const parsed = parseConfigText(text);
    if ('error' in parsed) throw new ManagementError('ERR_CONFIG_INVALID', `${configPath}: ${parsed.error}`);
    this.adopt(text, parsed);
    if (options.watch) this.startWatching();
    void cleanupTempFiles(this.file).catch(() => undefined);
  }

  /** The current config: deep-frozen, from memory. */
  get config(): ProxyConfig {
    return this.snapshot;
  }

  /** Why the file on disk is not usable right now, if it is not. */
  get diskError(): string | undefined {
    return this.error;
  }

  onChange(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Apply `fn` to the newest config on disk and persist it; resolves once durable. */
  mutate(fn: Mutation): Promise<void> {
    if (this.closed) return Promise.reject(saveError('router closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ fn, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** Pick up an edit on disk now (the watcher calls this too). */
  reload(): Promise<void> {
    return this.exclusive(async () => {
      await this.refresh();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    // Wait for every queued group, not only the one in flight: a process that exits after
    // close() must not be holding the file lock or leave a temp file.
    do {
      await this.chain.catch(() => undefined);
      await new Promise((resolve) => setImmediate(resolve));
    } while (this.flushing);
  }

  private adopt(text: string, parsed: ParsedText, stamp?: Stamp): void {
    this.text = text;
    this.parsed = parsed;
    this.stamp = stamp;
    this.error = undefined;
    this.snapshot = deepFreeze((parsed.doc.toJS() ?? {}) as ProxyConfig);
  }

  private emit(change: ConfigChange): void {
    for (const listener of this.listeners) {
      try {
        listener(this.snapshot, change);
      } catch {
        this.options.logger.warn('cli-proxy-management: a change listener threw');
      }
    }
  }

  /** Run `task` after every earlier task: reloads and write groups never interleave. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
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
      this.error = `cannot read config file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
      return false;
    }
    const stamp = stampOf(st);
    if (sameStamp(this.stamp, stamp)) return this.error === undefined;
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      this.error = `cannot read config file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
      return false;
    }
    if (text === this.text && this.error === undefined) {
      this.stamp = stamp;
      return true;
    }
    const parsed = parseConfigText(text);
    if ('error' in parsed) {
      this.stamp = stamp;
      if (this.error !== parsed.error) this.options.logger.warn(`cli-proxy-management: config file is not valid: ${parsed.error}`);
      this.error = parsed.error;
      return false;
    }
    const before = this.snapshot;
    this.adopt(text, parsed, stamp);
    if (!isDeepStrictEqual(before, this.snapshot)) this.emit({ source: 'file' });
    return true;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        await this.exclusive(() => this.commit(batch));
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Run one group. Whatever happens, every mutation of the batch settles: an unexpected throw
   * (a bug, a library error) fails the batch with a 500 whose reason holds no message text,
   * instead of leaving requests hanging or escaping as an unhandled rejection.
   */
  private async commit(batch: Pending[]): Promise<void> {
    try {
      await this.commitLocked(batch);
    } catch (err) {
      this.options.logger.warn(`cli-proxy-management: unexpected error while saving the config: ${err instanceof Error ? err.name : typeof err}`);
      const e = saveError('unexpected error');
      for (const p of batch) p.reject(e);
    }
  }

  private async commitLocked(batch: Pending[]): Promise<void> {
    let release: (() => Promise<void>) | undefined;
    try {
      release = await this.options.lock?.(this.file);
    } catch (err) {
      const reason = err instanceof Error ? err.message : 'lock failed';
      for (const p of batch) p.reject(saveError(`cannot lock config file: ${reason}`));
      this.published(0, batch.length, false);
      return;
    }
    try {
      if (!(await this.refresh())) {
        const err = saveError(this.error ?? 'config file is not usable');
        for (const p of batch) p.reject(err);
        this.published(0, batch.length, false);
        return;
      }
      const { doc, done, failed } = this.applyAll(batch);
      let written = false;
      if (done.length > 0) {
        try {
          written = await this.persist(doc);
        } catch (err) {
          const e = err instanceof HttpError ? err : saveError((err as NodeJS.ErrnoException).code ?? 'write failed');
          for (const p of done) p.reject(e);
          for (const [p, error] of failed) p.reject(error);
          this.published(0, batch.length, false);
          return;
        }
      }
      this.published(done.length, failed.length, written);
      for (const p of done) p.resolve();
      for (const [p, error] of failed) p.reject(error);
    } finally {
      await release?.().catch(() => undefined);
    }
  }

  /**
   * Apply the batch in order to a fresh document of the current text. A mutation that throws
   * fails alone: the document is rebuilt from the text and the mutations that succeeded are
   * replayed, so a half-applied mutation can never leak into the write.
   */
  private applyAll(batch: Pending[]): { doc: Document; done: Pending[]; failed: [Pending, unknown][] } {
    const fresh = (): Document => this.parsed.doc.clone();
    let doc = fresh();
    const done: Pending[] = [];
    const failed: [Pending, unknown][] = [];
    for (const p of batch) {
      try {
        p.fn(doc);
        done.push(p);
      } catch (err) {
        failed.push([p, err]);
        doc = fresh();
        for (const ok of done) ok.fn(doc);
      }
    }
    return { doc, done, failed };
  }

  private published(mutations: number, failed: number, written: boolean): void {
    if (commitChannel.hasSubscribers) commitChannel.publish({ mutations, failed, written } satisfies CommitMessage);
  }

  /** Render, check and write `doc`; false when its text is the current text (nothing to write). */
  private async persist(doc: Document): Promise<boolean> {
    const intended: unknown = doc.toJS() ?? {};
    for (const text of renderEdit(this.text, this.parsed.canonical, doc)) {
      if (text === this.text) return false;
      const parsed = parseConfigText(text);
      if ('error' in parsed || !isDeepStrictEqual(parsed.doc.toJS() ?? {}, intended)) continue;
      await this.write(text, parsed);
      return true;
    }
    throw saveError('the new config did not re-parse to the intended values; nothing was written');
  }

  private async write(text: string, parsed: ParsedText): Promise<void> {
    const written = await atomicWrite(this.file, text);
    // The file is ours only if it is still the inode we wrote, unchanged. An edit on disk between
    // the rename and this stat must not be mistaken for our own write (it would never be loaded):
    // then keep the stamp of what we wrote, so the next refresh sees a difference and reads it.
    const now = await fs.stat(this.file).catch(() => undefined);
    const ours = now && now.ino === written.ino && now.size === written.size && now.mtimeMs === written.mtimeMs;
    const stamp = stampOf(ours ? now : written);
    const before = this.snapshot;
    this.adopt(text, parsed, stamp);
    if (!isDeepStrictEqual(before, this.snapshot)) this.emit({ source: 'api' });
  }

  private startWatching(): void {
    try {
      const base = path.basename(this.file);
      this.watcher = watch(path.dirname(this.file), { persistent: false }, (_event, name) => {
        if (name === null || name === base) this.scheduleReload();
      });
      this.watcher.on('error', () => {
        this.options.logger.warn('cli-proxy-management: config watcher failed; edits on disk are picked up before the next write only');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.options.logger.warn('cli-proxy-management: cannot watch the config folder; edits on disk are picked up before the next write only');
    }
  }

  private scheduleReload(): void {
    if (this.closed) return;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      void this.reload().catch(() => undefined);
    }, 20);
    this.reloadTimer.unref();
  }
}
