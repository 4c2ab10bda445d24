/**
 * The PostgreSQL engine tried as an attacker and through outages: forged notices, lock-out
 * counts across an outage, batches during an outage, a replica that starts while the database
 * is unreachable, a hand edit of the mirror made during an outage. Real server; outages are a
 * TCP proxy the test cuts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import pg from 'pg';
import { ManagementError } from '../lib';
import { api, auth, eventually, fixtureWith } from './helpers';
import {
  databaseUrl,
  dropNamespace,
  replica,
  sql,
  stopDatabase,
  TcpProxy,
  uniqueNamespace,
  type Replica,
} from './pg';

jest.setTimeout(60_000);

const open: Replica[] = [];
const namespaces: string[] = [];
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await Promise.all(open.splice(0).map((r) => r.close()));
  for (const n of namespaces.splice(0)) await dropNamespace(n);
});
afterAll(stopDatabase);

function ns(label: string): string {
  const n = uniqueNamespace(label);
  namespaces.push(n);
  return n;
}
const wrong = { Authorization: 'Bearer not-the-key' };
const UNAVAILABLE = { error: 'storage unavailable' };

/** A replica behind a proxy that the test can cut, started and ready. */
async function behindProxy(
  n: string,
  options: Parameters<typeof replica>[1] = {},
): Promise<Replica> {
  const url = await databaseUrl();
  proxy = await TcpProxy.to(url);
  const r = await replica(n, { seed: fixtureWith(), connectionString: proxy.via(url), ...options });
  open.push(r);
  await r.router.ready();
  return r;
}

/** Cut the proxy and wait until the replica refuses writes. */
async function cut(r: Replica): Promise<void> {
  proxy?.pause();
  await eventually(
    async () =>
      (await request(r.app).put(api('/debug')).set(auth).send({ value: true })).status === 503,
    10_000,
  );
}

describe('notices are hints: what they say is read from the tables', () => {
  it('a forged lock-out notice from a role that cannot read the table locks nobody out', async () => {
    const n = ns('forged');
    const r = await replica(n, { seed: fixtureWith() });
    open.push(r);
    await r.router.ready();
    await request(r.app).get(api('/debug')).set(wrong).expect(401);
    const [row] = await sql<{ key: string }>('SELECT key FROM cpm_lockout WHERE namespace = $1', [
      n,
    ]);
    await request(r.app).get(api('/debug')).set(auth).expect(200); // a success resets the count
    await eventually(
      async () => (await sql('SELECT 1 FROM cpm_lockout WHERE namespace = $1', [n])).length === 0,
    );

    await sql(
      `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cpm_forger') THEN CREATE ROLE cpm_forger LOGIN; END IF; END $$`,
    );
    // A password too: the throwaway server (no DATABASE_URL) checks passwords, the CI server trusts.
    await sql(`ALTER ROLE cpm_forger PASSWORD 'forger-password'`);
    await sql('REVOKE ALL ON cpm_lockout FROM cpm_forger');
    const forgerUrl = new URL(await databaseUrl());
    forgerUrl.username = 'cpm_forger';
    forgerUrl.password = 'forger-password';
    const forger = new pg.Client({ connectionString: forgerUrl.toString() });
    await forger.connect();
    try {
      await expect(forger.query('SELECT * FROM cpm_lockout')).rejects.toThrow(/permission denied/);
      const payload = JSON.stringify({
        ns: n,
        k: 'lockout',
        key: row?.key,
        f: 1000,
        r: Date.now() + 10 * 365 * 86_400_000,
      });
      await forger.query('SELECT pg_notify($1, $2)', ['cli_proxy_management', payload]);
      // The notice is delivered and handled (a config notice sent after it arrives after it).
      const config = JSON.stringify({ ns: n, k: 'config', v: 1e12 });
      await forger.query('SELECT pg_notify($1, $2)', ['cli_proxy_management', config]);
    } finally {
      await forger.end();
    }
    // A real change made through another replica after the forged notices: notices arrive in
    // the order they were sent, so once this replica has the change it has handled them too.
    const other = await replica(n);
    open.push(other);
    await other.router.ready();
    await request(other.app).put(api('/debug')).set(auth).send({ value: true }).expect(200);
    await eventually(() => r.router.getConfig().debug === true, 10_000);
    for (let i = 0; i < 3; i++) {
      const res = await request(r.app).get(api('/debug')).set(auth);
      expect({ status: res.status, body: res.body }).toEqual({
        status: 200,
        body: { debug: true },
      });
    }
    expect(await sql('SELECT 1 FROM cpm_lockout WHERE namespace = $1', [n])).toEqual([]);
  });
});

