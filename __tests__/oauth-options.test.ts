/** The `oauth` option is checked at construction: each mistake an `ERR_INVALID_OPTION` before any file is touched. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createManagementRouter,
  ManagementError,
  type OAuthOptions,
  type OAuthProvider,
} from '../lib';
import { fixtureWith } from './helpers';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-oauth-opt-'));
  writeFileSync(path.join(dir, 'config.yaml'), fixtureWith());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: OAuthProvider = {
  id: 'p1',
  flow: 'authorization_code',
  issuer: 'https://auth.example',
  authorizationEndpoint: 'https://auth.example/authorize',
  tokenEndpoint: 'https://auth.example/token',
  clientId: 'client',
  toAuthFile: () => ({ name: 'x.json', json: {} }),
};

function build(oauth: OAuthOptions, warnings: string[] = []): void {
  const router = createManagementRouter(path.join(dir, 'config.yaml'), path.join(dir, 'auths'), {
    watch: false,
    oauth,
    logger: { warn: (m) => void warnings.push(m) },
  });
  void router.close();
}

function refused(oauth: unknown): string {
  try {
    build(oauth as OAuthOptions);
  } catch (err) {
    expect(err).toBeInstanceOf(ManagementError);
    expect((err as ManagementError).code).toBe('ERR_INVALID_OPTION');
    return (err as ManagementError).message.replace('ERR_INVALID_OPTION: ', '');
  }
  throw new Error('not refused');
}

const p = (extra: Record<string, unknown>): unknown => ({ providers: [{ ...base, ...extra }] });

it.each([
  ['a bad id', p({ id: 'Bad_Id' }), 'oauth.providers[0].id must be 1 to 32 of a-z, 0-9 and -'],
  [
    'a long id',
    p({ id: 'a'.repeat(33) }),
    'oauth.providers[0].id must be 1 to 32 of a-z, 0-9 and -',
  ],
  ['a repeated id', { providers: [base, base] }, 'oauth provider "p1" is declared twice'],
  [
    'an unknown flow',
    p({ flow: 'implicit' }),
    `oauth provider "p1": flow must be 'authorization_code' or 'device_code'`,
  ],
  [
    'an http: endpoint off loopback',
    p({ tokenEndpoint: 'http://auth.example/token' }),
    'oauth provider "p1": tokenEndpoint must be an https: URL (http: only on loopback or with allowInsecureRequests)',
  ],
  [
    'an http: issuer off loopback',
    p({ issuer: 'http://auth.example' }),
    'oauth provider "p1": issuer must be an https: URL (http: only on loopback or with allowInsecureRequests)',
  ],
  [
    'a code flow without its endpoints or discovery',
    p({ authorizationEndpoint: undefined }),
    'oauth provider "p1": authorizationEndpoint is required without discovery',
  ],
  [
    'a device flow without its endpoint',
    p({ flow: 'device_code' }),
    'oauth provider "p1": deviceAuthorizationEndpoint is required without discovery',
  ],
  [
    'an unknown discovery',
    p({ discovery: 'saml' }),
    `oauth provider "p1": discovery must be 'oidc' or 'oauth2'`,
  ],
  [
    'extraParams naming a standard parameter',
    p({ extraParams: { Redirect_Uri: 'x' } }),
    'oauth provider "p1": extraParams may not set the standard parameter Redirect_Uri',
  ],
  [
    'extraParams with a non-string',
    p({ extraParams: { prompt: 1 } }),
    'oauth provider "p1": extraParams.prompt must be a string',
  ],
  [
    'callbackPort out of range',
    p({ callbackPort: 70000, redirectUri: 'http://localhost:7000/cb' }),
    'oauth provider "p1": callbackPort must be an integer from 1 to 65535',
  ],
  [
    'callbackPort without a redirectUri',
    p({ callbackPort: 1455 }),
    'oauth provider "p1": callbackPort needs a redirectUri on localhost, 127.0.0.1 or [::1]',
  ],
  [
    'callbackPort with a remote redirectUri',
    p({ callbackPort: 1455, redirectUri: 'https://app.example/cb' }),
    'oauth provider "p1": callbackPort needs a redirectUri on localhost, 127.0.0.1 or [::1]',
  ],
  [
    'client_secret_basic without a secret',
    p({ clientAuth: 'client_secret_basic' }),
    'oauth provider "p1": clientAuth client_secret_basic needs a clientSecret',
  ],
  ['no clientId', p({ clientId: ' ' }), 'oauth provider "p1": clientId must be a non-empty string'],
  [
    'no toAuthFile',
    p({ toAuthFile: undefined }),
    'oauth provider "p1": toAuthFile must be a function',
  ],
  [
    'scopes with a space',
    p({ scopes: ['a b'] }),
    'oauth provider "p1": scopes must be an array of scope tokens',
  ],
  ['maxPending 0', { providers: [], maxPending: 0 }, 'oauth.maxPending must be an integer >= 1'],
  [
    'a session store without its methods',
    { providers: [], sessionStore: { get: () => undefined } },
    'oauth.sessionStore must implement create, get, update and delete',
  ],
  ['providers not an array', { providers: {} }, 'oauth.providers must be an array'],
])('%s', (_label, oauth, message) => {
  expect(refused(oauth)).toBe(message);
});

it('accepts loopback http:, allowInsecureRequests, discovery alone, a loopback callback listener; warns of unknown members', () => {
  const warnings: string[] = [];
  build(
    {
      providers: [
        {
          ...base,
          id: 'local',
          issuer: 'http://127.0.0.1:9',
          authorizationEndpoint: 'http://localhost:9/a',
          tokenEndpoint: 'http://[::1]:9/t',
        },
        {
          ...base,
          id: 'lan',
          issuer: 'http://auth.lan',
          authorizationEndpoint: 'http://auth.lan/a',
          tokenEndpoint: 'http://auth.lan/t',
          allowInsecureRequests: true,
        },
        {
          id: 'disc',
          flow: 'device_code',
          issuer: 'https://auth.example',
          discovery: 'oidc',
          clientId: 'c',
          toAuthFile: base.toAuthFile,
        },
        {
          ...base,
          id: 'loop',
          redirectUri: 'http://localhost:1455/auth/callback',
          callbackPort: 1455,
          clientSecret: 's',
          colour: 'red',
        } as OAuthProvider,
      ],
    },
    warnings,
  );
  expect(warnings).toEqual([
    'cli-proxy-management: oauth.providers[3]: unknown member "colour" is ignored',
  ]);
});

it('onAuthFile must be a function', () => {
  expect(() =>
    createManagementRouter(path.join(dir, 'config.yaml'), dir, { onAuthFile: 'x' as never }),
  ).toThrow('ERR_INVALID_OPTION: onAuthFile must be a function');
});

describe("the example's provider table (the Go server's providers)", () => {
  it('builds; antigravity only with its secret; the code flows start without a network call', async () => {
    const { upstreamProviders } = await import('../examples/proxy/oauth-providers');
    expect(upstreamProviders({}).map((x) => x.id)).toEqual(['anthropic', 'codex', 'kimi', 'xai']);
    const all = upstreamProviders({ ANTIGRAVITY_CLIENT_SECRET: 'from-env' });
    expect(all.map((x) => x.id)).toEqual(['anthropic', 'codex', 'kimi', 'xai', 'antigravity']);
    const { guardLoopback } = await import('./oauth-server');
    const loopback = guardLoopback();
    const express = (await import('express')).default;
    const request = (await import('supertest')).default;
    const { KEY } = await import('./helpers');
    const router = createManagementRouter(path.join(dir, 'config.yaml'), path.join(dir, 'auths'), {
      watch: false,
      bcryptRounds: 4,
      oauth: { providers: all },
    });
    try {
      await router.ready();
      const app = express().use('/v0/management', router);
      const codex = await request(app)
        .get('/v0/management/codex-auth-url')
        .set('Authorization', `Bearer ${KEY}`);
      expect(codex.status).toBe(200);
      const url = new URL(codex.body.url);
      expect(`${url.origin}${url.pathname}`).toBe('https://auth.openai.com/oauth/authorize');
      expect(url.searchParams.get('redirect_uri')).toBe('http://localhost:1455/auth/callback');
      expect(url.searchParams.get('codex_cli_simplified_flow')).toBe('true');
      expect(url.searchParams.get('code_challenge_method')).toBe('S256');
      const google = await request(app)
        .get('/v0/management/antigravity-auth-url')
        .set('Authorization', `Bearer ${KEY}`);
      const g = new URL(google.body.url);
      expect(g.searchParams.has('code_challenge')).toBe(false);
      expect(g.searchParams.get('access_type')).toBe('offline');
      expect(google.text).not.toContain('from-env');
      const claude = await request(app)
        .get('/v0/management/anthropic-auth-url')
        .set('Authorization', `Bearer ${KEY}`);
      expect(new URL(claude.body.url).searchParams.get('code')).toBe('true');
      expect(loopback.violations).toEqual([]);
    } finally {
      loopback.restore();
      await router.close();
    }
  });
});
