// The login routes: `GET /<id>-auth-url`, `GET /get-auth-status`, `POST /oauth-callback`,
// `DELETE /oauth-session` behind the router's access control, and the keyless
// `GET /oauth-callback` (mounted ahead of the key check: gate and remote check only; a bad state
// counts toward the lock-out as a wrong key would).
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { lockoutKey, type AccessMiddleware } from '../http/access';
import { HttpError, sendError } from '../http/errors';
import { sendJson } from '../http/reply';
import type { RouteTable } from '../http/routes';
import type { LockoutStore } from '../types';
import { isStateShape, LoginError, type CallbackInput, type Logins } from './logins';
import type { ResolvedProvider } from './settings';

/** The lock-out the keyless callback counts toward. */
export interface CallbackLockout {
  readonly store: LockoutStore;
  readonly maxAttempts: number;
  readonly ipv6Subnet: number;
}

const sendFailure = (res: Response, err: LoginError): void =>
  sendJson(res, { status: 'error', error: err.message }, err.status);

/** A query parameter as one string; a repeated one is its first value, a non-string `undefined`. */
function query(req: Request, name: string): string | undefined {
  const v: unknown = req.query[name];
  const first: unknown = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first : undefined;
}

/** The state of a poll or cancel: `400` when missing or malformed. */
function stateParam(req: Request): string {
  const state = query(req, 'state');
  if (state === undefined || state === '') throw new LoginError(400, 'missing state');
  if (!isStateShape(state)) throw new LoginError(400, 'invalid state');
  return state;
}

const WEBUI = new Set(['true', '1', 'yes', 'on']);

/** `state`, `code`, `error`, `iss` from a pasted address: its query, else its fragment. */
function fromRedirectUrl(raw: string): Record<string, string | undefined> {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new LoginError(400, 'invalid redirect_url');
  }
  const keys = ['state', 'code', 'error', 'error_description', 'iss'];
  let params = url.searchParams;
  if (!keys.some((k) => params.has(k))) params = new URLSearchParams(url.hash.replace(/^#/, ''));
  return Object.fromEntries(keys.map((k) => [k, params.get(k) ?? undefined]));
}

/** The callback's parameters from a body (`POST`) or query (`GET`); the body's own members win over `redirect_url`'s. */
function callbackInput(fields: Record<string, unknown>): CallbackInput {
  for (const k of ['provider', 'redirect_url', 'code', 'state', 'error', 'iss']) {
    if (fields[k] !== undefined && typeof fields[k] !== 'string')
      throw new LoginError(400, 'invalid body');
  }
  const str = (k: string): string | undefined =>
    typeof fields[k] === 'string' && fields[k] !== '' ? (fields[k] as string) : undefined;
  const pasted =
    str('redirect_url') !== undefined ? fromRedirectUrl(str('redirect_url') as string) : {};
  const pick = (k: string): string | undefined => str(k) ?? pasted[k];
  return {
    provider: str('provider'),
    state: pick('state'),
    code: pick('code'),
    error: pick('error'),
    iss: pick('iss'),
  };
}

/** Run a handler whose `LoginError`s answer `{"status":"error","error":...}`. */
const login =
  (fn: (req: Request, res: Response) => Promise<void>) =>
  async (req: Request, res: Response): Promise<void> => {
    try {
      await fn(req, res);
    } catch (err) {
      if (err instanceof LoginError) return sendFailure(res, err);
      throw err;
    }
  };

/** Define the login routes (behind the key) on `routes`; the keyless callback is {@link publicCallback}. */
export function loginRoutes(
  routes: RouteTable,
  providers: readonly ResolvedProvider[],
  logins: Logins,
  json: RequestHandler,
): void {
  for (const rp of providers) {
    routes.define(`/${rp.id}-auth-url`, {
      get: async (req, res) => {
        const redirectUri =
          rp.provider.redirectUri ??
          `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}/oauth-callback`;
        const webui = WEBUI.has((query(req, 'is_webui') ?? '').toLowerCase());
        try {
          sendJson(res, await logins.start(rp, redirectUri, webui));
        } catch (err) {
          if (err instanceof LoginError) throw new HttpError(err.status, err.message);
          throw err;
        }
      },
    });
  }
  routes.define('/get-auth-status', {
    get: login(async (req, res) => {
      const view = await logins.status(stateParam(req));
      sendJson(res, view ?? { status: 'error', error: 'unknown or expired state' });
    }),
  });
  const take = login(async (req, res) => {
    const body: unknown = req.method === 'POST' ? req.body : req.query;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new LoginError(400, 'invalid body');
    await logins.callback(
      callbackInput(
        req.method === 'POST'
          ? (body as Record<string, unknown>)
          : {
              state: query(req, 'state'),
              code: query(req, 'code'),
              error: query(req, 'error'),
              iss: query(req, 'iss'),
            },
      ),
    );
    sendJson(res, { status: 'ok' });
  });
  routes.define('/oauth-callback', { get: take, post: take }, { post: [json] });
  routes.define('/oauth-session', {
    delete: login(async (req, res) => {
      sendJson(res, { status: 'ok', cancelled: await logins.cancel(stateParam(req)) });
    }),
  });
}

const CALLBACK_PATH = /^\/oauth-callback\/?$/i;
const retryAfter = (resetTime: number): string =>
  String(Math.max(1, Math.ceil((resetTime - Date.now()) / 1000)));

/**
 * `GET /oauth-callback` without a key, for a browser the provider redirected here: the gate and
 * the remote check apply, a locked-out client gets `429`, and an unknown or malformed state
 * counts as a wrong key. Every other request goes on to the router's usual layers.
 */
export function publicCallback(
  access: AccessMiddleware,
  logins: Logins,
  lockout: CallbackLockout,
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !CALLBACK_PATH.test(req.path))
      return next();
    access.gate(req, res, (err?: unknown) => {
      if (err !== undefined) return next(err);
      access.remote(req, res, (err2?: unknown) => {
        if (err2 !== undefined) return next(err2);
        void run(req, res).catch(next);
      });
    });
  };

  async function run(req: Request, res: Response): Promise<void> {
    const client = lockoutKey(req.ip, lockout.ipv6Subnet);
    const record = await lockout.store.get(client);
    if (record && record.failures >= lockout.maxAttempts) {
      return sendError(
        res,
        new HttpError(429, 'too many failed attempts', undefined, {
          'Retry-After': retryAfter(record.resetTime),
        }),
      );
    }
    try {
      await logins.callback({
        state: query(req, 'state'),
        code: query(req, 'code'),
        error: query(req, 'error'),
        iss: query(req, 'iss'),
      });
      sendJson(res, { status: 'ok' });
    } catch (err) {
      if (!(err instanceof LoginError)) throw err;
      if (err.counts) {
        const counted = await lockout.store.increment(client);
        if (counted.failures > lockout.maxAttempts) {
          return sendError(
            res,
            new HttpError(429, 'too many failed attempts', undefined, {
              'Retry-After': retryAfter(counted.resetTime),
            }),
          );
        }
      }
      sendFailure(res, err);
    }
  }
}
