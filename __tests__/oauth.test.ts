/**
 * OAuth logins against a real authorization server (oidc-provider on 127.0.0.1, see
 * `fixtures/oidc-server.mjs`), scripted over HTTP: the routes, the sessions, the token file.
 * Every socket this process opens must go to loopback (the last test fails otherwise).
 */
import express from 'express';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createManagementRouter, type ManagementOptions, type ManagementRouter, type OAuthProvider, type OAuthTokens } from '../lib';
import { eventually, fixtureWith, KEY } from './helpers';
import { Browser, guardLoopback, startAuthServer, type AuthServer } from './oauth-server';

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
  sent.push({ url: String(input), headers: new Headers(init?.headers), body: typeof body === 'string' ? body : body instanceof URLSearchParams ? body.toString() : '' });
  return fetch(input, init);
};

/** The tokens each login's toAuthFile got, for the secrecy check. */
const obtained: OAuthTokens[] = [];
const toAuthFile = (prefix: string): OAuthProvider['toAuthFile'] => (tokens) => {
  obtained.push(tokens);
  const sub = typeof tokens.claims?.sub === 'string' ? tokens.claims.sub : 'nobody';
  return { name: `${prefix}-${sub}.json`, json: { type: prefix, access_token: tokens.access_token, ...(tokens.refresh_token ? { refresh_token: tokens.refresh_token } : {}), sub } };
};

export interface Host {
  readonly base: string;
  readonly dir: string;
  readonly authDir: string;
  readonly router: ManagementRouter;
  readonly logs: string[];
  call(method: string, p: string, options?: { body?: unknown; key?: boolean }): Promise<{ status: number; body: Record<string, unknown>; text: string; headers: Headers }>;
  close(): Promise<void>;
}

/** A router with `oauth` on a real listening server on 127.0.0.1 (the redirect URI is derived from the request's host). */
export async function host(providers: (issuer: string) => OAuthProvider[], options: ManagementOptions = {}): Promise<Host> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cpm-oauth-'));
  const configPath = path.join(dir, 'config.yaml');
  const authDir = path.join(dir, 'auths');
  writeFileSync(configPath, fixtureWith());
  const logs: string[] = [];
  const router = createManagementRouter(configPath, authDir, {
    bcryptRounds: 4,
    watch: false,
    logger: { warn: (m) => void logs.push(m) },
    ...options,
    oauth: { providers: providers(as.issuer), ...options.oauth },
  });
  await router.ready();
  const app = express();
  app.use('/v0/management', router);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v0/management`;
  return {
    base,
    dir,
    authDir,
    router,
    logs,
    async call(method, p, { body, key = true } = {}) {
      const headers: Record<string, string> = key ? { Authorization: `Bearer ${KEY}` } : {};
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      const res = await fetch(`${base}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      seen.push(text);
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = {};
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async close() {
      seen.push(...logs);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await router.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

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
    h = await host((issuer) => [codeProvider(issuer)]);
  });
  afterAll(() => h.close());

  it('starts: the URL holds the standard parameters, its state is the answer\'s', async () => {
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
    expect((await h.call('GET', `/get-auth-status?state=${state}`)).body).toEqual({ status: 'wait' });
    const { url } = await new Browser().follow(start.body.url as string, as.issuer);
    expect(url.startsWith(`${h.base}/oauth-callback?`)).toBe(true);
    const cb = await h.call('POST', '/oauth-callback', { body: { provider: 'local', redirect_url: url } });
    expect(cb.status).toBe(200);
    expect(cb.body).toEqual({ status: 'ok' });
    let last: Record<string, unknown> = {};
    await eventually(async () => {
      last = (await h.call('GET', `/get-auth-status?state=${state}`)).body;
      return last.status !== 'wait';
    }, 20_000);
    expect(last).toEqual({ status: 'ok', file: 'local-user-1.json' });
    const list = await h.call('GET', '/auth-files');
    expect((list.body.files as { name: string }[]).map((f) => f.name)).toContain('local-user-1.json');
    const download = await h.call('GET', '/auth-files/download?name=local-user-1.json');
    const json = JSON.parse(download.text) as Record<string, unknown>;
    expect(json).toEqual({ type: 'local', access_token: expect.any(String), refresh_token: expect.any(String), sub: 'user-1' });
    expect(download.text).toBe(`${JSON.stringify(json, null, 2)}\n`);
    expect(statSync(path.join(h.authDir, 'local-user-1.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(h.authDir, 'local-user-1.json'), 'utf8')).toBe(download.text);
  });
});

it('no connection left loopback (this process and the authorization server)', () => {
  expect(loopback.violations).toEqual([]);
  expect(as.stderr.filter((l) => l.startsWith('NON-LOOPBACK'))).toEqual([]);
  void net;
});
