/**
 * OAuth logins against a real authorization server (oidc-provider on 127.0.0.1, see
 * `fixtures/oidc-server.mjs`), scripted over HTTP: the routes, the sessions, the token file.
 * Every socket this process opens must go to loopback (the last test fails otherwise).
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import type { OAuthProvider, OAuthTokens } from '../lib';
import { eventually, staysTrue } from './helpers';
import {
  Browser,
  guardLoopback,
  loginHost,
  startAuthServer,
  type AuthServer,
  type Host,
} from './oauth-server';

jest.setTimeout(60_000);

const loopback = guardLoopback();
let as: AuthServer;
beforeAll(async () => {
  as = await startAuthServer();
});
afterAll(async () => {
  await as?.stop();
  loopback.restore();
});

/** Every answer body and log line of the file: nothing secret may be in any of them. */
const seen: string[] = [];
/** Every request the providers' `fetch` sent to the authorization server (to find the verifier, the secret's place). */
const sent: { url: string; headers: Headers; body: string }[] = [];

const recordingFetch: typeof fetch = async (input, init) => {
  const body = init?.body;
  sent.push({
    url: String(input),
    headers: new Headers(init?.headers),
    body: typeof body === 'string' ? body : body instanceof URLSearchParams ? body.toString() : '',
  });
  return fetch(input, init);
};

/** The tokens each login's toAuthFile got, for the secrecy check. */
const obtained: OAuthTokens[] = [];
const toAuthFile =
  (prefix: string): OAuthProvider['toAuthFile'] =>
  (tokens) => {
    obtained.push(tokens);
    const sub = typeof tokens.claims?.sub === 'string' ? tokens.claims.sub : 'nobody';
    return {
      name: `${prefix}-${sub}.json`,
      json: {
        type: prefix,
        access_token: tokens.access_token,
        ...(tokens.refresh_token ? { refresh_token: tokens.refresh_token } : {}),
        sub,
      },
    };
  };

const codeProvider = (issuer: string, extra: Partial<OAuthProvider> = {}): OAuthProvider => ({
  id: 'local',
  flow: 'authorization_code',
  issuer,
  discovery: 'oidc',
  clientId: 'public-app',
  scopes: ['openid', 'email', 'offline_access'],
  extraParams: { prompt: 'consent' },
  fetch: recordingFetch,
  toAuthFile: toAuthFile('local'),
  ...extra,
});

