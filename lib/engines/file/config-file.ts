import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  promises as fs,
  readFileSync,
  realpathSync,
  type Stats,
} from 'node:fs';
import { ManagementError } from '../../errors';
import { errCode, saveFailed, StoreError } from '../errors';
import type {
  ConfigBackend,
  Logger,
  SaveResult,
  StoredText,
  TextEvents,
  TextVersion,
} from '../spi';
import { watchFile, type FileWatch } from '../watch';
import { atomicWrite, cleanupTempFiles } from './atomic-write';
import path from 'node:path';
import type { Draft } from '../../history/entry';
import { FileJournal, textDigest, type Staged } from '../../history/file-journal';
import type { ConfigJournal, HistoryLimits } from '../spi';

/** Guards a read-modify-write against other processes; returns the release function. */
export type FileLock = (file: string) => Promise<() => Promise<void>>;

/** Options of {@link FileConfigBackend}. */
export interface FileConfigOptions {
  readonly watch: boolean;
  readonly logger: Logger;
  readonly lock?: FileLock;
  /** Keep a history journal (see `lib/history`): its limits and its file (default: the config's real path + `.history`). */
  readonly history?: HistoryLimits | undefined;
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

/** The file's identity as a version: inode, size, modification and change times. */
const stampOf = (st: Stats): string => `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

/**
 * The file engine's config text: the YAML file is the source of truth.
 *
 * - `load` reads the file only when its identity (the version) changed since the last read.
 * - `save` holds a cross-process lock while it checks that the file is still the version the
 *   core started from, then writes atomically with one fsync.
 * - A file whose bytes are not UTF-8 is served but never written (`readOnly`).
 */
export class FileConfigBackend implements ConfigBackend {
  /** The real path of the config (a symlink is written through to its target). */
  readonly file: string;
  readonly initial: StoredText & { readonly cached: boolean };
  private known: StoredText;
  private watcher: FileWatch | undefined;
  private readonly housekeeping: Promise<unknown>[] = [];
  /** The history journal, when history is on. */
  private readonly journal: FileJournal | undefined;
  readonly history?: ConfigJournal;
  private digest: { text: string; digest: string } | undefined;

  constructor(
    configPath: string,
    private readonly options: FileConfigOptions,
  ) {
    try {
      // Write to the real file: a rename onto a symlink would replace the link itself.
      this.file = realpathSync(configPath);
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOENT')
        throw new ManagementError('ERR_CONFIG_NOT_FOUND', `config file not found: ${configPath}`);
      throw new ManagementError(
        'ERR_CONFIG_UNREADABLE',
        `cannot resolve config file ${configPath}: ${code}`,
      );
    }
    let bytes: Buffer;
    let st: Stats;
    try {
      // Opened without blocking, checked on the open file (no swap between a check and the read).
      const fd = openSync(this.file, READ_FLAGS);
      try {
        st = fstatSync(fd);
        if (!st.isFile())
          throw new ManagementError('ERR_CONFIG_UNREADABLE', `${NOT_REGULAR}: ${configPath}`);
        bytes = readFileSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if (err instanceof ManagementError) throw err;
      throw new ManagementError(
        'ERR_CONFIG_UNREADABLE',
        `cannot read config file ${configPath}: ${errCode(err)}`,
      );
    }
    this.known = this.stored(bytes, stampOf(st));
    this.initial = { ...this.known, cached: false };
    const { history } = options;
    if (history) {
      const journal = new FileJournal(
        path.resolve(history.file ?? `${this.file}.history`),
        history,
        options.logger,
        () => this.textDigest(),
      );
      this.journal = journal;
      this.history = {
        list: (limit, before) => journal.list(limit, before),
        get: (id) => journal.get(id),
        record: (drafts) => this.record(drafts),
        recordEdit: (before, after, draft) => this.recordEdit(before, after, draft),
      };
    }
    this.inBackground(cleanupTempFiles(this.file));
  }

  /**
   * Start-up housekeeping (a stale temp file, a dead process's lock) runs beside the first
   * requests; `close()` waits for it, so nothing touches the folder once the backend is closed.
   */
  inBackground(task: Promise<unknown>): void {
    this.housekeeping.push(task.catch(() => undefined));
  }

  async start(events: TextEvents): Promise<void> {
    if (!this.options.watch) return;
    this.watcher = watchFile(this.file, 'config', this.options.logger, () => {
      // The event of our own write is checked here: a file that is still what we wrote (same
      // identity) needs no load, so it never waits behind (or delays) the core's writes.
      fs.stat(this.file).then(
        (st) => {
          if (stampOf(st) !== this.known.version) void events.changed().catch(() => undefined);
        },
        () => void events.changed().catch(() => undefined),
      );
    });
  }

  async load(): Promise<StoredText> {
    let st: Stats;
    try {
      st = await fs.stat(this.file);
    } catch (err) {
      throw saveFailed(`cannot read config file: ${errCode(err)}`);
    }
    if (!st.isFile()) throw saveFailed(NOT_REGULAR);
    if (stampOf(st) === this.known.version) return this.known;
    let bytes: Buffer;
    try {
      // Never a blocking open (a FIFO swapped in after the stat): checked again on the open file.
      const handle = await fs.open(this.file, READ_FLAGS);
      try {
        st = await handle.stat();
        if (!st.isFile()) throw saveFailed(NOT_REGULAR);
        bytes = await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw saveFailed(`cannot read config file: ${errCode(err)}`);
    }
    this.known = this.stored(bytes, stampOf(st));
    return this.known;
  }

  async save(text: string, expected: TextVersion, entries?: readonly Draft[]): Promise<SaveResult> {
    let release: (() => Promise<void>) | undefined;
    try {
      release = await this.options.lock?.(this.file);
    } catch (err) {
      throw saveFailed(
        `cannot lock config file: ${err instanceof Error ? err.message : 'lock failed'}`,
      );
    }
    try {
      const before = await fs.stat(this.file).catch(() => undefined);
      if (!before || stampOf(before) !== expected) return { saved: false };
      // With history, the entries are written (and fsynced) beside the temp file and before its
      // rename, and marked once the rename is durable (see `FileJournal`).
      const journal = entries && entries.length > 0 ? this.journal : undefined;
      let staged: Staged | undefined;
      const staging = journal?.stage(entries ?? [], this.known.text, text);
      staging?.catch(() => undefined);
      let written: Stats;
      try {
        written = await atomicWrite(this.file, text, undefined, {
          beforeRename: async () => void (staged = await staging),
        });
      } catch (err) {
        await (staged ? Promise.resolve(staged) : staging)
          ?.then((s) => journal?.abort(s))
          .catch(() => undefined);
        throw err instanceof StoreError
          ? err
          : saveFailed(errCode(err) === 'error' ? 'write failed' : errCode(err));
      }
      // The file is ours only if it is still the inode we wrote, unchanged. An edit on disk
      // between the rename and this stat must not be mistaken for our own write (it would never
      // be loaded): then keep the identity of what we wrote, so the next load sees a difference.
      const now = await fs.stat(this.file).catch(() => undefined);
      const ours =
        now &&
        now.ino === written.ino &&
        now.size === written.size &&
        now.mtimeMs === written.mtimeMs;
      this.known = { text, version: stampOf(ours ? now : written) };
      if (journal && staged) {
        await journal
          .landed(staged)
          .catch((err: unknown) =>
            this.options.logger.warn(
              `cli-proxy-management: the history journal could not be marked (${errCode(err)})`,
            ),
          );
        return { saved: true, version: this.known.version, ids: staged.ids };
      }
      return { saved: true, version: this.known.version };
    } finally {
      await release?.().catch(() => undefined);
    }
  }

  /** Entries of auth-file changes, under the config's lock (in order with every process's commits). */
  private async record(drafts: readonly Draft[]): Promise<string[]> {
    const journal = this.journal;
    if (!journal || drafts.length === 0) return [];
    const release = await this.options.lock?.(this.file);
    try {
      const staged = await journal.stage(drafts, this.known.text, this.known.text);
      await journal.landed(staged);
      return [...staged.ids];
    } finally {
      await release?.().catch(() => undefined);
    }
  }

  /** An edit found on disk: one entry, unless another process sharing the file recorded it (its group leads to this text). */
  private async recordEdit(before: string, after: string, draft: () => Draft): Promise<string[]> {
    const journal = this.journal;
    if (!journal || before === after) return [];
    const release = await this.options.lock?.(this.file);
    try {
      if (await journal.leadsTo(after)) return [];
      const staged = await journal.stage([draft()], before, after);
      await journal.landed(staged);
      return [...staged.ids];
    } finally {
      await release?.().catch(() => undefined);
    }
  }

  /** The digest of the text known now (the journal's test of which group the file holds). */
  private textDigest(): string {
    const text = this.known.text;
    if (this.digest?.text !== text) this.digest = { text, digest: textDigest(text) };
    return this.digest.digest;
  }

  async close(): Promise<void> {
    this.watcher?.close();
    this.watcher = undefined;
    await Promise.all(this.housekeeping);
  }

  /** A read's text and version; bytes that are not UTF-8 are served but never written back (logged once). */
  private stored(bytes: Buffer, version: string): StoredText {
    const { text, utf8 } = decode(bytes);
    if (utf8) return { text, version };
    if (this.known?.readOnly !== NOT_UTF8)
      this.options.logger.warn(
        'cli-proxy-management: the config file is not valid UTF-8; it is never rewritten, every change is refused until it is',
      );
    return { text, version, readOnly: NOT_UTF8 };
  }
}
