import type { LockoutRecord, LockoutStore, Logger } from '../spi';
import { LockoutRecords } from '../lockout-records';
import { errorCode, notifySql, type Db } from './db';

export interface PgLockoutStoreOptions {
  readonly db: Db;
  readonly namespace: string;
  readonly logger: Logger;
  readonly now?: () => number;
}

const NOTIFY_LOCKOUT = notifySql(
  `json_build_object('ns', $1::text, 'k', 'lockout', 'key', $2::text, 'f', failures, 'r', reset_time)`,
);

/**
 * The failed-attempt counts of the lock-out in the table `cpm_lockout`, shared by every
 * replica of a namespace. `get` answers from memory (no database round trip on a request); each
 * `increment` and `reset` is one statement that also notifies the other replicas. A notice is
 * only a hint: any role that may connect can send one, so what it says is read back from the
 * table before it is applied. Every (re)connect reloads the live records. While the database is
 * down, counts go on in memory, so a replica never stops locking out; they are written to the
 * table when it is back (the larger count wins), never forgotten.
 */
export class PgLockoutStore implements LockoutStore {
  private readonly records: LockoutRecords;
  /** Keys counted in memory only (the database was away): written at the next (re)connect. */
  private readonly offline = new Set<string>();

  constructor(private readonly options: PgLockoutStoreOptions) {
    this.records = new LockoutRecords(options.now ?? Date.now);
    options.db.onNotice((notice) => {
      if (
        notice.ns !== options.namespace ||
        notice.k !== 'lockout' ||
        typeof notice.key !== 'string'
      )
        return;
      // A notice that says what memory already holds (this replica's own, mostly) needs no read.
      const known = this.records.get(notice.key);
      if (
        notice.f <= 0
          ? known === undefined
          : known?.failures === notice.f && known.resetTime === notice.r
      )
        return;
      void this.refresh(notice.key).catch((err: unknown) => this.warn(err));
    });
    options.db.onResync(() => this.load());
  }

  init(settings: { readonly windowMs: number }): void {
    this.records.windowMs = settings.windowMs;
  }

  get(key: string): LockoutRecord | undefined {
    return this.records.get(key);
  }

  async increment(key: string): Promise<LockoutRecord> {
    const now = this.records.now();
    try {
      const { rows } = await this.options.db.query<{ failures: number; reset_time: string }>(
        `WITH r AS (
           INSERT INTO cpm_lockout AS l (namespace, key, failures, reset_time) VALUES ($1, $2, 1, $3::bigint + $4::bigint)
           ON CONFLICT (namespace, key) DO UPDATE
             SET failures = CASE WHEN l.reset_time <= $3::bigint THEN 1 ELSE l.failures + 1 END, reset_time = $3::bigint + $4::bigint
           RETURNING failures, reset_time)
         SELECT failures, reset_time, ${NOTIFY_LOCKOUT} FROM r`,
        [this.options.namespace, key, now, this.records.windowMs],
      );
      const row = rows[0];
      if (row) {
        const record = { failures: row.failures, resetTime: Number(row.reset_time) };
        const known = this.records.get(key);
        // A notice of a later increment may have arrived first: keep the larger count.
        if (!known || known.failures < record.failures || known.resetTime < record.resetTime)
          this.records.put(key, record);
        return this.records.get(key) ?? record;
      }
    } catch (err) {
      this.warn(err);
    }
    // The database is down: count here, so this replica still locks out.
    this.offline.add(key);
    return this.records.increment(key);
  }

  async reset(key: string): Promise<void> {
    this.records.delete(key);
    this.offline.delete(key);
    try {
      await this.options.db.query(
        `WITH d AS (DELETE FROM cpm_lockout WHERE namespace = $1 AND key = $2 RETURNING 0 AS failures, 0 AS reset_time)
         SELECT ${NOTIFY_LOCKOUT} FROM d`,
        [this.options.namespace, key],
      );
    } catch (err) {
      this.warn(err);
    }
  }

  /** What the table holds for `key` now (after a notice about it): the memory follows it. */
  private async refresh(key: string): Promise<void> {
    const { rows } = await this.options.db.query<{ failures: number; reset_time: string }>(
      'SELECT failures, reset_time FROM cpm_lockout WHERE namespace = $1 AND key = $2',
      [this.options.namespace, key],
    );
    const row = rows[0];
    if (this.offline.has(key)) return; // counted here meanwhile: written (and merged) at the next connect
    if (!row) this.records.delete(key);
    else this.records.put(key, { failures: row.failures, resetTime: Number(row.reset_time) });
  }

  /** Reload the live records of the namespace (after every connect), dropping expired rows; counts made offline are written first. */
  private async load(): Promise<void> {
    const now = this.records.now();
    for (const key of [...this.offline]) {
      const record = this.records.get(key);
      if (record && record.resetTime > now) {
        await this.options.db.query(
          `INSERT INTO cpm_lockout AS l (namespace, key, failures, reset_time) VALUES ($1, $2, $3, $4)
           ON CONFLICT (namespace, key) DO UPDATE
             SET failures = CASE WHEN l.reset_time <= $5::bigint THEN $3 ELSE GREATEST(l.failures, $3) END, reset_time = GREATEST(l.reset_time, $4)`,
          [this.options.namespace, key, record.failures, record.resetTime, now],
        );
      }
      this.offline.delete(key);
    }
    await this.options.db.query(
      'DELETE FROM cpm_lockout WHERE namespace = $1 AND reset_time <= $2',
      [this.options.namespace, now],
    );
    const { rows } = await this.options.db.query<{
      key: string;
      failures: number;
      reset_time: string;
    }>('SELECT key, failures, reset_time FROM cpm_lockout WHERE namespace = $1', [
      this.options.namespace,
    ]);
    this.records.clear();
    for (const r of rows)
      this.records.put(r.key, { failures: r.failures, resetTime: Number(r.reset_time) });
  }

  private warn(err: unknown): void {
    const code = (err as { code?: unknown } | undefined)?.code;
    if (code === 'UNAVAILABLE') return; // the outage is reported once by the connection
    this.options.logger.warn(
      `cli-proxy-management: lock-out count kept in memory only (${errorCode(err)})`,
    );
  }
}