describe('code flow with PKCE, pasted address', () => {
  let h: Host;
  beforeAll(async () => {
    h = await loginHost([codeProvider(as.issuer)], {}, seen);
  });
  afterAll(() => h.close());

  it("starts: the URL holds the standard parameters, its state is the answer's", async () => {
    const start = await h.call('GET', '/local-auth-url');
    expect(start.status).toBe(200);
    expect(Object.keys(start.body).sort()).toEqual(['state', 'status', 'url']);
    expect(start.body.status).toBe('ok');
    const state = start.body.state as string;
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const url = new URL(start.body.url as string);
    expect(url.origin + url.pathname).toBe(`${as.issuer}/auth`);
    const q = Object.fromEntries(url.searchParams);
    expect(q).toEqual({
      response_type: 'code',
      client_id: 'public-app',
      redirect_uri: `${h.base}/oauth-callback`,
      scope: 'openid email offline_access',
      state,
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge_method: 'S256',
      prompt: 'consent',
    });
    expect([...url.searchParams.keys()].slice(-1)).toEqual(['prompt']); // extraParams last
  });

  it('a pasted redirect completes the login: wait, then ok; the file is listed, downloadable, mode 0600', async () => {
    const start = await h.call('GET', '/local-auth-url');
    const state = start.body.state as string;
    expect((await h.call('GET', `/get-auth-status?state=${state}`)).body).toEqual({
      status: 'wait',
    });
    const { url } = await new Browser().follow(start.body.url as string, as.issuer);
    expect(url.startsWith(`${h.base}/oauth-callback?`)).toBe(true);
    const cb = await h.call('POST', '/oauth-callback', {
      body: { provider: 'local', redirect_url: url },
    });
    expect(cb.status).toBe(200);
    expect(cb.body).toEqual({ status: 'ok' });
    let last: Record<string, unknown> = {};
    await eventually(async () => {
      last = (await h.call('GET', `/get-auth-status?state=${state}`)).body;
      return last.status !== 'wait';
    }, 20_000);
    expect(last).toEqual({ status: 'ok', file: 'local-user-1.json' });
    const list = await h.call('GET', '/auth-files');
    expect((list.body.files as { name: string }[]).map((f) => f.name)).toContain(
      'local-user-1.json',
    );
    const download = await h.call('GET', '/auth-files/download?name=local-user-1.json');
    const json = JSON.parse(download.text) as Record<string, unknown>;
    expect(json).toEqual({
      type: 'local',
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      sub: 'user-1',
    });
    expect(download.text).toBe(`${JSON.stringify(json, null, 2)}\n`);
    expect(statSync(path.join(h.authDir, 'local-user-1.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(h.authDir, 'local-user-1.json'), 'utf8')).toBe(download.text);
  });
});

/** Every code the browser carried back, for the secrecy check. */
const codes: string[] = [];

/** Log in through the authorization server: the address it redirected the browser to. */
async function authorize(url: string): Promise<string> {
  const { url: back } = await new Browser().follow(url, as.issuer);
  const code = new URL(back).searchParams.get('code');
  if (code) codes.push(code);
  return back;
}

/** Poll until the login is no longer `wait`; its last answer. */
async function outcome(h: Host, state: string): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  await eventually(async () => {
    last = (await h.call('GET', `/get-auth-status?state=${state}`)).body;
    return last.status !== 'wait';
  }, 20_000);
  return last;
}

const files = (h: Host): string[] => {
  try {
    return readdirSync(h.authDir).sort();
  } catch {
    return [];
  }
};

/** A loopback port nobody listens on (taken, then released). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Whether a connection to 127.0.0.1:port is refused. */
const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });

