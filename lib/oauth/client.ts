// The OAuth protocol, on oauth4webapi: discovery, the authorization URL with PKCE, the code
// grant, the device authorization and its polling. oauth4webapi is loaded at the first login
// (a host without logins never loads it). Nothing here answers HTTP or touches a session.
import type * as O from 'oauth4webapi';
import { loadModule } from '../load-sync';
import type { ResolvedProvider } from './settings';
import type { OAuthTokens } from './types';

let loaded: Promise<typeof O> | undefined;
/** oauth4webapi, loaded once. */
export function oauth4webapi(): Promise<typeof O> {
  loaded ??= loadModule('oauth4webapi').then((m) => m as typeof O);
  return loaded;
}

/** The parts of a token response a login keeps. */
function tokensOf(o: typeof O, result: O.TokenEndpointResponse): OAuthTokens {
  const claims = o.getValidatedIdTokenClaims(result);
  const tokens: Record<string, unknown> = {
    access_token: result.access_token,
    token_type: result.token_type,
    response: { ...result },
    obtained_at: new Date(),
  };
  for (const k of ['refresh_token', 'expires_in', 'scope', 'id_token'] as const)
    if (result[k] !== undefined) tokens[k] = result[k];
  if (claims) tokens.claims = { ...claims };
  return tokens as unknown as OAuthTokens;
}

/** What a device authorization answered. */
export interface DeviceStart {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly url: string;
  readonly expiresIn: number;
  readonly interval: number;
}

/** How a poll of the token endpoint for a device code ended. */
export type DevicePoll =
  | { readonly tokens: OAuthTokens }
  | { readonly wait: 'pending' | 'slow_down' }
  | { readonly error: string };

/** One provider's client: the server's metadata (discovered once), the client and its authentication. */
export class ProviderClient {
  #server: Promise<O.AuthorizationServer> | undefined;

  constructor(readonly rp: ResolvedProvider) {}

  /** The request options of every call: the provider's fetch, http: where allowed, the signal. */
  #options<T extends object>(o: typeof O, signal: AbortSignal | undefined): T {
    const options: { signal?: AbortSignal; [k: symbol]: unknown } = {};
    if (signal) options.signal = signal;
    if (this.rp.fetch) options[o.customFetch] = this.rp.fetch;
    if (this.rp.insecure) options[o.allowInsecureRequests] = true;
    return options as T;
  }

  #client(): O.Client {
    return { client_id: this.rp.provider.clientId };
  }

  #auth(o: typeof O): O.ClientAuth {
    const secret = this.rp.provider.clientSecret ?? '';
    if (this.rp.clientAuth === 'client_secret_basic') return o.ClientSecretBasic(secret);
    if (this.rp.clientAuth === 'client_secret_post') return o.ClientSecretPost(secret);
    return o.None();
  }

  /** The server's metadata: discovered at the first call (a failure is tried again next time), else the declared endpoints. */
  server(signal?: AbortSignal): Promise<O.AuthorizationServer> {
    const p = this.rp.provider;
    if (!this.#server) {
      this.#server = (async () => {
        const o = await oauth4webapi();
        const issuer = new URL(p.issuer);
        const declared = {
          ...(p.authorizationEndpoint ? { authorization_endpoint: p.authorizationEndpoint } : {}),
          ...(p.tokenEndpoint ? { token_endpoint: p.tokenEndpoint } : {}),
          ...(p.deviceAuthorizationEndpoint
            ? { device_authorization_endpoint: p.deviceAuthorizationEndpoint }
            : {}),
        };
        if (!p.discovery) return { issuer: p.issuer, ...declared };
        const response = await o.discoveryRequest(issuer, {
          ...this.#options<O.DiscoveryRequestOptions>(o, signal),
          algorithm: p.discovery,
        });
        const discovered = await o.processDiscoveryResponse(issuer, response);
        return { ...discovered, ...declared };
      })();
      this.#server.catch(() => {
        this.#server = undefined;
      });
    }
    return this.#server;
  }

  /** The authorization URL of a code login; the PKCE challenge of `verifier` when PKCE is on. */
  async authorizationUrl(
    state: string,
    redirectUri: string,
    verifier: string | undefined,
  ): Promise<string> {
    const o = await oauth4webapi();
    const as = await this.server();
    if (!as.authorization_endpoint) throw new Error('no authorization endpoint');
    const url = new URL(as.authorization_endpoint);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.rp.provider.clientId);
    url.searchParams.set('redirect_uri', redirectUri);
    if (this.rp.scope) url.searchParams.set('scope', this.rp.scope);
    url.searchParams.set('state', state);
    if (verifier !== undefined) {
      url.searchParams.set('code_challenge', await o.calculatePKCECodeChallenge(verifier));
      url.searchParams.set('code_challenge_method', 'S256');
    }
    for (const [k, v] of this.rp.extraParams) url.searchParams.set(k, v);
    return url.href;
  }

  /** A new PKCE verifier (when PKCE is on). */
  async verifier(): Promise<string | undefined> {
    return this.rp.pkce ? (await oauth4webapi()).generateRandomCodeVerifier() : undefined;
  }

  /** The code grant: the callback's parameters checked (`state`, `iss`), the code exchanged. */
  async exchange(
    params: URLSearchParams,
    state: string,
    redirectUri: string,
    verifier: string | undefined,
    signal: AbortSignal,
  ): Promise<OAuthTokens> {
    const o = await oauth4webapi();
    const as = await this.server(signal);
    const client = this.#client();
    const checked = o.validateAuthResponse(as, client, params, state);
    const response = await o.authorizationCodeGrantRequest(
      as,
      client,
      this.#auth(o),
      checked,
      redirectUri,
      verifier ?? o.nopkce,
      this.#options(o, signal),
    );
    return tokensOf(o, await o.processAuthorizationCodeResponse(as, client, response));
  }

  /** The device authorization request. */
  async deviceStart(signal?: AbortSignal): Promise<DeviceStart> {
    const o = await oauth4webapi();
    const as = await this.server(signal);
    const params = new URLSearchParams();
    if (this.rp.scope) params.set('scope', this.rp.scope);
    for (const [k, v] of this.rp.extraParams) params.set(k, v);
    const response = await o.deviceAuthorizationRequest(
      as,
      this.#client(),
      this.#auth(o),
      params,
      this.#options(o, signal),
    );
    const r = await o.processDeviceAuthorizationResponse(as, this.#client(), response);
    return {
      deviceCode: r.device_code,
      userCode: r.user_code,
      url: r.verification_uri_complete ?? r.verification_uri,
      expiresIn: r.expires_in,
      interval: typeof r.interval === 'number' && r.interval > 0 ? r.interval : 5,
    };
  }

  /** One poll of the token endpoint for a device code. */
  async devicePoll(deviceCode: string, signal: AbortSignal): Promise<DevicePoll> {
    const o = await oauth4webapi();
    const as = await this.server(signal);
    try {
      const response = await o.deviceCodeGrantRequest(
        as,
        this.#client(),
        this.#auth(o),
        deviceCode,
        this.#options(o, signal),
      );
      return {
        tokens: tokensOf(o, await o.processDeviceCodeResponse(as, this.#client(), response)),
      };
    } catch (err) {
      if (err instanceof o.ResponseBodyError) {
        if (err.error === 'authorization_pending') return { wait: 'pending' };
        if (err.error === 'slow_down') return { wait: 'slow_down' };
        return { error: /^[\x21-\x7e]{1,64}$/.test(err.error) ? err.error : 'invalid_response' };
      }
      throw err;
    }
  }
}
