import pg from 'pg';
import { ManagementError } from '../../errors';
import type { Logger } from '../spi';
import { StoreError } from '../errors';
import { HISTORY_SCHEMA } from '../../history/pg-journal';

/** The one channel every replica listens on; payloads name their namespace. */
export const CHANNEL = 'cli_proxy_management';

/** Key of the transaction-scoped advisory lock taken while the tables are created. */
const SCHEMA_LOCK = 0x63706d00; // 'cpm\0'

/** Created on first use; every statement is idempotent and runs under {@link SCHEMA_LOCK}. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS cpm_config (
  namespace text PRIMARY KEY,
  text text NOT NULL,
  version bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE IF NOT EXISTS cpm_token_rev;
CREATE TABLE IF NOT EXISTS cpm_token_files (
  namespace text NOT NULL,
  name text NOT NULL,
  data bytea NOT NULL,
  size integer NOT NULL,
  mtime timestamptz NOT NULL,
  rev bigint NOT NULL,
  PRIMARY KEY (namespace, name)
);
CREATE TABLE IF NOT EXISTS cpm_lockout (
  namespace text NOT NULL,
  key text NOT NULL,
  failures integer NOT NULL,
  reset_time bigint NOT NULL,
  PRIMARY KEY (namespace, key)
);
CREATE TABLE IF NOT EXISTS cpm_oauth_sessions (
  namespace text NOT NULL,
  state text NOT NULL,
  provider text NOT NULL,
  flow text NOT NULL,
  status text NOT NULL,
  deadline bigint NOT NULL,
  expires_at bigint NOT NULL,
  result text,
  secret text,
  PRIMARY KEY (namespace, state)
);
`;

/** A notification of one namespace, as sent by `pg_notify(CHANNEL, json)`. */
export type Notice =
  | { readonly ns: string; readonly k: 'config'; readonly v: number }
  | { readonly ns: string; readonly k: 'tokens' }
  | {
      readonly ns: string;
      readonly k: 'lockout';
      readonly key: string;
      readonly f: number;
      readonly r: number;
    };

/** SQL that sends a notice: `pg_notify` with a JSON payload built by the server (no quoting by hand). */
export const notifySql = (json: string): string => `pg_notify('${CHANNEL}', ${json}::text)`;

export interface DbOptions {
  readonly connectionString?: string | undefined;
  readonly pool?: pg.Pool | undefined;
  readonly logger: Logger;
  /** First reconnect delay (ms); doubles up to {@link DbOptions.maxRetryMs}. */
  readonly minRetryMs: number;
  readonly maxRetryMs: number;
}

/** What a store does after every (re)connect, in registration order: re-read what it may have missed. */
export type Resync = () => Promise<void>;

/** The code of a database or socket error (`ECONNREFUSED`, `57P01`...); never its message (it may hold a host or user name). */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? code : 'error';
}

/** pg's own connection errors carry no code; these are their messages (checked for the class only, never shown). */
const CONNECTION_MESSAGES =
  /connection terminated|connection error|client was closed|client has encountered|timeout exceeded when trying to connect|not queryable|connection ended/i;

/**
 * Whether `err` means "the database cannot be reached or used right now" (answer 503, retry
 * later) rather than a bug, a refused statement or an error thrown by the caller's own code:
 * socket errors (`ECONNREFUSED`, `ECONNRESET`...), pg's own connection errors, and the SQLSTATE
 * classes 08 (connection), 28 (authorization), 3D (no such database), 53 (insufficient
 * resources) and 57 (operator intervention: `pg_terminate_backend`, shutdown).
 */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error) || err instanceof StoreError) return false;
  const code = (err as { code?: unknown }).code;
  if ('severity' in err && typeof code === 'string') return /^(08|28|3D|53|57)/.test(code);
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true;
  return CONNECTION_MESSAGES.test(err.message);
}

/**
 * One replica's connections: a pool for statements and a dedicated client that LISTENs. It
 * never throws at its owner and never lets an `'error'` event go unhandled: a lost connection
 * marks it down, a reconnect loop with backoff brings it back, and every registered
 * {@link Resync} runs after each successful (re)connect so notices missed meanwhile are not lost.
 */