const deviceProvider = (issuer: string, extra: Partial<OAuthProvider> = {}): OAuthProvider => ({
  id: 'dev',
  flow: 'device_code',
  issuer,
  discovery: 'oidc',
  clientId: 'device-app',
  scopes: ['openid', 'offline_access'],
  // oidc-provider sends no `interval` (clients then wait 5 s); the tests ask for 1 s.
  fetch: async (input, init) => {
    const res = await recordingFetch(input, init);
    if (!String(input).endsWith('/device/auth') || res.status !== 200) return res;
    const json = (await res.json()) as Record<string, unknown>;
    return new Response(JSON.stringify({ ...json, interval: 1 }), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  },
  toAuthFile: toAuthFile('dev'),
  ...extra,
});

describe('callbacks', () => {
  let h: Host;
  const authFiles: [string, string][] = [];
  beforeAll(async () => {
    h = await loginHost(
      [
        codeProvider(as.issuer),
        codeProvider(as.issuer, { id: 'other' }),
        deviceProvider(as.issuer),
      ],
      { onAuthFile: (name, source) => void authFiles.push([name, source]) },
      seen,
    );
  });
  afterAll(() => h.close());

  it('GET /oauth-callback without a key completes a login (the browser follows the redirect)', async () => {
    const start = await h.call('GET', '/local-auth-url');
    const back = await authorize(start.body.url as string);
    const res = await fetch(back);
    seen.push(await res.clone().text());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(await outcome(h, start.body.state as string)).toEqual({
      status: 'ok',
      file: 'local-user-1.json',
    });
    expect(authFiles).toContainEqual(['local-user-1.json', 'login']);
  });

  it('a second callback of the same state is 409; another provider 400; a device state 409', async () => {
    const start = await h.call('GET', '/local-auth-url');
    const back = await authorize(start.body.url as string);
    expect(
      (await h.call('POST', '/oauth-callback', { body: { provider: 'OTHER', redirect_url: back } }))
        .body,
    ).toEqual({ status: 'error', error: 'provider does not match state' });
    expect(
      (await h.call('POST', '/oauth-callback', { body: { provider: 'Local', redirect_url: back } }))
        .status,
    ).toBe(200);
    const again = await h.call('POST', '/oauth-callback', {
      body: { provider: 'local', redirect_url: back },
    });
    expect([again.status, again.body]).toEqual([
      409,
      { status: 'error', error: 'oauth flow is not pending' },
    ]);
    expect(await outcome(h, start.body.state as string)).toEqual({
      status: 'ok',
      file: 'local-user-1.json',
    });
    const device = await h.call('GET', '/dev-auth-url');
    const cb = await h.call('POST', '/oauth-callback', {
      body: { state: device.body.state, code: 'x' },
    });
    expect([cb.status, cb.body]).toEqual([
      409,
      { status: 'error', error: 'oauth flow does not take a callback' },
    ]);
    expect(
      (await h.call('DELETE', `/oauth-session?state=${device.body.state as string}`)).body,
    ).toEqual({ status: 'ok', cancelled: true });
  });

  it('callback checks, in order, each a JSON error; nothing written', async () => {
    const before = files(h);
    const start = await h.call('GET', '/local-auth-url');
    const state = start.body.state as string;
    const cases: [unknown, number, string][] = [
      [{ redirect_url: 'not a url', state, code: 'c' }, 400, 'invalid redirect_url'],
      [{ code: 'c' }, 400, 'state is required'],
      [{ redirect_url: 'http://127.0.0.1/cb?code=c' }, 400, 'state is required'],
      [{ state: 'bad state!', code: 'c' }, 400, 'invalid state'],
      [{ state: 'x'.repeat(129), code: 'c' }, 400, 'invalid state'],
      [{ state }, 400, 'code or error is required'],
      [{ state: 'no-such-state', code: 'c' }, 404, 'unknown or expired state'],
      [{ state, code: 7 }, 400, 'invalid body'],
    ];
    for (const [body, status, error] of cases) {
      const res = await h.call('POST', '/oauth-callback', { body });
      expect([res.status, res.body]).toEqual([status, { status: 'error', error }]);
    }
    // The fragment supplies what the query lacks; the body's own members win.
    const back = new URL(await authorize(start.body.url as string));
    const viaFragment = `http://127.0.0.1/cb#${back.searchParams.toString()}`;
    expect(
      (
        await h.call('POST', '/oauth-callback', {
          body: { provider: 'local', redirect_url: viaFragment },
        })
      ).body,
    ).toEqual({ status: 'ok' });
    expect(await outcome(h, state)).toEqual({ status: 'ok', file: 'local-user-1.json' });
    expect(files(h)).toEqual(before);
    const missing = await h.call('GET', '/get-auth-status');
    expect([missing.status, missing.body]).toEqual([
      400,
      { status: 'error', error: 'missing state' },
    ]);
    const bad = await h.call('DELETE', '/oauth-session?state=a%20b');
    expect([bad.status, bad.body]).toEqual([400, { status: 'error', error: 'invalid state' }]);
    expect((await h.call('GET', '/get-auth-status?state=unknown')).body).toEqual({
      status: 'error',
      error: 'unknown or expired state',
    });
    expect((await h.call('DELETE', '/oauth-session?state=unknown')).body).toEqual({
      status: 'ok',
      cancelled: false,
    });
  });

  it('error=access_denied ends the login as an error and writes no file', async () => {
    const before = files(h);
    const start = await h.call('GET', '/other-auth-url');
    const state = start.body.state as string;
    const res = await fetch(`${h.base}/oauth-callback?state=${state}&error=access_denied`);
    expect(res.status).toBe(200);
    expect(await outcome(h, state)).toEqual({
      status: 'error',
      error: 'Authentication failed: access_denied',
    });
    expect(files(h)).toEqual(before);
  });

  it("a re-login replaces the login members and keeps the others (prefix, note, a host's own)", async () => {
    const file = path.join(h.authDir, 'local-user-1.json');
    const old = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(
      file,
      JSON.stringify({
        ...old,
        prefix: 'team-a',
        note: 'kept',
        id_token: 'old-id-token',
        expired: '2020-01-01T00:00:00Z',
        custom: { a: 1 },
      }),
    );
    const start = await h.call('GET', '/local-auth-url');
    await h.call('POST', '/oauth-callback', {
      body: { redirect_url: await authorize(start.body.url as string) },
    });
    expect(await outcome(h, start.body.state as string)).toEqual({
      status: 'ok',
      file: 'local-user-1.json',
    });
    const now = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(now).toEqual({
      type: 'local',
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      sub: 'user-1',
      prefix: 'team-a',
      note: 'kept',
      custom: { a: 1 },
    });
    expect(now.access_token).not.toBe(old.access_token);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});

describe('the keyless callback and the lock-out', () => {
  it('an unknown or malformed state counts as a wrong key: 404 five times, then 429 (the key is locked out too)', async () => {
    const h = await loginHost([codeProvider(as.issuer)], {}, seen);
    try {
      const answers: [number, unknown][] = [];
      for (const state of ['nope-1', 'nope-2', 'bad%20state', 'nope-4', 'nope-5', 'nope-6']) {
        const res = await fetch(`${h.base}/oauth-callback?state=${state}&code=c`);
        answers.push([res.status, await res.json()]);
      }
      expect(answers.slice(0, 5)).toEqual([
        [404, { status: 'error', error: 'unknown or expired state' }],
        [404, { status: 'error', error: 'unknown or expired state' }],
        [400, { status: 'error', error: 'invalid state' }],
        [404, { status: 'error', error: 'unknown or expired state' }],
        [404, { status: 'error', error: 'unknown or expired state' }],
      ]);
      expect(answers[5]).toEqual([429, { error: 'too many failed attempts' }]);
      expect((await h.call('GET', '/get-auth-status?state=x')).status).toBe(429);
      // A missing state or code is not a guess.
      const h2 = await loginHost([codeProvider(as.issuer)], {}, seen);
      try {
        for (let i = 0; i < 6; i++)
          expect((await fetch(`${h2.base}/oauth-callback?code=c`)).status).toBe(400);
        expect((await h2.call('GET', '/get-auth-status?state=x')).status).toBe(200);
      } finally {
        await h2.close();
      }
    } finally {
      await h.close();
    }
  });

  it('POST /oauth-callback needs the key; the routes are 404 without providers, /vertex/import is there', async () => {
    const h = await loginHost([codeProvider(as.issuer)], {}, seen);
    const none = await loginHost([], {}, seen);
    try {
      expect((await h.call('POST', '/oauth-callback', { body: {}, key: false })).status).toBe(401);
      expect((await h.call('GET', '/local-auth-url', { key: false })).status).toBe(401);
      for (const p of [
        '/get-auth-status?state=x',
        '/local-auth-url',
        '/oauth-callback?state=x&code=y',
      ]) {
        const res = await none.call('GET', p);
        expect([res.status, res.body]).toEqual([404, { error: 'not found' }]);
      }
      expect((await none.call('POST', '/vertex/import', { body: {} })).body).toEqual({
        error: 'file required',
      });
    } finally {
      await h.close();
      await none.close();
    }
  });
});

describe('client secrets', () => {
  it('the secret reaches the token endpoint by the chosen method and no answer', async () => {
    const h = await loginHost(
      [
        codeProvider(as.issuer, {
          id: 'post',
          clientId: 'post-app',
          clientSecret: 'post-secret-0123456789',
          clientAuth: 'client_secret_post',
          toAuthFile: toAuthFile('post'),
        }),
        codeProvider(as.issuer, {
          id: 'basic',
          clientId: 'basic-app',
          clientSecret: 'basic-secret-0123456789',
          clientAuth: 'client_secret_basic',
          toAuthFile: toAuthFile('basic'),
        }),
      ],
      {},
      seen,
    );
    try {
      for (const id of ['post', 'basic']) {
        const start = await h.call('GET', `/${id}-auth-url`);
        expect(start.text).not.toContain('secret-0123456789');
        const from = sent.length;
        await h.call('POST', '/oauth-callback', {
          body: { redirect_url: await authorize(start.body.url as string) },
        });
        expect(await outcome(h, start.body.state as string)).toEqual({
          status: 'ok',
          file: `${id}-user-1.json`,
        });
        const token = sent.slice(from).find((r) => r.url === `${as.issuer}/token`);
        if (!token) throw new Error('no token request');
        const body = new URLSearchParams(token.body);
        if (id === 'post') {
          expect(body.get('client_secret')).toBe('post-secret-0123456789');
          expect(token.headers.get('authorization')).toBeNull();
        } else {
          expect(body.has('client_secret')).toBe(false);
          const [scheme, value] = (token.headers.get('authorization') ?? '').split(' ');
          expect(scheme).toBe('Basic');
          // RFC 6749 2.3.1: id and secret form-encoded, then base64.
          expect(
            Buffer.from(value ?? '', 'base64')
              .toString()
              .split(':')
              .map(decodeURIComponent),
          ).toEqual(['basic-app', 'basic-secret-0123456789']);
        }
        expect(body.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      }
    } finally {
      await h.close();
    }
  });

  it('explicit endpoints without discovery, PKCE off: no challenge in the URL, no verifier sent', async () => {
    const h = await loginHost(
      [
        codeProvider(as.issuer, {
          id: 'manual',
          discovery: undefined,
          authorizationEndpoint: `${as.issuer}/auth`,
          tokenEndpoint: `${as.issuer}/token`,
          clientId: 'nopkce-app',
          pkce: false,
          scopes: ['openid'],
          extraParams: {},
          toAuthFile: toAuthFile('manual'),
        }),
      ],
      {},
      seen,
    );
    try {
      const start = await h.call('GET', '/manual-auth-url');
      const url = new URL(start.body.url as string);
      expect(url.searchParams.has('code_challenge')).toBe(false);
      expect(url.searchParams.has('code_challenge_method')).toBe(false);
      const from = sent.length;
      await h.call('POST', '/oauth-callback', {
        body: { redirect_url: await authorize(url.href) },
      });
      expect(await outcome(h, start.body.state as string)).toEqual({
        status: 'ok',
        file: 'manual-user-1.json',
      });
      expect(sent.slice(from).map((r) => r.url)).toEqual([`${as.issuer}/token`]); // no discovery request
      expect(new URLSearchParams(sent[from]?.body).has('code_verifier')).toBe(false);
    } finally {
      await h.close();
    }
  });
});

describe('the loopback callback listener', () => {
  it('opens with is_webui, completes the login, then refuses connections; a port in use is 500', async () => {
    const port = await freePort();
    const h = await loginHost(
      [
        codeProvider(as.issuer, {
          id: 'loop',
          redirectUri: `http://127.0.0.1:${port}/cb`,
          callbackPort: port,
          toAuthFile: toAuthFile('loop'),
        }),
      ],
      {},
      seen,
    );
    try {
      await h.call('GET', '/loop-auth-url'); // without is_webui: no listener
      expect(await refused(port)).toBe(true);
      const start = await h.call('GET', '/loop-auth-url?is_webui=true');
      expect(start.status).toBe(200);
      expect(new URL(start.body.url as string).searchParams.get('redirect_uri')).toBe(
        `http://127.0.0.1:${port}/cb`,
      );
      const other = await fetch(`http://127.0.0.1:${port}/elsewhere`);
      expect([other.status, other.headers.get('content-type')]).toEqual([
        404,
        'text/plain; charset=utf-8',
      ]);
      await other.text();
      const back = await authorize(start.body.url as string);
      expect(back.startsWith(`http://127.0.0.1:${port}/cb?`)).toBe(true);
      const res = await fetch(back);
      expect([res.status, res.headers.get('content-type')]).toEqual([
        200,
        'text/plain; charset=utf-8',
      ]);
      seen.push(await res.text());
      expect(await outcome(h, start.body.state as string)).toEqual({
        status: 'ok',
        file: 'loop-user-1.json',
      });
      await eventually(() => refused(port), 5000);
      // Someone else holds the port: the start fails and leaves no session.
      const blocker = net.createServer();
      await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
      try {
        const busy = await h.call('GET', '/loop-auth-url?is_webui=1');
        expect([busy.status, busy.body]).toEqual([
          500,
          { error: 'failed to start callback server' },
        ]);
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    } finally {
      await h.close();
    }
  });
});

describe('device flow', () => {
  let h: Host;
  beforeAll(async () => {
    h = await loginHost([deviceProvider(as.issuer)], {}, seen);
  });
  afterAll(() => h.close());

  it('starts with the device shape; approval ends ok with the file', async () => {
    const start = await h.call('GET', '/dev-auth-url');
    expect(start.status).toBe(200);
    expect(start.body).toEqual({
      status: 'ok',
      url: expect.stringMatching(new RegExp(`^${as.issuer}/device\\?user_code=`)),
      state: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      flow: 'device',
      user_code: expect.any(String),
      expires_in: 600,
    });
    expect(
      (await h.call('GET', `/get-auth-status?state=${start.body.state as string}`)).body,
    ).toEqual({ status: 'wait' });
    expect(await new Browser().device(start.body.url as string, as.issuer, true)).toMatch(
      /Sign-in Success/i,
    );
    expect(await outcome(h, start.body.state as string)).toEqual({
      status: 'ok',
      file: 'dev-user-1.json',
    });
    expect(files(h)).toEqual(['dev-user-1.json']);
  });

  it('denial ends as an error', async () => {
    const start = await h.call('GET', '/dev-auth-url');
    await new Browser().device(start.body.url as string, as.issuer, false);
    expect(await outcome(h, start.body.state as string)).toEqual({
      status: 'error',
      error: 'Authentication failed: access_denied',
    });
  });

  it('a cancelled login writes nothing, even when approved afterwards', async () => {
    rmFiles(h);
    const start = await h.call('GET', '/dev-auth-url');
    const state = start.body.state as string;
    expect((await h.call('DELETE', `/oauth-session?state=${state}`)).body).toEqual({
      status: 'ok',
      cancelled: true,
    });
    expect((await h.call('DELETE', `/oauth-session?state=${state}`)).body).toEqual({
      status: 'ok',
      cancelled: false,
    });
    expect((await h.call('GET', `/get-auth-status?state=${state}`)).body).toEqual({
      status: 'error',
      error: 'unknown or expired state',
    });
    await new Browser().device(start.body.url as string, as.issuer, true);
    await staysTrue(() => files(h).length === 0, 3000);
  });
});

function rmFiles(h: Host): void {
  for (const f of files(h)) rmSync(path.join(h.authDir, f));
}

describe('session limits', () => {
  afterEach(() => jest.useRealTimers());

  it('a login pending past sessionTtlMs times out', async () => {
    const h = await loginHost([codeProvider(as.issuer)], { oauth: { sessionTtlMs: 300 } }, seen);
    try {
      const start = await h.call('GET', '/local-auth-url');
      const back = await authorize(start.body.url as string);
      await eventually(
        async () =>
          (await h.call('GET', `/get-auth-status?state=${start.body.state as string}`)).body
            .status === 'error',
        5000,
      );
      expect(
        (await h.call('GET', `/get-auth-status?state=${start.body.state as string}`)).body,
      ).toEqual({ status: 'error', error: 'Timeout waiting for OAuth callback' });
      const late = await h.call('POST', '/oauth-callback', { body: { redirect_url: back } });
      expect([late.status, late.body]).toEqual([
        409,
        { status: 'error', error: 'oauth flow is not pending' },
      ]);
      expect(files(h)).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('a finished login stays readable finishedTtlMs, then the state is unknown', async () => {
    const h = await loginHost(
      [codeProvider(as.issuer)],
      { oauth: { finishedTtlMs: 60_000 } },
      seen,
    );
    try {
      const start = await h.call('GET', '/local-auth-url');
      const state = start.body.state as string;
      await h.call('POST', '/oauth-callback', {
        body: { redirect_url: await authorize(start.body.url as string) },
      });
      expect(await outcome(h, state)).toEqual({ status: 'ok', file: 'local-user-1.json' });
      const now = Date.now();
      jest.useFakeTimers({
        now: now + 59_000,
        doNotFake: [
          'nextTick',
          'setImmediate',
          'clearImmediate',
          'setInterval',
          'clearInterval',
          'setTimeout',
          'clearTimeout',
          'queueMicrotask',
          'hrtime',
          'performance',
        ],
      });
      expect((await h.call('GET', `/get-auth-status?state=${state}`)).body).toEqual({
        status: 'ok',
        file: 'local-user-1.json',
      });
      jest.setSystemTime(now + 61_000);
      expect((await h.call('GET', `/get-auth-status?state=${state}`)).body).toEqual({
        status: 'error',
        error: 'unknown or expired state',
      });
    } finally {
      jest.useRealTimers();
      await h.close();
    }
  });

  it('maxPending + 1 is 429; a cancel makes room', async () => {
    const h = await loginHost([codeProvider(as.issuer)], { oauth: { maxPending: 2 } }, seen);
    try {
      const a = await h.call('GET', '/local-auth-url');
      expect((await h.call('GET', '/local-auth-url')).status).toBe(200);
      const third = await h.call('GET', '/local-auth-url');
      expect([third.status, third.body]).toEqual([429, { error: 'too many pending logins' }]);
      await h.call('DELETE', `/oauth-session?state=${a.body.state as string}`);
      expect((await h.call('GET', '/local-auth-url')).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});

describe('failures', () => {
  it('an unreachable server is 502 at the start; toAuthFile failures end the login with their message', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const h = await loginHost(
      [
        codeProvider(dead, { id: 'dead' }),
        codeProvider(as.issuer, {
          id: 'hook',
          toAuthFile: () => {
            throw Object.assign(new Error('Account not allowed here'), { name: 'HookError' });
          },
        }),
        codeProvider(as.issuer, {
          id: 'throws',
          toAuthFile: () => {
            throw new Error(`secret ${'x'} in the message`);
          },
        }),
        codeProvider(as.issuer, {
          id: 'badname',
          toAuthFile: () => ({ name: '../escape.json', json: {} }),
        }),
      ],
      {},
      seen,
    );
    try {
      const res = await h.call('GET', '/dead-auth-url');
      expect([res.status, res.body]).toEqual([502, { error: 'failed to start login' }]);
      for (const [id, message] of [
        ['hook', 'Account not allowed here'],
        ['throws', 'Failed to save authentication tokens'],
        ['badname', 'Failed to save authentication tokens'],
      ]) {
        const start = await h.call('GET', `/${id}-auth-url`);
        await h.call('POST', '/oauth-callback', {
          body: { redirect_url: await authorize(start.body.url as string) },
        });
        expect(await outcome(h, start.body.state as string)).toEqual({
          status: 'error',
          error: message,
        });
      }
      expect(files(h)).toEqual([]);
      expect(h.logs.join('\n')).not.toContain('in the message');
      // A wrong code: the grant fails.
      const start = await h.call('GET', '/hook-auth-url');
      await h.call('POST', '/oauth-callback', {
        body: { state: start.body.state, code: 'not-a-real-code' },
      });
      expect(await outcome(h, start.body.state as string)).toEqual({
        status: 'error',
        error: 'Failed to exchange authorization code for tokens',
      });
    } finally {
      await h.close();
    }
  });
});

describe('secrecy and loopback (after every other test of this file)', () => {
  it('no answer or log line holds a token, a code, a verifier or a secret', () => {
    const secrets = new Set<string>([
      'post-secret-0123456789',
      'basic-secret-0123456789',
      ...codes,
    ]);
    for (const t of obtained)
      for (const v of [t.access_token, t.refresh_token, t.id_token]) if (v) secrets.add(v);
    for (const r of sent) {
      const v = new URLSearchParams(r.body).get('code_verifier');
      if (v) secrets.add(v);
    }
    expect(obtained.length).toBeGreaterThan(5);
    expect(codes.length).toBeGreaterThan(5);
    const all = seen.join('\n');
    expect(all.length).toBeGreaterThan(1000);
    expect([...secrets].filter((s) => all.includes(s))).toEqual([]);
  });

  it('no connection left loopback (this process and the authorization server)', () => {
    expect(loopback.violations).toEqual([]);
    expect(as.stderr.filter((l) => l.startsWith('NON-LOOPBACK'))).toEqual([]);
  });
});
