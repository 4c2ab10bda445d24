import { mkdirSync, promises as fs, readFileSync, realpathSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { ManagementError } from '../../errors';
import type { Logger } from '../../types';
import { applyGroup, BaseConfigStore, type Parsed, type Pending } from '../config-store';
import { diff3Merge, diffPatch } from '../diff3';
import { errCode, saveFailed, StoreError } from '../errors';
import { atomicWrite } from '../file/atomic-write';
import { configuredSecret, hashSecret, isBcryptHash, replaceSecret } from '../secret';
import { parseConfigText } from '../yaml-text';
import { registerSource } from '../typed';
import { errorCode, notifySql, type Db } from './db';

export interface PgConfigStoreOptions {
  readonly db: Db;
  readonly namespace: string;
  readonly configPath: string;
  readonly watch: boolean;
  readonly logger: Logger;
  readonly bcryptRounds: number;
  /** How long `ready()` waits for the database when there is no mirror to start from (ms). */
  readonly startTimeoutMs: number;
  /** The valid token files of `authDir`, read when this store seeds an empty namespace. */
  readonly seedTokens: () => Promise<{ name: string; data: Buffer; mtime: Date }[]>;
}

const NOTIFY_CONFIG = notifySql(`json_build_object('ns', $1::text, 'k', 'config', 'v', $2::bigint)`);

/** The config of a parsed text as the key is read from it (an unquoted key is its text as written: `0x1F`, not `31`). */
function readable(p: Parsed): Record<string, unknown> {
  const config = (p.parsed.doc.toJS() ?? {}) as Record<string, unknown>;
  registerSource(config, p.text);
  return config;
}

/** A text parsed, or a `SAVE_FAILED` for a text that is not a usable config. */
function parse(text: string): Parsed {
  const parsed = parseConfigText(text);
  if ('error' in parsed) throw saveFailed(parsed.error);
  return { text, parsed };
}

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
  for (const region of diff3Merge(edited.split(/\r?\n/), base.split(/\r?\n/), newest.split(/\r?\n/), { excludeFalseConflicts: true })) {
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
    const cost = diffPatch(candidate.split(/\r?\n/), lines).reduce((sum, h) => sum + h.buffer1.length + h.buffer2.length, 0);
    if (cost < bestCost) {
      best = candidate;
      bestCost = cost;
    }
  }
  return best;
}

/**
 * The PostgreSQL engine's config store. The database row `(namespace, text, version)` is the
 * source of truth; memory serves reads; `configPath` is a mirror written atomically after every
 * change. See `README.md` beside this file for the design.
 */
export class PgConfigStore extends BaseConfigStore {
  private readonly db: Db;
  private readonly ns: string;
  /** Where the mirror is written (the real path when `configPath` is a symlink). */
  readonly file: string;
  private version = 0;
  private synced = false;
  /** The text this replica last wrote to (or found in) the mirror: the base of a hand edit. */
  private mirrorText: string | undefined;
  /** The last texts written to the mirror, newest last: the candidates for a hand edit's base. */
  private readonly mirrorHistory: string[] = [];
  /** The last hand edit pushed, so that it is not pushed twice. */
  private pushedEdit: string | undefined;
  private watcher: FSWatcher | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  /** Whether `configPath` held a usable config at start: a replica can start from it without the database. */
  private readonly fromMirror: boolean;
  private readyPromise: Promise<void> | undefined;

  constructor(private readonly options: PgConfigStoreOptions) {
    super(options.logger);
    this.db = options.db;
    this.ns = options.namespace;
    let file = path.resolve(options.configPath);
    try {
      file = realpathSync(file);
    } catch {
      // no mirror yet: it is written at the first sync
    }
    this.file = file;
    // Until the first sync, reads serve the local copy (if it is usable) rather than nothing.
    let initial: Parsed = parse('');
    try {
      const text = readFileSync(this.file, 'utf8');
      const parsed = parseConfigText(text);
      if (!('error' in parsed)) initial = { text, parsed };
    } catch {
      // missing or unreadable: the database's copy comes with the first sync
    }
    this.fromMirror = initial.text.trim() !== '';
    this.adopt(initial, undefined);
    this.db.onNotice((notice) => {
      if (notice.ns === this.ns && notice.k === 'config' && notice.v > this.version && !this.closed) {
        // Checked again in turn: the notice of our own commit can arrive before the commit returns.
        void this.exclusive(async () => {
          if (notice.v > this.version && !this.closed) await this.pull();
        }).catch(() => undefined);
      }
    });
    // After a reconnect, a hand edit of the mirror made while the database was away is pushed
    // (merged onto the newest text) before the database's text is mirrored over it.
    this.db.onResync(() => this.exclusive(async () => (this.synced ? (await this.captureHandEdit(), await this.pull()) : await this.bootstrap())), true);
    if (options.watch) this.startWatching();
  }