export class Db {
  readonly pool: pg.Pool;
  private readonly ownPool: boolean;
  private listener: pg.Client | pg.PoolClient | undefined;
  private state: 'connecting' | 'up' | 'down' | 'closed' = 'connecting';
  private readonly noticeHandlers = new Set<(notice: Notice) => void>();
  private readonly downHandlers = new Set<() => void>();
  private readonly resyncs: Resync[] = [];
  private retryMs: number;
  private timer: NodeJS.Timeout | undefined;
  private schemaReady = false;
  private loop: Promise<void> | undefined;
  private firstUp!: () => void;
  private firstFailed!: (err: unknown) => void;
  /** Resolves at the first successful connect and resync; rejects only on a fatal error. */
  readonly started: Promise<void>;
  private reportedDown = false;
  private reportedWaiting = false;
  private readonly ended = new WeakSet<pg.Client | pg.PoolClient>();
  private readonly onPoolError = (err: Error): void => this.lost(err);

  constructor(private readonly options: DbOptions) {
    this.retryMs = options.minRetryMs;
    this.started = new Promise<void>((resolve, reject) => {
      this.firstUp = resolve;
      this.firstFailed = reject;
    });
    void this.started.catch(() => undefined);
    if (options.pool) {
      this.pool = options.pool;
      this.ownPool = false;
    } else {
      this.pool = new pg.Pool({
        connectionString: options.connectionString,
        max: 4,
        keepAlive: true,
        connectionTimeoutMillis: 5000,
      });
      this.ownPool = true;
    }
    // An idle client that loses its connection is removed by the pool, which then emits 'error'.
    this.pool.on('error', this.onPoolError);
  }

  /** Whether statements can be sent now (connected, listening, resynced). */
  get up(): boolean {
    return this.state === 'up';
  }

  /** Whether the database was found unreachable and has not been reached since. */
  get unreachable(): boolean {
    return this.reportedDown;
  }

  /** Call `handler` when the database is found unreachable (once per outage); returns the unsubscribe function. */
  onDown(handler: () => void): () => void {
    this.downHandlers.add(handler);
    return () => this.downHandlers.delete(handler);
  }

  /** Seconds after which a retry makes sense, for `Retry-After`. */
  get retryAfter(): number {
    return Math.max(1, Math.ceil(this.retryMs / 1000));
  }

  /** The error every operation fails with while the database cannot be used. */
  unavailable(): StoreError {
    return new StoreError('UNAVAILABLE', '', this.retryAfter);
  }

  onNotice(handler: (notice: Notice) => void): void {
    this.noticeHandlers.add(handler);
  }

  /** Run `resync` after every (re)connect; `first`: before the others (the config, whose bootstrap seeds the rest). */
  onResync(resync: Resync, first = false): void {
    if (first) this.resyncs.unshift(resync);
    else this.resyncs.push(resync);
  }

  /** Start connecting (once every store has registered its handlers). */
  start(): void {
    if (!this.loop) this.loop = this.connect();
  }

