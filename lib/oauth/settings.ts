import { ManagementError } from '../errors';
import type { Logger } from '../types';
import type { OAuthOptions, OAuthProvider, OAuthSessionStore } from './types';

/** A provider with its defaults applied. */
export interface ResolvedProvider {
  readonly provider: OAuthProvider;
  readonly id: string;
  readonly flow: OAuthProvider['flow'];
  readonly clientAuth: 'none' | 'client_secret_post' | 'client_secret_basic';
  readonly scope: string | undefined;
  readonly extraParams: readonly (readonly [string, string])[];
  readonly pkce: boolean;
  readonly callbackPort: number | undefined;
  /** The path the loopback listener serves (`redirectUri`'s), when `callbackPort` is set. */
  readonly callbackPath: string | undefined;
  readonly fetch: typeof fetch | undefined;
  /** http: endpoints allowed (loopback ones, or `allowInsecureRequests`). */
  readonly insecure: boolean;
}

/** The `oauth` option resolved. */
export interface ResolvedOAuth {
  readonly providers: readonly ResolvedProvider[];
  readonly sessionTtlMs: number;
  readonly finishedTtlMs: number;
  readonly maxPending: number;
  readonly sessionStore: OAuthSessionStore | undefined;
}

const invalid = (message: string): ManagementError =>
  new ManagementError('ERR_INVALID_OPTION', message);

/**
 * Parameters of the authorization and device authorization requests that the library sets itself
 * (or that would put a secret in the URL): `extraParams` may not name them. (`code`, a
 * parameter of the token request, is not among them: Anthropic's authorization URL takes `code=true`.)
 */
const STANDARD_PARAMS = new Set([
  'response_type',
  'client_id',
  'client_secret',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
  'client_assertion',
  'client_assertion_type',
  'request',
  'request_uri',
  'response_mode',
  'nonce',
]);

const PROVIDER_MEMBERS = new Set([
  'id',
  'flow',
  'issuer',
  'discovery',
  'authorizationEndpoint',
  'tokenEndpoint',
  'deviceAuthorizationEndpoint',
  'clientId',
  'clientSecret',
  'clientAuth',
  'scopes',
  'extraParams',
  'redirectUri',
  'callbackPort',
  'pkce',
  'fetch',
  'allowInsecureRequests',
  'toAuthFile',
]);

/** `localhost`, `127.0.0.1` (any 127/8 address) or `[::1]`. */
export function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

