// The logins: start, poll, callback, cancel, and the work in the background (the code grant, the
// device polling, the token file). Sessions live in the session store, keyed by their state, so
// any replica sharing the store can answer a poll or take a callback. Secrets (verifier, codes,
// tokens, the client secret) reach no answer and no log line.
import { randomBytes } from 'node:crypto';
import type { TokenStore } from '../engines/tokens';
import type { Logger, ProxyConfig } from '../types';
import { ProviderClient, type DeviceStart } from './client';
import { CallbackListeners } from './listener';
import { isLive, viewSession, type SessionView } from './sessions';
import type { ResolvedOAuth, ResolvedProvider } from './settings';
import { writeTokenFile } from './token-file';
import type {
  AuthFileListener,
  OAuthSession,
  OAuthSessionStatus,
  OAuthSessionStore,
  OAuthTokens,
} from './types';

/** A failure answered `<status> {"status":"error","error":<message>}`; `counts` for the lock-out of the keyless callback. */
export class LoginError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly counts = false,
  ) {
    super(message);
    this.name = 'LoginError';
  }
}

/** What `/<id>-auth-url` answers. */
export type StartAnswer =
  | { status: 'ok'; url: string; state: string }
  | {
      status: 'ok';
      url: string;
      state: string;
      flow: 'device';
      user_code: string;
      expires_in: number;
    };

/** A callback's parameters, from a body, a query or a pasted address. */
export interface CallbackInput {
  readonly provider?: string | undefined;
  readonly state?: string | undefined;
  readonly code?: string | undefined;
  readonly error?: string | undefined;
  readonly iss?: string | undefined;
}

const STATE = /^[A-Za-z0-9._-]{1,128}$/;
/** A state must be 1-128 of `A-Za-z0-9._-`. */
export const isStateShape = (s: string): boolean => STATE.test(s);

/** The code grant's time limit, then the toAuthFile + write time: an exchanging session times out after both. */
const GRANT_MS = 30_000;
const EXCHANGE_MS = 2 * GRANT_MS;
const SAVE_FAILED = 'Failed to save authentication tokens';
const EXCHANGE_FAILED = 'Failed to exchange authorization code for tokens';

/** A short printable text to show (a server's error code, a HookError's message), else `undefined`. */
const printable = (s: unknown, max: number): string | undefined =>
  typeof s === 'string' && s.length <= max && /^[\x20-\x7e]+$/.test(s) ? s : undefined;

/** The message of a `HookError` (the runtime's, or any error so named), when it may be shown. */
function hookMessage(err: unknown): string | undefined {
  return err instanceof Error && err.name === 'HookError' ? printable(err.message, 200) : undefined;
}

/** An error's name and code for a log line (never its message: it may hold a URL, a code or a token). */
const describe = (err: unknown): string => {
  const name = err instanceof Error ? err.name : typeof err;
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(code) ? `${name}, ${code}` : name;
};

/** Sleep `ms`, or until `signal` aborts (then false). The timer never keeps the process alive. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve(!signal.aborted);
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
  });
}

export interface LoginsOptions {
  readonly oauth: ResolvedOAuth;
  readonly sessions: OAuthSessionStore;
  readonly tokens: TokenStore;
  readonly config: () => ProxyConfig;
  readonly logger: Logger;
  readonly onAuthFile: AuthFileListener | undefined;
  readonly now?: () => number;
}

/** The logins of one router. */
export class Logins {
  readonly #o: LoginsOptions;
  readonly #now: () => number;
  readonly #clients = new Map<string, ProviderClient>();
  /** Background work of this process, by state: aborted by a cancel here or by `close()`. */
  readonly #running = new Map<string, AbortController>();
  readonly #listeners: CallbackListeners;
  #closed = false;

  constructor(options: LoginsOptions) {
    this.#o = options;
    this.#now = options.now ?? ((): number => Date.now());
    for (const rp of options.oauth.providers) this.#clients.set(rp.id, new ProviderClient(rp));
    this.#listeners = new CallbackListeners(options.logger, (query) =>
      this.callback(this.#fromQuery(query)),
    );
  }

