import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../spi';
import { StoreError, type StoreErrorCode } from '../errors';
import { FolderTokenStore } from '../file/token-folder';
import { tokenFileName, type TokenFile, type TokenFileInfo, type TokenStore } from '../tokens';
import { errorCode, notifySql, type Db } from './db';

export interface PgTokenStoreOptions {
  readonly db: Db;
  readonly namespace: string;
  readonly authDir: string;
  readonly logger: Logger;
}

interface Entry {
  readonly data: Buffer;
  readonly modtime: Date;
  readonly rev: number;
}

const NOTIFY_TOKENS = notifySql(`json_build_object('ns', $1::text, 'k', 'tokens')`);

/**
 * The PostgreSQL engine's token store. The table `cpm_token_files` holds each file's bytes,
 * size and modification time; this replica keeps every file in memory (reads never touch the
 * database) and mirrors them to `authDir` (atomic writes, through the folder store's rules).
 * Every change notifies the other replicas, which re-read the rows whose revision changed.
 */
export class PgTokenStore implements TokenStore {
  private readonly db: Db;
  private readonly ns: string;
  private readonly mirror: FolderTokenStore;
  private readonly files = new Map<string, Entry>();
  private synced = false;
  /** Every change of `files` and of the mirror runs here, one at a time. */
  private chain: Promise<unknown> = Promise.resolve();
  private syncQueued = false;

  constructor(private readonly options: PgTokenStoreOptions) {
    this.db = options.db;
    this.ns = options.namespace;
    this.mirror = new FolderTokenStore(options.authDir);
    this.db.onNotice((notice) => {
      if (notice.ns === this.ns && notice.k === 'tokens') this.requestSync();
    });
    this.db.onResync(() => this.serial(() => this.sync()));
  }

  /** The valid files of the local folder, for seeding an empty namespace. */
  async seed(): Promise<{ name: string; data: Buffer; mtime: Date }[]> {
    const out: { name: string; data: Buffer; mtime: Date }[] = [];
    for (const info of await this.mirror.list().catch(() => [])) {
      const file = await this.mirror.read(info.name).catch(() => undefined);
      if (file) out.push({ name: file.name, data: file.data, mtime: file.modtime });
    }
    return out;
  }

