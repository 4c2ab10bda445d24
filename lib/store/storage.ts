import type { OAuthSessionStore } from '../oauth/types';
import type { LockoutStore, Logger } from '../types';
import type { ConfigStore } from './config-store';
import type { TokenStore } from './token-store';

/** What a {@link Storage} engine is given for one router. */
export interface StorageContext {
  /** The router's `configPath` argument, as given. */
  readonly configPath: string;
  /** The router's `authDir`, `~` expanded and resolved. */
  readonly authDir: string;
  /** Watch the sources for changes made outside the router (`watch` option). */
  readonly watch: boolean;
  /** Where warnings go (never with a secret in them). */
  readonly logger: Logger;
  /** bcrypt cost of the router, for an engine that hashes a plaintext key before storing it. */
  readonly bcryptRounds?: number;
}

/** The stores one router reads and writes through. */
export interface OpenedStorage {
  /** The config: reads from memory, group-committed writes. */
  readonly config: ConfigStore;
  /** The token files. */
  readonly tokens: TokenStore;
  /** A lock-out store shared by every replica, used unless the host passes `lockoutStore`. */
  readonly lockout?: LockoutStore;
  /** A login session store shared by every replica, used unless the host passes `oauth.sessionStore`. */
  readonly oauthSessions?: OAuthSessionStore;
}

/**
 * A storage engine: where the config and the token files live. The file engine
 * ({@link fileStorage}) is the default; `postgresStorage` from `cli-proxy-management/postgres`
 * shares one config and one token folder between replicas.
 */
export interface Storage {
  /**
   * Open the stores of one router. Called once, synchronously, at construction: throw a
   * `ManagementError` for a fatal misconfiguration; slow start-up work goes behind
   * `config.ready()`.
   */
  open(context: StorageContext): OpenedStorage;
}
