/**
 * The built package runs logins: the CommonJS bundle inside jest (whose module system has no
 * `import()`: oauth4webapi, an ES module, must be `require`d there), and both bundles in plain
 * Node child processes (`require` of an ES module in the CommonJS build, `import()` in the ES
 * module build). Against the real local authorization server.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type * as Lib from '../lib';
import { eventually, fixtureWith, KEY } from './helpers';
import { Browser, guardLoopback, startAuthServer, type AuthServer } from './oauth-server';

jest.setTimeout(120_000);

const root = path.join(__dirname, '..');
const loopback = guardLoopback();
let as: AuthServer;
let dir: string;
beforeAll(async () => {
  as = await startAuthServer();
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-oauth-bundle-'));
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  execFileSync(
    process.execPath,
    [path.join(root, '.ci', 'bundle.mjs'), path.join(dir, 'cjs'), path.join(dir, 'esm')],
    { cwd: root, stdio: 'pipe' },
  );
  writeFileSync(path.join(dir, 'config.yaml'), fixtureWith());
});
afterAll(async () => {
  await as?.stop();
  loopback.restore();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('the CommonJS bundle, loaded by jest, runs a whole login', async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lib = require(path.join(dir, 'cjs', 'index.js')) as typeof Lib;
  const warnings: string[] = [];
  const express = (await import('express')).default;
  const router = lib.createManagementRouter(
    path.join(dir, 'config.yaml'),
    path.join(dir, 'auths'),
    {
      bcryptRounds: 4,
      watch: false,
      logger: { warn: (m) => void warnings.push(m) },
      oauth: {
        providers: [
          {
            id: 'local',
            flow: 'authorization_code',
            issuer: as.issuer,
            discovery: 'oidc',
            clientId: 'public-app',
            scopes: ['openid'],
            toAuthFile: (t) => ({ name: 'bundle.json', json: { access_token: t.access_token } }),
          },
        ],
      },
    },
  );
  await router.ready();
  const app = express();
  app.use('/v0/management', router);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/v0/management`;
  const headers = { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' };
  try {
    const start = (await (await fetch(`${base}/local-auth-url`, { headers })).json()) as {
      url: string;
      state: string;
    };
    expect(start).toEqual({ status: 'ok', url: expect.any(String), state: expect.any(String) });
    const { url: back } = await new Browser().follow(start.url, as.issuer);
    expect(
      (
        await fetch(`${base}/oauth-callback`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ redirect_url: back }),
        })
      ).status,
    ).toBe(200);
    await eventually(
      async () =>
        (
          (await (
            await fetch(`${base}/get-auth-status?state=${start.state}`, { headers })
          ).json()) as { status: string }
        ).status === 'ok',
      20_000,
    );
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await router.close();
  }
  expect(warnings).toEqual([]);
});

/** A host script: a router with one provider, asked for a login URL over HTTP; prints the URL's origin. */
const script = (load: string): string => `
${load}
const express = require('express');
const router = lib.createManagementRouter(${JSON.stringify(path.join(dir ?? '', 'config.yaml'))}, ${JSON.stringify(path.join(dir ?? '', 'auths'))}, {
  watch: false, logger: { warn: () => undefined },
  oauth: { providers: [{ id: 'local', flow: 'authorization_code', issuer: process.env.ISSUER, discovery: 'oidc', clientId: 'public-app', toAuthFile: () => ({ name: 'x.json', json: {} }) }] },
});
router.ready().then(async () => {
  const app = express(); app.use('/m', router);
  const server = app.listen(0, '127.0.0.1', async () => {
    const res = await fetch('http://127.0.0.1:' + server.address().port + '/m/local-auth-url', { headers: { Authorization: 'Bearer ${KEY}' } });
    const body = await res.json();
    console.log(res.status, new URL(body.url).origin);
    server.close(); await router.close();
  });
});`;

it('both bundles run a login start in plain Node (CommonJS: require of the ES module; ES modules: import())', async () => {
  const run = promisify(execFile);
  const env = { ...process.env, ISSUER: as.issuer, NODE_NO_WARNINGS: '1' };
  const cjs = await run(
    process.execPath,
    ['-e', script(`const lib = require(${JSON.stringify(path.join(dir, 'cjs', 'index.js'))});`)],
    { cwd: dir, env },
  );
  expect(cjs.stdout.trim()).toBe(`200 ${as.issuer}`);
  const esmFile = path.join(dir, 'host.mjs');
  writeFileSync(
    esmFile,
    script(
      `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); const lib = await import(${JSON.stringify(path.join(dir, 'esm', 'index.mjs'))});`,
    ),
  );
  const esm = await run(process.execPath, [esmFile], { cwd: dir, env });
  expect(esm.stdout.trim()).toBe(`200 ${as.issuer}`);
});

it('no connection left loopback', () => {
  expect(loopback.violations).toEqual([]);
});