  /**
   * Run `fn` in one transaction on a pooled client. Fails with `UNAVAILABLE` at once while the
   * database is down, and when the connection breaks on the way (the owner changes nothing
   * then); other database errors are rethrown as they are, for the caller to map.
   */
  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (!this.up) throw this.unavailable();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      this.lost(err);
      throw this.unavailable();
    }
    // A checked-out client whose connection drops between two statements emits 'error'.
    const onError = (err: Error): void => this.lost(err);
    client.on('error', onError);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      if (isUnavailable(err)) {
        broken = err instanceof Error ? err : new Error('connection lost');
        this.lost(err);
        throw this.unavailable();
      }
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /** One statement outside a transaction; same error rules as {@link Db.transaction}. */
  async query<R extends pg.QueryResultRow>(
    sql: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    if (!this.up) throw this.unavailable();
    try {
      return await this.pool.query<R>(sql, values);
    } catch (err) {
      if (isUnavailable(err)) {
        this.lost(err);
        throw this.unavailable();
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.loop?.catch(() => undefined);
    await this.dropListener();
    this.pool.off('error', this.onPoolError);
    if (this.ownPool) await this.pool.end().catch(() => undefined);
    this.firstFailed(this.unavailable());
  }

  /** A connection broke: mark the database down and make sure a reconnect is coming. */
  private lost(err: unknown): void {
    if (this.state === 'closed') return;
    this.reportDown(err);
    if (this.state === 'up') {
      this.state = 'down';
      void this.dropListener();
      this.schedule();
    }
  }

  /** One warning per outage, with the error's code only (never its message: it may name the host or user). */
  private reportDown(err: unknown): void {
    if (this.reportedDown) return;
    this.reportedDown = true;
    this.options.logger.warn(
      `cli-proxy-management: database unreachable (${errorCode(err)}); writes answer 503 until it is back`,
    );
    for (const handler of [...this.downHandlers]) handler();
  }

  private schedule(): void {
    if (this.state === 'closed' || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.loop = this.connect();
    }, this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(this.options.maxRetryMs, this.retryMs * 2);
  }

  private async dropListener(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    if (listener) await this.endClient(listener);
  }

  /** End a listening client once (a pooled one is released as broken, so the pool drops it). */
  private async endClient(client: pg.Client | pg.PoolClient): Promise<void> {
    if (this.ended.has(client)) return;
    this.ended.add(client);
    client.removeAllListeners('notification');
    client.removeAllListeners('end');
    // Keep an error handler: the socket may still report its end after this.
    client.on('error', () => undefined);
    if ('release' in client) client.release(true);
    else await client.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.state === 'closed') return;
    let listener: pg.Client | pg.PoolClient | undefined;
    try {
      if (this.options.pool) {
        listener = await this.options.pool.connect();
      } else {
        listener = new pg.Client({
          connectionString: this.options.connectionString,
          keepAlive: true,
          connectionTimeoutMillis: 5000,
        });
        listener.on('error', () => undefined); // until connected; replaced below
        await listener.connect();
      }
      const mine = listener;
      mine.removeAllListeners('error');
      mine.on('error', (err: Error) => {
        if (this.listener === mine) this.lost(err);
      });
      mine.on('end', () => {
        if (this.listener === mine)
          this.lost(Object.assign(new Error('connection ended'), { code: 'ECONNRESET' }));
      });
      mine.on('notification', (msg: pg.Notification) => this.dispatch(msg));
      this.listener = mine;
      if (!this.schemaReady) {
        await mine.query('BEGIN');
        await mine.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await mine.query(SCHEMA + HISTORY_SCHEMA);
        await mine.query('COMMIT');
        this.schemaReady = true;
      }
      await mine.query(`LISTEN ${CHANNEL}`);
      // Listening first, then re-reading: a change committed in between is seen by one or both.
      this.state = 'up';
      for (const resync of this.resyncs) await resync();
      if (this.state !== 'up')
        throw Object.assign(new Error('lost during resync'), { code: 'ECONNRESET' });
      this.retryMs = this.options.minRetryMs;
      if (this.reportedDown)
        this.options.logger.warn('cli-proxy-management: database reachable again');
      this.reportedDown = false;
      this.firstUp();
    } catch (err) {
      if ((this.state as string) === 'closed') {
        if (listener) await this.endClient(listener);
        return;
      }
      if (err instanceof ManagementError && err.code === 'ERR_CONFIG_NOT_FOUND') {
        // Nothing to seed from here: another replica may seed the namespace. Wait for it.
        if (!this.reportedWaiting)
          this.options.logger.warn(
            `cli-proxy-management: ${err.message}; waiting for a replica that has one`,
          );
        this.reportedWaiting = true;
        this.state = 'down';
        await this.dropListener();
        this.schedule();
        return;
      }
      if (err instanceof ManagementError) {
        // A fatal start-up error (an invalid seed): stop here.
        this.state = 'down';
        await this.dropListener();
        this.options.logger.warn(`cli-proxy-management: cannot start: ${err.message}`);
        this.firstFailed(err);
        return;
      }
      if (!isUnavailable(err) && !(err instanceof StoreError)) {
        this.options.logger.warn(
          `cli-proxy-management: database error while connecting (${errorCode(err)}); retrying`,
        );
      }
      this.reportDown(err);
      this.state = 'down';
      if (this.listener === listener) this.listener = undefined;
      if (listener) await this.endClient(listener);
      this.schedule();
    }
  }

  private dispatch(msg: pg.Notification): void {
    if (msg.channel !== CHANNEL || !msg.payload) return;
    let notice: Notice;
    try {
      notice = JSON.parse(msg.payload) as Notice;
    } catch {
      return;
    }
    for (const handler of this.noticeHandlers) {
      try {
        handler(notice);
      } catch {
        this.options.logger.warn('cli-proxy-management: a database notice handler threw');
      }
    }
  }
}
