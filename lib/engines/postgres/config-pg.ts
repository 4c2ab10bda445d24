import { mkdirSync, promises as fs, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { ManagementError } from '../../errors';
import { diff3Merge, diffPatch } from '../../yaml/diff3';
import { errCode, saveFailed, StoreError } from '../errors';
import { atomicWrite } from '../file/atomic-write';
import type {
  ConfigBackend,
  ConfigJournal,
  Logger,
  SaveResult,
  StoredText,
  TextEvents,
  TextVersion,
} from '../spi';
import type { Draft } from '../../history/entry';
import type { PgJournal } from '../../history/pg-journal';
import { watchFile, type FileWatch } from '../watch';
import { errorCode, notifySql, type Db } from './db';

/** Options of {@link PgConfigBackend}. */
export interface PgConfigOptions {
  readonly db: Db;
  readonly namespace: string;
  readonly configPath: string;
  readonly watch: boolean;
  readonly logger: Logger;
  /** The history table, when history is on. */
  readonly journal?: PgJournal | undefined;
  /** How long `start()` waits for the database when there is no mirror to start from (ms). */
  readonly startTimeoutMs: number;
  /** The valid token files of `authDir`, read when this store seeds an empty namespace. */
  readonly seedTokens: () => Promise<{ name: string; data: Buffer; mtime: Date }[]>;
}

const NOTIFY_CONFIG = notifySql(
  `json_build_object('ns', $1::text, 'k', 'config', 'v', $2::bigint)`,
);

/**
 * A hand edit of the mirror (`edited`, made on top of `base`, the text this replica last wrote
 * there) carried over to `newest`, the database's text now: a three-way line merge, so changes
 * made meanwhile through any replica are kept. Where both touched the same lines, the hand edit
 * wins (it is the newest intent of a person). The result is checked like any whole-text write.
 */
export function mergeHandEdit(edited: string, base: string, newest: string): string {
  if (newest === base) return edited;
  if (edited === base) return newest;
  const eol = edited.includes('\r\n') ? '\r\n' : '\n';
  const out: string[] = [];
  for (const region of diff3Merge(
    edited.split(/\r?\n/),
    base.split(/\r?\n/),
    newest.split(/\r?\n/),
    { excludeFalseConflicts: true },
  )) {
    for (const line of region.ok ?? region.conflict?.a ?? []) out.push(line);
  }
  return out.join(eol);
}

/** How many texts written to the mirror are remembered as possible bases of a hand edit. */
const HISTORY = 16;

/**
 * The text a hand edit was most likely made on: of the texts this replica wrote to the mirror
 * lately, the one from which the edit changes the fewest lines. A person's editor may hold a
 * text older than the mirror's newest (a change arrived while they typed): taking the newest as
 * the base would then undo that change; taking the closest keeps it.
 */
export function closestBase(edited: string, history: readonly string[]): string {
  const lines = edited.split(/\r?\n/);
  let best = history[history.length - 1] ?? '';
  let bestCost = Infinity;
  for (let i = history.length - 1; i >= 0; i--) {
    const candidate = history[i] as string;
    const cost = diffPatch(candidate.split(/\r?\n/), lines).reduce(
      (sum, h) => sum + h.buffer1.length + h.buffer2.length,
      0,
    );
    if (cost < bestCost) {
      best = candidate;
      bestCost = cost;
    }
  }
  return best;
}

/**
 * The PostgreSQL engine's config text. The database row `(namespace, text, version)` is the
 * source of truth; `configPath` is a mirror written atomically after every change, and a hand
 * edit of the mirror is handed to the core to be merged in. See `README.md` beside this file.
 */
export class PgConfigBackend implements ConfigBackend {
  /** Changes this engine reports were committed through another replica. */
  readonly changeSource = 'replica';
  private readonly db: Db;
  private readonly ns: string;
  /** Where the mirror is written (the real path when `configPath` is a symlink). */
  readonly file: string;
  readonly initial: (StoredText & { readonly cached: boolean }) | undefined;
  /** The version this replica last loaded or saved (0: none yet). */
  private version = 0;
  private synced = false;
  private closed = false;
  private events: TextEvents | undefined;
  /** The text this replica last wrote to (or found in) the mirror: the base of a hand edit. */
  private mirrorText: string | undefined;
  /** The last texts written to the mirror, newest last: the candidates for a hand edit's base. */
  private readonly mirrorHistory: string[] = [];
  /** The last hand edit pushed, so that it is not pushed twice. */
  private pushedEdit: string | undefined;
  /** Mirror reads and writes, one at a time. */
  private mirrorChain: Promise<unknown> = Promise.resolve();
  private watcher: FileWatch | undefined;
  readonly history?: ConfigJournal;

  constructor(private readonly options: PgConfigOptions) {
    this.db = options.db;
    this.ns = options.namespace;
    const journal = options.journal;
    if (journal) {
      this.history = {
        list: (limit, before) => journal.list(limit, before),
        get: (id) => journal.get(id),
        record: (drafts) => this.record(journal, drafts),
      };
    }
    let file = path.resolve(options.configPath);
    try {
      file = realpathSync(file);
    } catch {
      // no mirror yet: it is written at the first sync
    }
    this.file = file;
    // Until the first sync, reads serve the local copy (when the core finds it usable).
    try {
      this.initial = { text: readFileSync(this.file, 'utf8'), version: 0, cached: true };
    } catch {
      this.initial = undefined; // missing or unreadable: the database's copy comes with the first sync
    }
    this.db.onNotice((notice) => {
      // Checked again in turn by the core's load: the notice of our own save can arrive first.
      if (notice.ns !== this.ns || notice.k !== 'config' || notice.v <= this.version || this.closed)
        return;
      void this.events
        ?.changed(() => notice.v > this.version && !this.closed)
        .catch(() => undefined);
    });
    // First after every (re)connect: the bootstrap seeds the token files too.
    this.db.onResync(async () => {
      if (this.events) await this.events.changed();
    }, true);
  }

  async start(events: TextEvents): Promise<void> {
    this.events = events;
    if (this.options.watch) {
      mkdirSync(path.dirname(this.file), { recursive: true });
      this.watcher = watchFile(
        this.file,
        'config mirror',
        this.options.logger,
        () => void this.mirrored(() => this.captureHandEdit()).catch(() => undefined),
      );
    }
    this.db.start();
    await this.startedOrMirror();
  }

  /**
   * Resolves once the database serves; or, when it is found unreachable and the mirror holds a
   * config, at once (reads serve the mirror, writes answer `503`, the reconnect goes on in the
   * background: a host awaiting `ready()` used to wait forever, and its timers did not keep the
   * process alive, so it exited silently). Without a mirror it rejects after `startTimeoutMs`
   * with `ERR_STORAGE_UNAVAILABLE`; meanwhile a timer keeps the process alive.
   */
  private startedOrMirror(): Promise<void> {
    const fromMirror = this.initial !== undefined && this.initial.text.trim() !== '';
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let offDown = (): void => undefined;
      const settle = (err?: unknown): void => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        offDown();
        if (err === undefined) resolve();
        else reject(err);
      };
      void this.db.started.then(
        () => settle(),
        (err: unknown) => settle(err),
      );
      if (fromMirror) {
        if (this.db.unreachable) return settle();
        const off = this.db.onDown(() => settle());
        offDown = () => void off();
      }
      timer = setTimeout(() => {
        if (fromMirror) return settle();
        settle(
          new ManagementError(
            'ERR_STORAGE_UNAVAILABLE',
            `no config from the database within ${this.options.startTimeoutMs} ms (it cannot be reached, or its namespace has no config yet), and ${this.options.configPath} holds none to start from`,
          ),
        );
      }, this.options.startTimeoutMs);
    });
  }

  async load(): Promise<StoredText> {
    if (this.synced && this.db.up) await this.mirrored(() => this.captureHandEdit());
    if (!this.db.up) throw this.db.unavailable();
    if (!this.synced) await this.bootstrap();
    const found = await this.db.query<{ text: string; version: string }>(
      'SELECT text, version FROM cpm_config WHERE namespace = $1',
      [this.ns],
    );
    const row = found.rows[0];
    if (!row) throw saveFailed('the database has no config for this namespace');
    this.version = Number(row.version);
    await this.writeMirror(row.text);
    return { text: row.text, version: this.version };
  }

  async save(text: string, expected: TextVersion, entries?: readonly Draft[]): Promise<SaveResult> {
    if (!this.synced || !this.db.up) throw this.db.unavailable();
    let saved: number | undefined;
    let ids: string[] | undefined;
    const journal = entries && entries.length > 0 ? this.options.journal : undefined;
    try {
      // One statement under the row lock (no hashing or parsing while it is held), and the notice.
      saved = await this.db.transaction(async (client) => {
        const updated = await client.query<{ version: string }>(
          'UPDATE cpm_config SET text = $2, version = version + 1, updated_at = now() WHERE namespace = $1 AND version = $3 RETURNING version',
          [this.ns, text, expected],
        );
        const row = updated.rows[0];
        if (!row) return undefined;
        // The entries in the same transaction: they exist exactly when the text does.
        if (journal) ids = await journal.insert(client, entries ?? []);
        await client.query(`SELECT ${NOTIFY_CONFIG}`, [this.ns, row.version]);
        return Number(row.version);
      });
    } catch (err) {
      if (err instanceof StoreError) throw err;
      this.options.logger.warn(
        `cli-proxy-management: database error while saving the config (${errorCode(err)})`,
      );
      throw saveFailed('database error');
    }
    if (saved === undefined) return { saved: false };
    this.version = saved;
    // Committed: mirrored before the core acknowledges.
    await this.writeMirror(text);
    return ids ? { saved: true, version: saved, ids } : { saved: true, version: saved };
  }

  /** Entries of auth-file changes; the config row's lock orders them with the config's own. */
  private async record(journal: PgJournal, drafts: readonly Draft[]): Promise<string[]> {
    if (!this.synced || !this.db.up) throw this.db.unavailable();
    return this.db.transaction(async (client) => {
      await client.query('SELECT version FROM cpm_config WHERE namespace = $1 FOR UPDATE', [
        this.ns,
      ]);
      return journal.insert(client, drafts);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    await this.mirrorChain.catch(() => undefined);
  }

  /**
   * First sync: the namespace's config, or seed it from `configPath` and `authDir` once.
   * Replicas that start together serialise on an advisory lock of the namespace; the first
   * inserts, the others find its row (`ON CONFLICT DO NOTHING` as a second guard).
   */
  private async bootstrap(): Promise<void> {
    const found = await this.db.query<{ version: string }>(
      'SELECT version FROM cpm_config WHERE namespace = $1',
      [this.ns],
    );
    if (!found.rows[0]) {
      let text: string;
      try {
        text = await fs.readFile(this.file, 'utf8');
      } catch (err) {
        const code = errCode(err);
        throw new ManagementError(
          code === 'ENOENT' ? 'ERR_CONFIG_NOT_FOUND' : 'ERR_CONFIG_UNREADABLE',
          `the database has no config for namespace ${JSON.stringify(this.ns)} and ${this.options.configPath} cannot be read to seed it (${code})`,
        );
      }
      // Checked and hashed by the core before the insert: a plaintext key never reaches the database.
      let seed: string;
      try {
        seed = await (this.events as TextEvents).prepare(text);
      } catch (err) {
        throw new ManagementError(
          'ERR_CONFIG_INVALID',
          `${this.options.configPath}: ${err instanceof StoreError ? err.reason : 'the management key cannot be hashed'}`,
        );
      }
      const tokens = await this.options.seedTokens();
      await this.db.transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
          `cli-proxy-management:${this.ns}`,
        ]);
        const inserted = await client.query(
          'INSERT INTO cpm_config (namespace, text, version) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING',
          [this.ns, seed],
        );
        if (inserted.rowCount === 1) {
          for (const t of tokens) {
            await client.query(
              `INSERT INTO cpm_token_files (namespace, name, data, size, mtime, rev) VALUES ($1, $2, $3, $4, $5, nextval('cpm_token_rev')) ON CONFLICT DO NOTHING`,
              [this.ns, t.name, t.data, t.data.length, t.mtime],
            );
          }
          await client.query(`SELECT ${NOTIFY_CONFIG}`, [this.ns, 1]);
        }
      });
    }
    this.synced = true;
  }

  /** Run `task` after every earlier mirror task. */
  private mirrored<T>(task: () => Promise<T>): Promise<T> {
    const run = this.mirrorChain.then(task, task);
    this.mirrorChain = run.catch(() => undefined);
    return run;
  }

  /**
   * Write `text` to the mirror atomically. An unpushed hand edit found there first is pushed
   * (it would otherwise be overwritten). A failing mirror is logged; the database stays right.
   */
  private writeMirror(text: string): Promise<void> {
    return this.mirrored(async () => {
      await this.captureHandEdit();
      if (text === this.mirrorText) return;
      try {
        await fs.mkdir(path.dirname(this.file), { recursive: true });
        // Looked at again right before the rename, so that an edit saved meanwhile is pushed
        // rather than replaced unseen (the window left is the rename itself).
        await atomicWrite(this.file, text, 0o600, { beforeRename: () => this.captureHandEdit() });
        this.mirrorText = text;
        this.mirrorHistory.push(text);
        if (this.mirrorHistory.length > HISTORY) this.mirrorHistory.shift();
      } catch (err) {
        this.options.logger.warn(
          `cli-proxy-management: cannot write the config mirror (${errCode(err)})`,
        );
      }
    });
  }

  /** Hand the mirror's text to the core when a person edited it (run within `mirrored`). */
  private async captureHandEdit(): Promise<void> {
    // While the database is away the edit stays in the file; it is pushed after the reconnect.
    if (this.mirrorText === undefined || this.closed || !this.events || !this.db.up) return;
    let edited: string;
    try {
      edited = await fs.readFile(this.file, 'utf8');
    } catch {
      return; // removed: it is written again at the next change
    }
    if (edited === this.mirrorText || edited === this.pushedEdit) return;
    if (edited.trim() === '') {
      // An editor that truncates before it writes shows an empty file for a moment; a config is
      // never emptied through its mirror (that would wipe every replica).
      return;
    }
    // A file being saved can be read half-way: take it only once a second read agrees.
    await new Promise((resolve) => setTimeout(resolve, 25));
    const again = await fs.readFile(this.file, 'utf8').catch(() => undefined);
    if (again !== edited) {
      void this.mirrored(() => this.captureHandEdit()).catch(() => undefined);
      return;
    }
    this.pushedEdit = edited;
    const base = closestBase(edited, this.mirrorHistory);
    // Not awaited: the core stores it in turn (it may be waiting on this very mirror write).
    void this.events
      .edited((newest) => mergeHandEdit(edited, base, newest))
      .then((outcome) => {
        if (outcome.ok) return;
        if (outcome.reason === 'unavailable') {
          // Lost on the way: pushed again after the reconnect (the file still holds it).
          if (this.pushedEdit === edited) this.pushedEdit = undefined;
          return;
        }
        if (outcome.reason === 'invalid_yaml') {
          // Not pushed: the last good config keeps serving; the next change overwrites the mirror.
          this.options.logger.warn(
            `cli-proxy-management: the config mirror was edited but is not valid, not pushed: ${outcome.message}`,
          );
        } else
          this.options.logger.warn(
            `cli-proxy-management: a hand edit of the config mirror could not be pushed (${outcome.message})`,
          );
      });
  }
}