  /**
   * Resolves once the replica serves the database's config; or, when the database is found
   * unreachable and the mirror holds a usable config, at once from the mirror (reads answer,
   * writes `503`, the reconnect goes on in the background). Without a mirror it rejects after
   * `startTimeoutMs` with `ERR_STORAGE_UNAVAILABLE`; meanwhile a timer keeps the process alive,
   * so a host awaiting it never exits silently.
   */
  override ready(): Promise<void> {
    this.readyPromise ??= new Promise<void>((resolve, reject) => {
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
      if (this.fromMirror) {
        if (this.db.unreachable) return settle();
        const off = this.db.onDown(() => settle());
        offDown = () => void off();
      }
      timer = setTimeout(() => {
        if (this.fromMirror) return settle();
        settle(
          new ManagementError(
            'ERR_STORAGE_UNAVAILABLE',
            `no config from the database within ${this.options.startTimeoutMs} ms (it cannot be reached, or its namespace has no config yet), and ${this.options.configPath} holds none to start from`,
          ),
        );
      }, this.options.startTimeoutMs);
    });
    return this.readyPromise;
  }

  reload(): Promise<void> {
    return this.exclusive(async () => {
      if (!this.synced || !this.db.up) return;
      await this.captureHandEdit();
      await this.pull().catch(() => undefined);
    });
  }

