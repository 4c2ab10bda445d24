import type { ConfigJournal, LockoutStore, Storage, StorageContext } from '../engines/spi';
import type { TokenStore } from '../engines/tokens';
import type { OAuthSessionStore } from '../oauth/types';
import { ConfigCore } from './store';

/** The stores of one router: the core over the engine's text backend, its token and lock-out stores. */
export interface OpenedStores {
  readonly config: ConfigCore;
  readonly tokens: TokenStore;
  readonly lockout?: LockoutStore;
  /** The config's history, when the engine keeps one (the history routes are mounted then). */
  readonly history?: ConfigJournal;
  readonly oauthSessions?: OAuthSessionStore;
}

/**
 * Open `storage` for one router and put the core over its text backend. A config that is not
 * usable at construction (`ERR_CONFIG_INVALID`) closes what was opened before it throws.
 */
export function openStores(
  storage: Storage,
  context: StorageContext,
  bcryptRounds: number,
): OpenedStores {
  const opened = storage.open(context);
  try {
    const config = new ConfigCore(opened.config, {
      logger: context.logger,
      bcryptRounds,
      source: context.configPath,
    });
    const history = context.history ? opened.config.history : undefined;
    return {
      config,
      tokens: opened.tokens,
      lockout: opened.lockout,
      oauthSessions: opened.oauthSessions,
      ...(history ? { history } : {}),
    };
  } catch (err) {
    void opened.tokens.close().catch(() => undefined);
    throw err;
  }
}
