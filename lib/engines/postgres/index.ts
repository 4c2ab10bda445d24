import type pg from 'pg';
import { ManagementError } from '../../errors';
import { checkOptionNames } from '../../option-check';
import type { Storage } from '../spi';
import { PgConfigBackend } from './config-pg';
import { Db } from './db';
import { PgLockoutStore } from './lockout-pg';
import { PgOAuthSessionStore } from './oauth-sessions-pg';
import { PgTokenStore } from './tokens-pg';
import { PgJournal } from '../../history/pg-journal';

/** Options of {@link postgresStorage}: exactly one of `connectionString` and `pool`. */
export interface PostgresStorageOptions {
  /**
   * A PostgreSQL connection string (`postgres://user:password@host:5432/db`). The engine opens
   * its own pool (at most 4 connections) and one listening connection, and closes them with the
   * router. Never echoed in an error, a log line or an answer.
   */
  readonly connectionString?: string;
  /**
   * An existing `pg.Pool` to use instead; one of its connections is held for LISTEN. The pool
   * stays open when the router closes (it is the host's).
   */
  readonly pool?: pg.Pool;
  /**
   * Several configs in one database: replicas with the same namespace share one config, one
   * set of auth files and one lock-out. 1 to 200 characters. Default: `'default'`.
   */
  readonly namespace?: string;
  /** First reconnect delay after the database was lost, in ms; doubles up to `maxRetryMs`. Default: `250`. */
  readonly minRetryMs?: number;
  /** Longest reconnect delay, in ms (also the longest `Retry-After`). Default: `5000`. */
  readonly maxRetryMs?: number;
  /**
   * How long `ready()` waits for the database at start, in ms. A replica that cannot reach it
   * starts from its mirror (`configPath`) as soon as the database is found unreachable, and
   * reconnects in the background; one without a usable mirror rejects `ready()` after this wait
   * with `ERR_STORAGE_UNAVAILABLE`. Default: `10000`.
   */
  readonly startTimeoutMs?: number;
}

/**
 * The PostgreSQL storage engine: replicas on several machines share one config (the user's YAML
 * text), one set of auth files, one lock-out and the pending OAuth logins, kept in the database. Each replica serves
 * reads from memory, mirrors the config to `configPath` and the files to `authDir`, and hears
 * of every change at once (LISTEN/NOTIFY). Design notes in the README
 * beside this file.
 *
 * `pg` (node-postgres) is an optional peer dependency: install it to use this engine.
 *
 * @throws {ManagementError} `ERR_INVALID_OPTION` for missing or conflicting options.
 */
export function postgresStorage(options: PostgresStorageOptions): Storage {
  checkOptionNames('postgresStorage', options, [
    'connectionString',
    'pool',
    'namespace',
    'minRetryMs',
    'maxRetryMs',
    'startTimeoutMs',
  ]);
  const given = options ?? ({} as PostgresStorageOptions);
  const hasUrl = typeof given.connectionString === 'string' && given.connectionString !== '';
  const hasPool = given.pool !== undefined;
  if (hasUrl === hasPool)
    throw new ManagementError(
      'ERR_INVALID_OPTION',
      'postgresStorage needs exactly one of connectionString and pool',
    );
  if (hasPool && typeof given.pool?.connect !== 'function')
    throw new ManagementError('ERR_INVALID_OPTION', 'pool must be a pg.Pool');
  const namespace = given.namespace ?? 'default';
  if (typeof namespace !== 'string' || namespace.length < 1 || namespace.length > 200) {
    throw new ManagementError(
      'ERR_INVALID_OPTION',
      'namespace must be a string of 1 to 200 characters',
    );
  }
  const minRetryMs = given.minRetryMs ?? 250;
  const maxRetryMs = given.maxRetryMs ?? 5000;
  if (
    !Number.isSafeInteger(minRetryMs) ||
    minRetryMs < 10 ||
    !Number.isSafeInteger(maxRetryMs) ||
    maxRetryMs < minRetryMs
  ) {
    throw new ManagementError(
      'ERR_INVALID_OPTION',
      'minRetryMs must be an integer >= 10 and maxRetryMs >= minRetryMs',
    );
  }
  const startTimeoutMs = given.startTimeoutMs ?? 10_000;
  if (!Number.isSafeInteger(startTimeoutMs) || startTimeoutMs < 0)
    throw new ManagementError('ERR_INVALID_OPTION', 'startTimeoutMs must be an integer >= 0');
  return {
    open({ configPath, authDir, watch, logger, history: limits }) {
      const db = new Db({
        connectionString: given.connectionString,
        pool: given.pool,
        logger,
        minRetryMs,
        maxRetryMs,
      });
      let tokens: PgTokenStore;
      try {
        tokens = new PgTokenStore({ db, namespace, authDir, logger });
      } catch (err) {
        void db.close();
        throw err;
      }
      const journal = limits ? new PgJournal(db, namespace, limits) : undefined;
      const config = new PgConfigBackend({
        db,
        namespace,
        configPath,
        watch,
        logger,
        startTimeoutMs,
        journal,
        seedTokens: () => tokens.seed(),
      });
      const lockout = new PgLockoutStore({ db, namespace, logger });
      // The connection closes once both stores are closed (the router closes them together).
      let open = 2;
      const release = async (): Promise<void> => {
        if (--open === 0) await db.close();
      };
      const closeConfig = config.close.bind(config);
      const closeTokens = tokens.close.bind(tokens);
      config.close = async () => {
        await closeConfig();
        await release();
      };
      tokens.close = async () => {
        await closeTokens();
        await release();
      };
      // The connection starts with the config (`config.start()`, called by the core).
      return { config, tokens, lockout, oauthSessions: new PgOAuthSessionStore({ db, namespace }) };
    },
  };
}
