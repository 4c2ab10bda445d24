import type { ProxyConfig } from '../types';

import type { MaybePromise } from '../runtime/types';

/** The `oauth` option: the login providers the panel's OAuth page offers, and the session limits. */
export interface OAuthOptions {
  /** The providers; each mounts `GET /<id>-auth-url`. Default: `[]`. */
  readonly providers?: readonly OAuthProvider[];
  /** How long a started login waits for its callback (or device approval), ms. Default: `1800000` (30 minutes). */
  readonly sessionTtlMs?: number;
  /** How long a finished login's `ok` or error stays readable by `GET /get-auth-status`, ms. Default: `60000`. */
  readonly finishedTtlMs?: number;
  /** Most logins pending at once per router; one more is `429 too many pending logins`. Default: `50`. */
  readonly maxPending?: number;
  /**
   * Where login sessions live. Default: the storage engine's shared store when it has one
   * (PostgreSQL: a login started on one replica completes through another), else a new
   * {@link MemoryOAuthSessionStore}.
   */
  readonly sessionStore?: OAuthSessionStore;
}

/** One login provider, declared with standard OAuth 2.0 parameters. */
export interface OAuthProvider {
  /** Route `GET /<id>-auth-url`; 1-32 of `a-z0-9-`, unique. */
  readonly id: string;
  /** `authorization_code` (with PKCE unless `pkce: false`) or `device_code` (RFC 8628). */
  readonly flow: 'authorization_code' | 'device_code';
  /** The authorization server's issuer identifier (an `https:` URL). */
  readonly issuer: string;
  /** Find the endpoints through the issuer's metadata (`oidc`: `/.well-known/openid-configuration`; `oauth2`: RFC 8414). Default: none, the endpoints below are given. */
  readonly discovery?: 'oidc' | 'oauth2';
  /** Authorization endpoint (code flow, without `discovery`). */
  readonly authorizationEndpoint?: string;
  /** Token endpoint (without `discovery`). */
  readonly tokenEndpoint?: string;
  /** Device authorization endpoint (device flow, without `discovery`). */
  readonly deviceAuthorizationEndpoint?: string;
  /** The client id registered with the server. */
  readonly clientId: string;
  /** The client secret, if the client has one; sent only to the token and device endpoints. */
  readonly clientSecret?: string;
  /** How the client authenticates to the token endpoint. Default: `client_secret_post` with a secret, else `none`. */
  readonly clientAuth?: 'none' | 'client_secret_post' | 'client_secret_basic';
  /** Scopes, space-joined into `scope`. Default: none. */
  readonly scopes?: readonly string[];
  /** More parameters of the authorization URL (code flow) or of the device authorization request; never a standard one. Default: none. */
  readonly extraParams?: Readonly<Record<string, string>>;
  /** The redirect URI. Default: `<scheme>://<host><mount>/oauth-callback` of the request that started the login. */
  readonly redirectUri?: string;
  /** A loopback listener on this port serves `redirectUri`'s path while a login started with `is_webui` waits. Default: none. */
  readonly callbackPort?: number;
  /** PKCE (S256) on the code flow. Default: `true`. */
  readonly pkce?: boolean;
  /** Every request to the authorization server goes through this (proxies, odd servers). Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Allow `http:` endpoints that are not on loopback (tests). Default: `false`. */
  readonly allowInsecureRequests?: boolean;
  /**
   * The token file of a login: its name (the auth-file name rules) and JSON object. Throw the
   * runtime's `HookError` (or any error named `HookError` with a short message) to show its
   * message; any other throw ends the login as `Failed to save authentication tokens`.
   */
  toAuthFile(
    tokens: OAuthTokens,
    ctx: OAuthContext,
  ): MaybePromise<{ readonly name: string; readonly json: Record<string, unknown> }>;
}

/** What a login obtained, as the token endpoint answered and oauth4webapi checked it. */
export interface OAuthTokens {
  /** The access token. */
  readonly access_token: string;
  /** The token type (`bearer`, lower-cased). */
  readonly token_type: string;
  /** The refresh token, when sent. */
  readonly refresh_token?: string;
  /** Lifetime of the access token in seconds, when sent. */
  readonly expires_in?: number;
  /** The granted scope, when sent. */
  readonly scope?: string;
  /** The ID token, when sent. */
  readonly id_token?: string;
  /** The ID token's claims, as oauth4webapi checked them (when an ID token was sent). */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** The whole token response. */
  readonly response: Readonly<Record<string, unknown>>;
  /** When the tokens were obtained. */
  readonly obtained_at: Date;
}

/** What {@link OAuthProvider.toAuthFile} gets besides the tokens. */
export interface OAuthContext {
  /** The provider of the login. */
  readonly provider: OAuthProvider;
  /** Aborted when the login is cancelled or times out. */
  readonly signal: AbortSignal;
  /** The provider's `fetch` (or the global one), for calls to the provider's own APIs. */
  readonly fetch: typeof fetch;
  /** The config at the time the login finished. */
  readonly config: ProxyConfig;
}

/** Where a login stands. */
export type OAuthSessionStatus = 'pending' | 'exchanging' | 'ok' | 'error';

/**
 * One login, as a {@link OAuthSessionStore} keeps it. `secret` holds what only the server may
 * know (the PKCE verifier, the redirect URI of the token request); it never reaches an answer.
 */
export interface OAuthSession {
  /** The provider's id. */
  readonly provider: string;
  /** The provider's flow. */
  readonly flow: 'authorization_code' | 'device_code';
  /** Where the login stands. */
  readonly status: OAuthSessionStatus;
  /** `pending`/`exchanging`: when it times out; `ok`/`error`: when it stops being readable. Epoch ms. */
  readonly deadline: number;
  /** When the store may forget the session (at or after `deadline`). Epoch ms. */
  readonly expiresAt: number;
  /** `ok`: the file written; `error`: the message. */
  readonly result?: string;
  /** The PKCE verifier and the redirect URI of a pending code login; dropped once the grant starts. */
  readonly secret?: { readonly verifier?: string; readonly redirectUri?: string };
}

/**
 * Where login sessions are kept, keyed by their state: a memory map by default
 * ({@link MemoryOAuthSessionStore}), a table with the PostgreSQL engine. Shaped like
 * `LockoutStore`: methods may be sync or async; a session past its `expiresAt` is never returned.
 */
export interface OAuthSessionStore {
  /**
   * Add a session under a new state, unless `maxPending` sessions are already `pending` with a
   * `deadline` after `now`: then nothing is added and the answer is `false`.
   */
  create(
    state: string,
    session: OAuthSession,
    maxPending: number,
    now: number,
  ): MaybePromise<boolean>;
  /** The session, or `undefined` when there is none or it expired. */
  get(state: string): MaybePromise<OAuthSession | undefined>;
  /** Replace the session only if its status is one of `from` (compare-and-set); whether it did. */
  update(
    state: string,
    from: readonly OAuthSessionStatus[],
    next: OAuthSession,
  ): MaybePromise<boolean>;
  /** Remove the session only if its status is one of `from`; whether it did. */
  delete(state: string, from: readonly OAuthSessionStatus[]): MaybePromise<boolean>;
}

/** Where a token file came from, as {@link AuthFileListener} is told. */
export type AuthFileSource = 'login' | 'upload';

/** Told that a token file was written by a login (`login`) or by an upload or import through the API (`upload`). */
export type AuthFileListener = (name: string, source: AuthFileSource) => void;