function endpoint(where: string, value: unknown, insecureOk: boolean): URL {
  let url: URL;
  try {
    if (typeof value !== 'string') throw new Error();
    url = new URL(value);
  } catch {
    throw invalid(`${where} must be an absolute URL`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && (insecureOk || isLoopbackHost(url.hostname))) return url;
  throw invalid(
    `${where} must be an https: URL (http: only on loopback or with allowInsecureRequests)`,
  );
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    throw invalid(`${name} must be an integer >= 1`);
  return value;
}

function resolveProvider(p: OAuthProvider, at: string, logger: Logger): ResolvedProvider {
  if (typeof p !== 'object' || p === null) throw invalid(`${at} must be an object`);
  for (const name of Object.keys(p))
    if (!PROVIDER_MEMBERS.has(name))
      logger.warn(`cli-proxy-management: ${at}: unknown member ${JSON.stringify(name)} is ignored`);
  if (typeof p.id !== 'string' || !/^[a-z0-9-]{1,32}$/.test(p.id))
    throw invalid(`${at}.id must be 1 to 32 of a-z, 0-9 and -`);
  const where = `oauth provider "${p.id}"`;
  if (p.flow !== 'authorization_code' && p.flow !== 'device_code')
    throw invalid(`${where}: flow must be 'authorization_code' or 'device_code'`);
  if (p.allowInsecureRequests !== undefined && typeof p.allowInsecureRequests !== 'boolean')
    throw invalid(`${where}: allowInsecureRequests must be a boolean`);
  const insecureOk = p.allowInsecureRequests === true;
  const issuer = endpoint(`${where}: issuer`, p.issuer, insecureOk);
  let insecure = issuer.protocol === 'http:';
  if (p.discovery !== undefined && p.discovery !== 'oidc' && p.discovery !== 'oauth2')
    throw invalid(`${where}: discovery must be 'oidc' or 'oauth2'`);
  const needed =
    p.flow === 'authorization_code'
      ? (['authorizationEndpoint', 'tokenEndpoint'] as const)
      : (['deviceAuthorizationEndpoint', 'tokenEndpoint'] as const);
  for (const name of [
    'authorizationEndpoint',
    'tokenEndpoint',
    'deviceAuthorizationEndpoint',
  ] as const) {
    const value = p[name];
    if (value === undefined) {
      if (p.discovery === undefined && (needed as readonly string[]).includes(name))
        throw invalid(`${where}: ${name} is required without discovery`);
      continue;
    }
    if (endpoint(`${where}: ${name}`, value, insecureOk).protocol === 'http:') insecure = true;
  }
  if (typeof p.clientId !== 'string' || p.clientId.trim() === '')
    throw invalid(`${where}: clientId must be a non-empty string`);
  if (p.clientSecret !== undefined && (typeof p.clientSecret !== 'string' || p.clientSecret === ''))
    throw invalid(`${where}: clientSecret must be a non-empty string`);
  const clientAuth = p.clientAuth ?? (p.clientSecret !== undefined ? 'client_secret_post' : 'none');
  if (!['none', 'client_secret_post', 'client_secret_basic'].includes(clientAuth))
    throw invalid(
      `${where}: clientAuth must be 'none', 'client_secret_post' or 'client_secret_basic'`,
    );
  if (clientAuth !== 'none' && p.clientSecret === undefined)
    throw invalid(`${where}: clientAuth ${clientAuth} needs a clientSecret`);
  let scope: string | undefined;
  if (p.scopes !== undefined) {
    if (
      !Array.isArray(p.scopes) ||
      p.scopes.some((s) => typeof s !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s))
    )
      throw invalid(`${where}: scopes must be an array of scope tokens`);
    scope = p.scopes.length > 0 ? p.scopes.join(' ') : undefined;
  }
  const extraParams: (readonly [string, string])[] = [];
  if (p.extraParams !== undefined) {
    if (typeof p.extraParams !== 'object' || p.extraParams === null || Array.isArray(p.extraParams))
      throw invalid(`${where}: extraParams must be an object of strings`);
    for (const [name, value] of Object.entries(p.extraParams)) {
      if (typeof value !== 'string')
        throw invalid(`${where}: extraParams.${name} must be a string`);
      if (STANDARD_PARAMS.has(name.toLowerCase()))
        throw invalid(`${where}: extraParams may not set the standard parameter ${name}`);
      extraParams.push([name, value]);
    }
  }
  let redirect: URL | undefined;
  if (p.redirectUri !== undefined) {
    try {
      redirect = new URL(p.redirectUri);
    } catch {
      throw invalid(`${where}: redirectUri must be an absolute URL`);
    }
    if (redirect.protocol !== 'http:' && redirect.protocol !== 'https:')
      throw invalid(`${where}: redirectUri must be an http(s) URL`);
  }
  let callbackPath: string | undefined;
  if (p.callbackPort !== undefined) {
    if (
      typeof p.callbackPort !== 'number' ||
      !Number.isInteger(p.callbackPort) ||
      p.callbackPort < 1 ||
      p.callbackPort > 65535
    )
      throw invalid(`${where}: callbackPort must be an integer from 1 to 65535`);
    if (!redirect || !isLoopbackHost(redirect.hostname))
      throw invalid(`${where}: callbackPort needs a redirectUri on localhost, 127.0.0.1 or [::1]`);
    callbackPath = redirect.pathname;
  }
  if (p.pkce !== undefined && typeof p.pkce !== 'boolean')
    throw invalid(`${where}: pkce must be a boolean`);
  if (p.fetch !== undefined && typeof p.fetch !== 'function')
    throw invalid(`${where}: fetch must be a function`);
  if (typeof p.toAuthFile !== 'function') throw invalid(`${where}: toAuthFile must be a function`);
  return {
    provider: p,
    id: p.id,
    flow: p.flow,
    clientAuth,
    scope,
    extraParams,
    pkce: p.pkce ?? true,
    callbackPort: p.callbackPort,
    callbackPath,
    fetch: p.fetch,
    insecure,
  };
}

/** Check the `oauth` option (before any I/O); `undefined` when it is absent. */
export function resolveOAuth(
  options: OAuthOptions | undefined,
  logger: Logger,
): ResolvedOAuth | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw invalid('oauth must be an object');
  const given = options.providers ?? [];
  if (!Array.isArray(given)) throw invalid('oauth.providers must be an array');
  const providers = given.map((p: OAuthProvider, i) =>
    resolveProvider(p, `oauth.providers[${i}]`, logger),
  );
  const ids = new Set<string>();
  for (const p of providers) {
    if (ids.has(p.id)) throw invalid(`oauth provider "${p.id}" is declared twice`);
    ids.add(p.id);
  }
  const store = options.sessionStore;
  if (
    store !== undefined &&
    ['create', 'get', 'update', 'delete'].some(
      (m) => typeof (store as unknown as Record<string, unknown>)[m] !== 'function',
    )
  ) {
    throw invalid('oauth.sessionStore must implement create, get, update and delete');
  }
  return {
    providers,
    sessionTtlMs: positive('oauth.sessionTtlMs', options.sessionTtlMs, 30 * 60_000),
    finishedTtlMs: positive('oauth.finishedTtlMs', options.finishedTtlMs, 60_000),
    maxPending: positive('oauth.maxPending', options.maxPending, 50),
    sessionStore: store,
  };
}
