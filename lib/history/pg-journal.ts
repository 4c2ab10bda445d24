// The PostgreSQL engine's history: a table, written in the transaction that commits the change
// (so an entry exists exactly when its change does), read by every replica of the namespace.
import type pg from 'pg';
import type { Db } from '../engines/postgres/db';
import type { Draft, HistoryEntry, StoredEntry } from './entry';
import { idNumber, type HistoryLimits, type HistoryPage, type HistoryReader } from './journal';

/** The table and the id counter (a column of the config row, so ids never repeat after old entries are dropped). */
export const HISTORY_SCHEMA = `
CREATE TABLE IF NOT EXISTS cpm_history (
  namespace text NOT NULL,
  id bigint NOT NULL,
  entry text NOT NULL,
  hunks text,
  bytes integer NOT NULL,
  PRIMARY KEY (namespace, id)
);
ALTER TABLE cpm_config ADD COLUMN IF NOT EXISTS history_id bigint NOT NULL DEFAULT 0;
`;

/** What a row of `cpm_history` holds: the entry without its id, as JSON text (its members in order). */
function entryOf(id: string, json: string, hunks: string | null): StoredEntry {
  const fields = JSON.parse(json) as Omit<HistoryEntry, 'id'>;
  return hunks === null ? { id, ...fields } : { id, ...fields, hunks };
}

/** The history of one namespace. */
export class PgJournal implements HistoryReader {
  constructor(
    private readonly db: Db,
    private readonly ns: string,
    private readonly limits: HistoryLimits,
  ) {}

  /**
   * Insert a commit's entries with `client`, inside the transaction that holds the config row's
   * lock (so ids follow commit order), and drop what falls outside the limits. Returns their ids.
   */
  async insert(client: pg.PoolClient, drafts: readonly Draft[]): Promise<string[]> {
    const counter = await client.query<{ last: string }>(
      'UPDATE cpm_config SET history_id = history_id + $2 WHERE namespace = $1 RETURNING history_id AS last',
      [this.ns, drafts.length],
    );
    const last = Number(counter.rows[0]?.last ?? drafts.length);
    const ids = drafts.map((_, i) => String(last - drafts.length + 1 + i));
    const texts = drafts.map((d) => JSON.stringify({ ...d, hunks: undefined }));
    const hunks = drafts.map((d) => d.hunks ?? null);
    const bytes = drafts.map(
      (d, i) => Buffer.byteLength(texts[i] as string) + Buffer.byteLength(d.hunks ?? ''),
    );
    await client.query(
      'INSERT INTO cpm_history (namespace, id, entry, hunks, bytes) SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::integer[])',
      [this.ns, ids, texts, hunks, bytes],
    );
    await client.query(
      `DELETE FROM cpm_history WHERE namespace = $1 AND id <= (
         SELECT max(id) FROM (
           SELECT id, count(*) OVER w AS n, sum(bytes) OVER w AS total FROM cpm_history WHERE namespace = $1 WINDOW w AS (ORDER BY id DESC)
         ) kept WHERE n > $2 OR total > $3)`,
      [this.ns, this.limits.maxEntries, this.limits.maxBytes],
    );
    return ids;
  }

  async list(limit: number, before?: string): Promise<HistoryPage> {
    const below = before === undefined ? Number.MAX_SAFE_INTEGER : (idNumber(before) ?? 0);
    const found = await this.db.query<{ id: string; entry: string }>(
      'SELECT id::text AS id, entry FROM cpm_history WHERE namespace = $1 AND id < $2 ORDER BY id DESC LIMIT $3',
      [this.ns, below, limit + 1],
    );
    const rows = found.rows.slice(0, limit);
    const next = found.rows.length > limit ? (rows.at(-1)?.id ?? null) : null;
    return { entries: rows.map((r) => entryOf(r.id, r.entry, null)), next };
  }

  async get(id: string): Promise<StoredEntry | undefined> {
    const n = idNumber(id);
    if (n === undefined) return undefined;
    const found = await this.db.query<{ id: string; entry: string; hunks: string | null }>(
      'SELECT id::text AS id, entry, hunks FROM cpm_history WHERE namespace = $1 AND id = $2',
      [this.ns, n],
    );
    const row = found.rows[0];
    return row ? entryOf(row.id, row.entry, row.hunks) : undefined;
  }
}