describe('an unquoted key is its text as written (PostgreSQL engine too)', () => {
  it('a seed with secret-key: 0x1F stores the hash of "0x1F", and that key works', async () => {
    const n = ns('unquoted');
    const r = await replica(n, { seed: 'remote-management:\n  secret-key: 0x1F\ndebug: false\n' });
    open.push(r);
    await r.router.ready();
    const [row] = await sql<{ text: string }>('SELECT text FROM cpm_config WHERE namespace = $1', [
      n,
    ]);
    expect(row?.text).not.toContain('0x1F');
    expect(
      (await request(r.app).get(api('/debug')).set({ Authorization: 'Bearer 0x1F' })).status,
    ).toBe(200);
    expect(
      (await request(r.app).get(api('/debug')).set({ Authorization: 'Bearer 31' })).status,
    ).toBe(401);
  });
});

describe('outages', () => {
  it('lock-out counts made while the database was away are carried over, not forgotten', async () => {
    const n = ns('lockcarry');
    const r = await behindProxy(n, { router: { maxAttempts: 3 } });
    await cut(r);
    for (let i = 0; i < 3; i++) await request(r.app).get(api('/debug')).set(wrong).expect(401);
    expect((await request(r.app).get(api('/debug')).set(auth)).status).toBe(429);
    proxy?.resume();
    await eventually(() => r.warnings.some((w) => w.includes('reachable again')), 15_000);
    // The locked address stays locked: the correct key is still 429, and the table knows why.
    const res = await request(r.app).get(api('/debug')).set(auth);
    expect(res.status).toBe(429);
    const rows = await sql<{ failures: number }>(
      'SELECT failures FROM cpm_lockout WHERE namespace = $1',
      [n],
    );
    expect(rows.map((x) => x.failures)).toEqual([3]);
  });

  it('batch upload and batch delete answer 503 storage unavailable with Retry-After, as single mutations do', async () => {
    const n = ns('batch503');
    const r = await behindProxy(n);
    await request(r.app)
      .post(api('/auth-files?name=a.json'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{"a":1}')
      .expect(200);
    await cut(r);
    const answers = [
      await request(r.app)
        .post(api('/auth-files'))
        .set(auth)
        .attach('file', Buffer.from('{"b":1}'), 'b.json')
        .attach('file', Buffer.from('{"c":1}'), 'c.json'),
      await request(r.app)
        .delete(api('/auth-files'))
        .set(auth)
        .send({ names: ['a.json', 'x.json'] }),
      await request(r.app)
        .post(api('/auth-files?name=b.json'))
        .set(auth)
        .set('Content-Type', 'application/json')
        .send('{}'),
    ];
    for (const res of answers) {
      expect({ status: res.status, body: res.body }).toEqual({ status: 503, body: UNAVAILABLE });
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    expect(
      (
        await sql<{ name: string }>('SELECT name FROM cpm_token_files WHERE namespace = $1', [n])
      ).map((x) => x.name),
    ).toEqual(['a.json']);
  });

  it('a hand edit of the mirror made during an outage is kept and pushed, merged with what changed meanwhile', async () => {
    const n = ns('handedit');
    const r = await behindProxy(n);
    const direct = await replica(n, { seed: fixtureWith() });
    open.push(direct);
    await direct.router.ready();
    await cut(r);
    const edited = r.readMirror().replace('request-retry: 3', 'request-retry: 7');
    expect(edited).not.toBe(r.readMirror());
    writeFileSync(r.configPath, edited);
    await request(direct.app)
      .put(api('/proxy-url'))
      .set(auth)
      .send({ value: 'socks5://meanwhile:1080' })
      .expect(200);
    proxy?.resume();
    await eventually(async () => {
      const [row] = await sql<{ text: string }>(
        'SELECT text FROM cpm_config WHERE namespace = $1',
        [n],
      );
      return (
        !!row &&
        row.text.includes('request-retry: 7') &&
        row.text.includes('socks5://meanwhile:1080')
      );
    }, 15_000);
    await eventually(
      () =>
        r.readMirror().includes('request-retry: 7') &&
        r.readMirror().includes('socks5://meanwhile:1080'),
      10_000,
    );
    await eventually(() => direct.router.getConfig()['request-retry'] === 7, 10_000);
  });
});

describe('a replica started while the database is unreachable', () => {
  it('with a mirror: ready() resolves from it, reads 200, writes 503, and it reconnects in the background', async () => {
    const n = ns('startmirror');
    const url = await databaseUrl();
    proxy = await TcpProxy.to(url);
    proxy.pause();
    const r = await replica(n, { seed: fixtureWith(), connectionString: proxy.via(url) });
    open.push(r);
    await r.router.ready();
    expect(r.warnings.some((w) => w.includes('database unreachable'))).toBe(true);
    expect((await request(r.app).get(api('/request-retry')).set(auth)).body).toEqual({
      'request-retry': 3,
    });
    const put = await request(r.app).put(api('/debug')).set(auth).send({ value: true });
    expect({ status: put.status, body: put.body }).toEqual({ status: 503, body: UNAVAILABLE });
    proxy.resume();
    await eventually(
      async () =>
        (await request(r.app).put(api('/debug')).set(auth).send({ value: true })).status === 200,
      15_000,
    );
  });

  it('without a mirror: ready() rejects with ERR_STORAGE_UNAVAILABLE after the bounded wait', async () => {
    const n = ns('startnone');
    const url = await databaseUrl();
    proxy = await TcpProxy.to(url);
    proxy.pause();
    const r = await replica(n, {
      connectionString: proxy.via(url),
      storage: { startTimeoutMs: 500 },
    });
    open.push(r);
    const err: unknown = await r.router.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ManagementError);
    expect((err as ManagementError).code).toBe('ERR_STORAGE_UNAVAILABLE');
    expect((err as ManagementError).message).not.toContain(String(proxy.port));
  });
});

/** A port nobody listens on (taken, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('examples/postgres started while the database is unreachable (a real process)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cpm-pg-start-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function start(env: Record<string, string>) {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, '..', 'examples', 'postgres', 'index.ts')],
      {
        env: { ...process.env, AUTH_DIR: path.join(dir, 'auths'), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    return { child, out: () => out, exited };
  }

  it('without a config: exits with status 1 and says why (it exited 0, silently)', async () => {
    const dead = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
    const run = start({
      DATABASE_URL: dead,
      CONFIG: path.join(dir, 'missing.yaml'),
      PORT: String(await freePort()),
    });
    expect(await run.exited).toBe(1);
    expect(run.out()).toContain('ERR_STORAGE_UNAVAILABLE');
  });

  it('with its config (the mirror): listens and answers reads from it', async () => {
    const dead = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, fixtureWith());
    const port = await freePort();
    const run = start({ DATABASE_URL: dead, CONFIG: config, PORT: String(port) });
    try {
      await eventually(() => run.out().includes('management API on'), 45_000);
      const res = await request(`http://127.0.0.1:${port}`).get(api('/request-retry')).set(auth);
      expect({ status: res.status, body: res.body }).toEqual({
        status: 200,
        body: { 'request-retry': 3 },
      });
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });
});
