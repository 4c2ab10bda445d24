// What the router mounts for the logins: the routes behind the key, the keyless callback ahead
// of it, `POST /vertex/import` (always), and what `close()` stops.
import type { RequestHandler } from 'express';
import type { AccessMiddleware } from '../http/access';
import type { RouteTable } from '../http/routes';
import type { OpenedStores } from '../config/open';
import type { Logger, ProxyConfig } from '../types';
import { Logins } from './logins';
import { loginRoutes, publicCallback, type CallbackLockout } from './routes';
import { MemoryOAuthSessionStore } from './sessions';
import type { ResolvedOAuth } from './settings';
import type { AuthFileListener } from './types';
import { vertexRoutes } from './vertex';

export { resolveOAuth, type ResolvedOAuth } from './settings';

/** The host's `onAuthFile` made safe to call: a throw is logged (its name only), never passed on. */
export function authFileNotifier(
  listener: AuthFileListener | undefined,
  logger: Logger,
): AuthFileListener | undefined {
  if (!listener) return undefined;
  return (name, source) => {
    try {
      listener(name, source);
    } catch (err) {
      logger.warn(
        `cli-proxy-management: onAuthFile failed (${err instanceof Error ? err.name : typeof err})`,
      );
    }
  };
}

/** What one router needs for its logins. */
export interface OAuthMountOptions {
  readonly oauth: ResolvedOAuth | undefined;
  readonly opened: OpenedStores;
  readonly config: () => ProxyConfig;
  readonly logger: Logger;
  /** The host's `onAuthFile`, already made safe by {@link authFileNotifier}. */
  readonly onAuthFile: AuthFileListener | undefined;
  readonly uploadLimit: number;
  readonly json: RequestHandler;
}

/** The login parts of one router. */
export interface OAuthMount {
  /** The keyless `GET /oauth-callback`, to mount ahead of the key check (`undefined`: no providers). */
  publicCallback(access: AccessMiddleware, lockout: CallbackLockout): RequestHandler | undefined;
  /** Define the routes behind the key. */
  define(routes: RouteTable): void;
  /** Stop background logins and listeners. */
  close(): Promise<void>;
}

/** Build the login parts; with no provider only `/vertex/import` is mounted. */
export function mountOAuth(o: OAuthMountOptions): OAuthMount {
  const providers = o.oauth?.providers ?? [];
  const logins =
    o.oauth && providers.length > 0
      ? new Logins({
          oauth: o.oauth,
          sessions: o.oauth.sessionStore ?? o.opened.oauthSessions ?? new MemoryOAuthSessionStore(),
          tokens: o.opened.tokens,
          config: o.config,
          logger: o.logger,
          onAuthFile: o.onAuthFile,
        })
      : undefined;
  return {
    publicCallback: (access, lockout) =>
      logins ? publicCallback(access, logins, lockout) : undefined,
    define(routes) {
      if (logins) loginRoutes(routes, providers, logins, o.json);
      vertexRoutes(routes, o.opened.tokens, o.uploadLimit, o.onAuthFile);
    },
    close: async () => {
      await logins?.close();
    },
  };
}