  async list(): Promise<TokenFileInfo[]> {
    if (!this.synced) return this.mirror.list();
    return [...this.files.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, e]) => ({ name, size: e.data.length, modtime: e.modtime }));
  }

  async read(name: string): Promise<TokenFile | undefined> {
    const checked = tokenFileName(name);
    if (!this.synced) return this.mirror.read(checked);
    const e = this.files.get(checked);
    return (
      e && { name: checked, size: e.data.length, modtime: e.modtime, data: Buffer.from(e.data) }
    );
  }

  async readAll(): Promise<TokenFile[]> {
    if (!this.synced) return this.mirror.readAll();
    return [...this.files.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, e]) => ({
        name,
        size: e.data.length,
        modtime: e.modtime,
        data: Buffer.from(e.data),
      }));
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    const checked = tokenFileName(name);
    await this.checkRegular(checked);
    const bytes = Buffer.from(data);
    await this.serial(async () => {
      const { rows } = await this.run('WRITE_FAILED', () =>
        this.db.query<{ rev: string; mtime: Date }>(
          `WITH w AS (
             INSERT INTO cpm_token_files (namespace, name, data, size, mtime, rev)
             VALUES ($1, $2, $3, $4, now(), nextval('cpm_token_rev'))
             ON CONFLICT (namespace, name) DO UPDATE SET data = EXCLUDED.data, size = EXCLUDED.size, mtime = EXCLUDED.mtime, rev = EXCLUDED.rev
             RETURNING rev, mtime)
           SELECT rev, mtime, ${NOTIFY_TOKENS} FROM w`,
          [this.ns, checked, bytes, bytes.length],
        ),
      );
      const row = rows[0];
      if (row) await this.keep(checked, { data: bytes, modtime: row.mtime, rev: Number(row.rev) });
    });
  }

  async update(name: string, edit: (data: Buffer) => Uint8Array): Promise<boolean> {
    const checked = tokenFileName(name);
    return this.serial(async () => {
      const result = await this.run('WRITE_FAILED', () =>
        this.db.transaction(async (client) => {
          const found = await client.query<{ data: Buffer }>(
            'SELECT data FROM cpm_token_files WHERE namespace = $1 AND name = $2 FOR UPDATE',
            [this.ns, checked],
          );
          const row = found.rows[0];
          if (!row) return undefined;
          const bytes = Buffer.from(edit(row.data));
          const updated = await client.query<{ rev: string; mtime: Date }>(
            `UPDATE cpm_token_files SET data = $3, size = $4, mtime = now(), rev = nextval('cpm_token_rev')
             WHERE namespace = $1 AND name = $2 RETURNING rev, mtime`,
            [this.ns, checked, bytes, bytes.length],
          );
          await client.query(`SELECT ${NOTIFY_TOKENS}`, [this.ns]);
          const u = updated.rows[0];
          return u && { data: bytes, modtime: u.mtime, rev: Number(u.rev) };
        }),
      );
      if (!result) return false;
      await this.keep(checked, result);
      return true;
    });
  }

  async remove(name: string): Promise<boolean> {
    const checked = tokenFileName(name);
    return this.serial(async () => {
      const { rows } = await this.run('DELETE_FAILED', () =>
        this.db.query(
          `WITH d AS (DELETE FROM cpm_token_files WHERE namespace = $1 AND name = $2 RETURNING name)
           SELECT name, ${NOTIFY_TOKENS} FROM d`,
          [this.ns, checked],
        ),
      );
      await this.drop(checked);
      return rows.length > 0;
    });
  }

  async removeAll(): Promise<number> {
    return this.serial(async () => {
      const { rows } = await this.run('DELETE_FAILED', () =>
        this.db.query<{ names: string[] | null }>(
          `WITH d AS (DELETE FROM cpm_token_files WHERE namespace = $1 RETURNING name)
           SELECT array_agg(name) AS names, ${NOTIFY_TOKENS} FROM d`,
          [this.ns],
        ),
      );
      const names = rows[0]?.names ?? [];
      for (const name of names) await this.drop(name);
      return names.length;
    });
  }

  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    await this.mirror.close();
  }

  /** Ask for a re-read; requests made while one is queued share it. */
  private requestSync(): void {
    if (this.syncQueued) return;
    this.syncQueued = true;
    void this.serial(async () => {
      this.syncQueued = false;
      if (this.db.up) await this.sync();
    }).catch(() => undefined);
  }

  /**
   * Bring memory and the mirror up to the table: fetch the rows whose revision differs from
   * ours, drop the names that are gone. At the first sync, local files the table does not hold
   * are removed from the mirror (the namespace's files replace the local copies).
   */
  private async sync(): Promise<void> {
    const { rows } = await this.db.query<{ name: string; rev: string }>(
      'SELECT name, rev FROM cpm_token_files WHERE namespace = $1',
      [this.ns],
    );
    const live = new Map(rows.map((r) => [r.name, Number(r.rev)]));
    const stale = [...live]
      .filter(([name, rev]) => this.files.get(name)?.rev !== rev)
      .map(([name]) => name);
    if (stale.length > 0) {
      const fetched = await this.db.query<{ name: string; data: Buffer; mtime: Date; rev: string }>(
        'SELECT name, data, mtime, rev FROM cpm_token_files WHERE namespace = $1 AND name = ANY($2)',
        [this.ns, stale],
      );
      for (const r of fetched.rows)
        await this.keep(r.name, { data: r.data, modtime: r.mtime, rev: Number(r.rev) });
    }
    for (const name of [...this.files.keys()]) if (!live.has(name)) await this.drop(name);
    if (!this.synced) {
      let removed = 0;
      for (const info of await this.mirror.list().catch(() => [])) {
        if (!live.has(info.name) && (await this.mirror.remove(info.name).catch(() => false)))
          removed++;
      }
      if (removed > 0)
        this.options.logger.warn(
          `cli-proxy-management: removed ${removed} local auth file(s) that the database does not hold`,
        );
      this.synced = true;
    }
  }

  /** Take a newer revision of a file into memory and the mirror. */
  private async keep(name: string, entry: Entry): Promise<void> {
    const known = this.files.get(name);
    if (known && known.rev >= entry.rev) return;
    this.files.set(name, entry);
    try {
      await this.mirror.write(name, entry.data);
      const file = path.join(this.options.authDir, name);
      await fs.utimes(file, entry.modtime, entry.modtime);
    } catch (err) {
      this.options.logger.warn(
        `cli-proxy-management: cannot write an auth file mirror (${err instanceof StoreError ? err.code : errorCode(err)})`,
      );
    }
  }

  private async drop(name: string): Promise<void> {
    this.files.delete(name);
    await this.mirror.remove(name).catch((err: unknown) => {
      this.options.logger.warn(
        `cli-proxy-management: cannot remove an auth file mirror (${err instanceof StoreError ? err.code : errorCode(err)})`,
      );
    });
  }

  /** A symlink or folder under that name in the mirror is the owner's doing: never replaced. */
  private async checkRegular(name: string): Promise<void> {
    try {
      const st = await fs.lstat(path.join(this.options.authDir, name));
      if (!st.isFile()) throw new StoreError('NOT_REGULAR');
    } catch (err) {
      if (err instanceof StoreError) throw err;
    }
  }

  /** A database step: `UNAVAILABLE` passes as it is, any other failure becomes `code` (no message). */
  private async run<T>(code: StoreErrorCode, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (err instanceof StoreError) throw err;
      if (err instanceof Error && !('severity' in err)) throw err; // thrown by an edit, not by the database
      this.options.logger.warn(
        `cli-proxy-management: database error on auth files (${errorCode(err)})`,
      );
      throw new StoreError(code, 'database error');
    }
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