  /** The parameters of a query (a redirect the browser followed). */
  #fromQuery(q: URLSearchParams): CallbackInput {
    const get = (k: string): string | undefined => q.get(k) ?? undefined;
    return { state: get('state'), code: get('code'), error: get('error'), iss: get('iss') };
  }

  #client(id: string): ProviderClient {
    const client = this.#clients.get(id);
    if (!client) throw new LoginError(404, 'unknown or expired state');
    return client;
  }

  /** Start a login; `redirectUri` is the provider's or the one derived from the request. */
  async start(rp: ResolvedProvider, redirectUri: string, webui: boolean): Promise<StartAnswer> {
    const client = this.#client(rp.id);
    const state = randomBytes(32).toString('base64url');
    const now = this.#now();
    const { sessionTtlMs, finishedTtlMs, maxPending } = this.#o.oauth;
    const listen = webui && rp.callbackPort !== undefined;
    if (listen) {
      try {
        await this.#listeners.need(
          rp.callbackPort as number,
          rp.callbackPath as string,
          state,
          now + sessionTtlMs,
        );
      } catch {
        throw new LoginError(500, 'failed to start callback server');
      }
    }
    let verifier: string | undefined;
    try {
      verifier = rp.flow === 'authorization_code' ? await client.verifier() : undefined;
    } catch (err) {
      this.#listeners.release(state);
      throw err;
    }
    const session: OAuthSession = {
      provider: rp.id,
      flow: rp.flow,
      status: 'pending',
      deadline: now + sessionTtlMs,
      expiresAt: now + sessionTtlMs + finishedTtlMs,
      ...(rp.flow === 'authorization_code'
        ? { secret: { ...(verifier !== undefined ? { verifier } : {}), redirectUri } }
        : {}),
    };
    if (!(await this.#o.sessions.create(state, session, maxPending, now))) {
      this.#listeners.release(state);
      throw new LoginError(429, 'too many pending logins');
    }
    try {
      if (rp.flow === 'authorization_code')
        return {
          status: 'ok',
          url: await client.authorizationUrl(state, redirectUri, verifier),
          state,
        };
      const device = await client.deviceStart();
      const deadline = Math.min(session.deadline, now + device.expiresIn * 1000);
      await this.#o.sessions.update(state, ['pending'], {
        ...session,
        deadline,
        expiresAt: deadline + finishedTtlMs,
      });
      this.#background(state, (signal) => this.#pollDevice(rp, state, device, signal));
      return {
        status: 'ok',
        url: device.url,
        state,
        flow: 'device',
        user_code: device.userCode,
        expires_in: device.expiresIn,
      };
    } catch (err) {
      this.#o.logger.warn(
        `cli-proxy-management: oauth login "${rp.id}" could not start (${describe(err)})`,
      );
      await this.#o.sessions.delete(state, ['pending']);
      this.#listeners.release(state);
      throw new LoginError(502, 'failed to start login');
    }
  }

  /** The poll: `wait`, `ok` with the file, an error, or `undefined` for an unknown or expired state. */
  async status(state: string): Promise<SessionView | undefined> {
    const view = viewSession(await this.#o.sessions.get(state), this.#now());
    if (view?.status !== 'wait') this.#listeners.release(state);
    return view;
  }

  /** Cancel a login that has not finished: whether there was one. */
  async cancel(state: string): Promise<boolean> {
    const session = await this.#o.sessions.get(state);
    if (!isLive(session, this.#now())) return false;
    const deleted = await this.#o.sessions.delete(state, ['pending', 'exchanging']);
    this.#running.get(state)?.abort();
    this.#listeners.release(state);
    return deleted;
  }

  /** Take a callback: checked in the documented order; accepted, the grant runs in the background. */
  async callback(input: CallbackInput): Promise<void> {
    const { state, code, error } = input;
    if (state === undefined || state === '') throw new LoginError(400, 'state is required');
    if (!isStateShape(state)) throw new LoginError(400, 'invalid state', true);
    if (!code && !error) throw new LoginError(400, 'code or error is required');
    const now = this.#now();
    const session = await this.#o.sessions.get(state);
    if (!viewSession(session, now) || !session)
      throw new LoginError(404, 'unknown or expired state', true);
    if (input.provider !== undefined && input.provider.toLowerCase() !== session.provider)
      throw new LoginError(400, 'provider does not match state');
    if (session.flow === 'device_code')
      throw new LoginError(409, 'oauth flow does not take a callback');
    if (session.status !== 'pending' || !isLive(session, now))
      throw new LoginError(409, 'oauth flow is not pending');
    const rp = this.#client(session.provider).rp;
    if (error) {
      const message = `Authentication failed: ${printable(error, 128) ?? 'invalid_request'}`;
      if (!(await this.#finish(state, ['pending'], 'error', message)))
        throw new LoginError(409, 'oauth flow is not pending');
      this.#listeners.release(state);
      return;
    }
    const exchanging: OAuthSession = {
      provider: session.provider,
      flow: session.flow,
      status: 'exchanging',
      deadline: now + EXCHANGE_MS,
      expiresAt: now + EXCHANGE_MS + this.#o.oauth.finishedTtlMs,
    };
    if (!(await this.#o.sessions.update(state, ['pending'], exchanging)))
      throw new LoginError(409, 'oauth flow is not pending');
    this.#listeners.release(state);
    const params = new URLSearchParams({ state, code: code as string });
    if (input.iss !== undefined) params.set('iss', input.iss);
    const { verifier, redirectUri = '' } = session.secret ?? {};
    this.#background(state, async (signal) => {
      let tokens: OAuthTokens;
      try {
        tokens = await this.#client(rp.id).exchange(
          params,
          state,
          redirectUri,
          verifier,
          AbortSignal.any([signal, AbortSignal.timeout(GRANT_MS)]),
        );
      } catch (err) {
        if (signal.aborted) return;
        this.#o.logger.warn(
          `cli-proxy-management: oauth login "${rp.id}": code exchange failed (${describe(err)})`,
        );
        await this.#finish(state, ['exchanging'], 'error', EXCHANGE_FAILED);
        return;
      }
      await this.#save(rp, state, tokens, signal);
    });
  }

  /** Run `work` for `state` in the background, abortable; its failure is logged, never thrown. */
  #background(state: string, work: (signal: AbortSignal) => Promise<void>): void {
    if (this.#closed) return;
    const controller = new AbortController();
    this.#running.set(state, controller);
    void work(controller.signal)
      .catch((err: unknown) =>
        this.#o.logger.warn(`cli-proxy-management: oauth login failed (${describe(err)})`),
      )
      .finally(() => {
        if (this.#running.get(state) === controller) this.#running.delete(state);
      });
  }

  /** End a session as `ok` or `error` if its status is one of `from`; whether it did. */
  async #finish(
    state: string,
    from: readonly OAuthSessionStatus[],
    status: 'ok' | 'error',
    result: string,
  ): Promise<boolean> {
    const session = await this.#o.sessions.get(state);
    if (!session || !isLive(session, this.#now())) return false;
    const until = this.#now() + this.#o.oauth.finishedTtlMs;
    return this.#o.sessions.update(state, from, {
      provider: session.provider,
      flow: session.flow,
      status,
      result,
      deadline: until,
      expiresAt: until,
    });
  }

  /** Whether `state` is still exchanging (not cancelled, not timed out). */
  async #exchanging(state: string, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return false;
    const session = await this.#o.sessions.get(state);
    return isLive(session, this.#now()) && session.status === 'exchanging';
  }

  /** The provider's file for the tokens, written unless the login was cancelled or timed out meanwhile. */
  async #save(
    rp: ResolvedProvider,
    state: string,
    tokens: OAuthTokens,
    signal: AbortSignal,
  ): Promise<void> {
    if (!(await this.#exchanging(state, signal))) return;
    let file: { readonly name: string; readonly json: Record<string, unknown> };
    try {
      file = await rp.provider.toAuthFile(tokens, {
        provider: rp.provider,
        signal,
        fetch: rp.fetch ?? fetch,
        config: this.#o.config(),
      });
      if (typeof file !== 'object' || file === null)
        throw new TypeError('toAuthFile must return { name, json }');
    } catch (err) {
      this.#o.logger.warn(
        `cli-proxy-management: oauth login "${rp.id}": toAuthFile failed (${describe(err)})`,
      );
      await this.#finish(state, ['exchanging'], 'error', hookMessage(err) ?? SAVE_FAILED);
      return;
    }
    if (!(await this.#exchanging(state, signal))) return;
    try {
      await writeTokenFile(this.#o.tokens, file.name, file.json);
    } catch (err) {
      this.#o.logger.warn(
        `cli-proxy-management: oauth login "${rp.id}": the token file was not written (${describe(err)})`,
      );
      await this.#finish(state, ['exchanging'], 'error', SAVE_FAILED);
      return;
    }
    await this.#finish(state, ['exchanging'], 'ok', file.name);
    this.#o.onAuthFile?.(file.name, 'login');
  }

  /** Poll the token endpoint every `interval` s (+5 per `slow_down`) until approval, denial, cancel or timeout. */
  async #pollDevice(
    rp: ResolvedProvider,
    state: string,
    device: DeviceStart,
    signal: AbortSignal,
  ): Promise<void> {
    const client = this.#client(rp.id);
    let interval = device.interval;
    let warned = false;
    for (;;) {
      if (!(await sleep(interval * 1000, signal))) return;
      const session = await this.#o.sessions.get(state);
      if (!isLive(session, this.#now()) || session.status !== 'pending') return;
      let poll;
      try {
        poll = await client.devicePoll(device.deviceCode, signal);
      } catch (err) {
        if (signal.aborted) return;
        if (!warned)
          this.#o.logger.warn(
            `cli-proxy-management: oauth login "${rp.id}": token endpoint unreachable, polling on (${describe(err)})`,
          );
        warned = true;
        continue;
      }
      if ('wait' in poll) {
        if (poll.wait === 'slow_down') interval += 5;
        continue;
      }
      if ('error' in poll) {
        await this.#finish(state, ['pending'], 'error', `Authentication failed: ${poll.error}`);
        return;
      }
      const now = this.#now();
      const exchanging: OAuthSession = {
        provider: rp.id,
        flow: rp.flow,
        status: 'exchanging',
        deadline: now + EXCHANGE_MS,
        expiresAt: now + EXCHANGE_MS + this.#o.oauth.finishedTtlMs,
      };
      if (!(await this.#o.sessions.update(state, ['pending'], exchanging))) return;
      await this.#save(rp, state, poll.tokens, signal);
      return;
    }
  }

  /** Stop every background login and callback listener of this router. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const controller of this.#running.values()) controller.abort();
    await this.#listeners.close();
  }
}