  override async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.checkTimer) clearTimeout(this.checkTimer);
    await super.close();
  }

  /**
   * First sync: take the namespace's config, or seed it from `configPath` and `authDir` once.
   * Replicas that start together serialise on an advisory lock of the namespace; the first
   * inserts, the others find its row (`ON CONFLICT DO NOTHING` as a second guard).
   */
  private async bootstrap(): Promise<void> {
    const found = await this.db.query<{ text: string; version: string }>('SELECT text, version FROM cpm_config WHERE namespace = $1', [this.ns]);
    let row = found.rows[0];
    if (!row) {
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
      const parsed = parseConfigText(text);
      if ('error' in parsed) throw new ManagementError('ERR_CONFIG_INVALID', `${this.options.configPath}: ${parsed.error}`);
      // Hashed before the insert: a plaintext key of the seed file never reaches the database.
      let seed: Parsed;
      try {
        seed = await this.hashKey({ text, parsed });
      } catch (err) {
        throw new ManagementError('ERR_CONFIG_INVALID', `${this.options.configPath}: ${err instanceof StoreError ? err.reason : 'the management key cannot be hashed'}`);
      }
      const tokens = await this.options.seedTokens();
      row = await this.db.transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cli-proxy-management:${this.ns}`]);
        const inserted = await client.query('INSERT INTO cpm_config (namespace, text, version) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING', [this.ns, seed.text]);
        if (inserted.rowCount === 1) {
          for (const t of tokens) {
            await client.query(
              `INSERT INTO cpm_token_files (namespace, name, data, size, mtime, rev) VALUES ($1, $2, $3, $4, $5, nextval('cpm_token_rev')) ON CONFLICT DO NOTHING`,
              [this.ns, t.name, t.data, t.data.length, t.mtime],
            );
          }
          await client.query(`SELECT ${NOTIFY_CONFIG}`, [this.ns, 1]);
        }
        const now = await client.query<{ text: string; version: string }>('SELECT text, version FROM cpm_config WHERE namespace = $1', [this.ns]);
        return now.rows[0];
      });
      if (!row) throw saveFailed('the namespace vanished');
    }
    await this.take(row.text, Number(row.version), undefined);
    this.synced = true;
  }

  /** Re-read the row; adopt it when it is newer than ours. */
  private async pull(): Promise<void> {
    const found = await this.db.query<{ text: string; version: string }>('SELECT text, version FROM cpm_config WHERE namespace = $1', [this.ns]);
    const row = found.rows[0];
    if (!row) return;
    const version = Number(row.version);
    if (version !== this.version || row.text !== this.current.text) await this.take(row.text, version, 'file');
  }

  /** Adopt a text from the database and write it to the mirror. */
  private async take(text: string, version: number, source: 'file' | undefined): Promise<void> {
    const parsed = parseConfigText(text);
    if ('error' in parsed) {
      // Only a hand-made row could be invalid: keep serving the last good config.
      this.error = parsed.error;
      this.version = version;
      this.logger.warn(`cli-proxy-management: the database holds a config that is not valid: ${parsed.error}`);
      return;
    }
    this.version = version;
    this.adopt({ text, parsed }, source);
    await this.writeMirror(text);
  }

  protected async commit(batch: Pending[]): Promise<void> {
    if (!this.synced || !this.db.up) {
      this.failAll(batch, this.db.unavailable());
      return;
    }
    let outcome: { base: Parsed; baseVersion: number; done: Pending[]; failed: [Pending, unknown][]; next: Parsed | undefined };
    try {
      outcome = await this.db.transaction(async (client) => {
        const found = await client.query<{ text: string; version: string }>('SELECT text, version FROM cpm_config WHERE namespace = $1 FOR UPDATE', [this.ns]);
        const row = found.rows[0];
        if (!row) throw saveFailed('the database has no config for this namespace');
        const baseVersion = Number(row.version);
        // The group applies to the newest text, whatever this replica has heard of so far.
        const base = row.text === this.current.text ? this.current : parse(row.text);
        const { next, done, failed } = applyGroup(base, batch);
        if (!next || done.length === 0) return { base, baseVersion, done, failed, next: undefined };
        const stored = await this.hashKey(next);
        await client.query('UPDATE cpm_config SET text = $2, version = $3, updated_at = now() WHERE namespace = $1', [this.ns, stored.text, baseVersion + 1]);
        await client.query(`SELECT ${NOTIFY_CONFIG}`, [this.ns, baseVersion + 1]);
        return { base, baseVersion, done, failed, next: stored };
      });
    } catch (err) {
      if (!(err instanceof StoreError)) this.logger.warn(`cli-proxy-management: database error while saving the config (${errorCode(err)})`);
      this.failAll(batch, err instanceof StoreError ? err : saveFailed('database error'));
      return;
    }
    const { base, baseVersion, done, failed, next } = outcome;
    // Committed: adopt and mirror before acknowledging.
    if (next) {
      this.version = baseVersion + 1;
      this.adopt(next, 'api');
      await this.writeMirror(next.text);
    } else if (base !== this.current) {
      this.version = baseVersion;
      this.adopt(base, 'file');
      await this.writeMirror(base.text);
    }
    this.published(done.length, failed.length, next !== undefined);
    for (const p of done) p.resolve();
    for (const [p, error] of failed) p.reject(error);
  }

  /**
   * `next` with a plaintext management key replaced by its bcrypt hash (at its anchor when it
   * is reached through an alias; the text is kept otherwise). A text whose key cannot be hashed
   * (over bcrypt's 72 bytes, or behind a shared anchor) is refused with `SAVE_FAILED`: a
   * plaintext key never reaches the database.
   */
  private async hashKey(next: Parsed): Promise<Parsed> {
    const { path: keyPath, value, refused } = configuredSecret(readable(next));
    if (refused) throw saveFailed(refused);
    if (value === '' || isBcryptHash(value)) return next;
    const hash = await hashSecret(value, this.options.bcryptRounds);
    const replaced = applyGroup(next, [{ edit: { doc: (doc) => replaceSecret(doc, keyPath, value, hash) }, resolve: () => undefined, reject: () => undefined }]);
    const stored = replaced.next ?? next;
    if (replaced.failed.length > 0 || configuredSecret(readable(stored)).value !== hash) {
      throw saveFailed('the management key could not be replaced by its hash');
    }
    return stored;
  }

  /**
   * Write `text` to the mirror atomically. An unpushed hand edit found there first is pushed
   * (it would otherwise be overwritten). A failing mirror is logged; the database stays right.
   */
  private async writeMirror(text: string): Promise<void> {
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
      this.logger.warn(`cli-proxy-management: cannot write the config mirror (${errCode(err)})`);
    }
  }

  /** Push the mirror's text as a change when a person edited it (called within `exclusive`). */
  private async captureHandEdit(): Promise<void> {
    // While the database is away the edit stays in the file; it is pushed after the reconnect.
    if (this.mirrorText === undefined || this.closed || !this.db.up) return;
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
      this.scheduleCheck();
      return;
    }
    const parsed = parseConfigText(edited);
    if ('error' in parsed) {
      // Not pushed: the last good config keeps serving; the next change overwrites the mirror.
      if (this.error !== parsed.error) this.logger.warn(`cli-proxy-management: the config mirror was edited but is not valid, not pushed: ${parsed.error}`);
      this.error = parsed.error;
      return;
    }
    this.pushedEdit = edited;
    const base = closestBase(edited, this.mirrorHistory);
    this.mutateText((newest) => mergeHandEdit(edited, base, newest)).catch((err: unknown) => {
      if (err instanceof StoreError && err.code === 'UNAVAILABLE') {
        // Lost on the way: pushed again after the reconnect (the file still holds it).
        if (this.pushedEdit === edited) this.pushedEdit = undefined;
        return;
      }
      const reason = err instanceof StoreError ? err.reason || err.code : 'error';
      this.logger.warn(`cli-proxy-management: a hand edit of the config mirror could not be pushed (${reason})`);
    });
  }

  private startWatching(): void {
    try {
      const base = path.basename(this.file);
      mkdirSync(path.dirname(this.file), { recursive: true });
      this.watcher = watch(path.dirname(this.file), { persistent: false }, (_event, name) => {
        if (name === null || name === base) this.scheduleCheck();
      });
      this.watcher.on('error', () => {
        this.logger.warn('cli-proxy-management: config mirror watcher failed; hand edits are picked up at the next change only');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.logger.warn('cli-proxy-management: cannot watch the config mirror; hand edits are picked up at the next change only');
    }
  }

  private scheduleCheck(): void {
    if (this.closed) return;
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.checkTimer = setTimeout(() => {
      this.checkTimer = undefined;
      if (this.closed) return;
      void this.exclusive(() => this.captureHandEdit()).catch(() => undefined);
    }, 20);
    this.checkTimer.unref();
  }
}
