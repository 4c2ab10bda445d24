/**
 * Rule 9 (outage) and the connection-string half of rule 10, against a real server. The shared
 * server is never stopped: a replica reaches it through a TCP proxy that the test cuts (every
 * connection dropped, new ones refused) and restores, or its backends are terminated.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
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
  for (const ns of namespaces.splice(0)) await dropNamespace(ns);
});
afterAll(stopDatabase);

function ns(label: string): string {
  const n = uniqueNamespace(label);
  namespaces.push(n);
  return n;
}

const row = async (namespace: string) =>
  (
    await sql<{ text: string; version: string }>(
      'SELECT text, version FROM cpm_config WHERE namespace = $1',
      [namespace],
    )
  )[0];

describe('rule 9: outage', () => {
  it('database lost under load: writes 503 with Retry-After and change nothing, reads 200, recovery without restart, missed changes not lost', async () => {
    const n = ns('outage');
    const url = await databaseUrl();
    proxy = await TcpProxy.to(url);
    const direct = await replica(n, { seed: fixtureWith() });
    open.push(direct);
    await direct.router.ready();
    const cut = await replica(n, { seed: fixtureWith(), connectionString: proxy.via(url) });
    open.push(cut);
    await cut.router.ready();
    await request(cut.app)
      .post(api('/auth-files?name=before.json'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{"b":1}')
      .expect(200);
    await eventually(() => existsSync(path.join(direct.authDir, 'before.json')));

    proxy.pause();
    // The first write may be the one that finds the connection gone; from then on every write is refused at once.
    await eventually(
      async () =>
        (await request(cut.app).put(api('/debug')).set(auth).send({ value: true })).status === 503,
    );
    const rowBefore = await row(n);
    const mirrorBefore = cut.readMirror();

    // Load while the database is away: reads keep answering from memory, writes are refused.
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2
          ? request(cut.app).get(api('/request-retry')).set(auth)
          : request(cut.app)
              .put(api('/request-retry'))
              .set(auth)
              .send({ value: 100 + i }),
      ),
    );
    for (const [i, res] of results.entries()) {
      if (i % 2) {
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ 'request-retry': 3 });
      } else {
        expect(res.status).toBe(503);
        expect(res.body).toEqual({ error: 'storage unavailable' });
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
    }
    const upload = await request(cut.app)
      .post(api('/auth-files?name=during.json'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{}');
    expect(upload.status).toBe(503);
    expect(upload.body).toEqual({ error: 'storage unavailable' });
    const del = await request(cut.app).delete(api('/auth-files?name=before.json')).set(auth);
    expect(del.status).toBe(503);
    expect(del.body).toEqual({ error: 'storage unavailable' });
    const list = await request(cut.app).get(api('/auth-files')).set(auth);
    expect(list.status).toBe(200);
    expect(list.body.files.map((f: { name: string }) => f.name)).toEqual(['before.json']);
    const download = await request(cut.app)
      .get(api('/auth-files/download?name=before.json'))
      .set(auth);
    expect(download.status).toBe(200);
    expect(download.text).toBe('{"b":1}');
    // Nothing changed anywhere.
    expect(await row(n)).toEqual(rowBefore);
    expect(cut.readMirror()).toBe(mirrorBefore);
    expect(
      (await sql('SELECT name FROM cpm_token_files WHERE namespace = $1', [n])).map((r) => r.name),
    ).toEqual(['before.json']);
    expect(existsSync(path.join(cut.authDir, 'during.json'))).toBe(false);

    // Meanwhile another replica changes things: the cut one misses these notices.
    await request(direct.app)
      .put(api('/proxy-url'))
      .set(auth)
      .send({ value: 'socks5://meanwhile:1080' })
      .expect(200);
    await request(direct.app)
      .post(api('/auth-files?name=meanwhile.json'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{"m":1}')
      .expect(200);
    expect(cut.router.getConfig()['proxy-url']).toBe('');

    proxy.resume();
    // Back by itself: the re-read after the reconnect brings what it missed.
    await eventually(
      () => cut.router.getConfig()['proxy-url'] === 'socks5://meanwhile:1080',
      10_000,
    );
    await eventually(() => existsSync(path.join(cut.authDir, 'meanwhile.json')), 10_000);
    expect(cut.readMirror()).toContain('socks5://meanwhile:1080');
    await eventually(
      async () =>
        (await request(cut.app).put(api('/debug')).set(auth).send({ value: true })).status === 200,
      10_000,
    );
    await eventually(() => direct.router.getConfig().debug === true);
    expect(cut.warnings.some((w) => w.includes('database unreachable'))).toBe(true);
    // Logged once the re-read after the reconnect is done; writes are served from the moment the
    // connection is up, so the write above can land (and reach the other replica) before it.
    await eventually(() => cut.warnings.some((w) => w.includes('reachable again')), 10_000);
  });

  it('backends terminated by the server (pg_terminate_backend): the replica reconnects and serves writes again', async () => {
    const n = ns('terminate');
    const app = `cpm-terminate-${process.pid}`;
    const url = new URL(await databaseUrl());
    url.searchParams.set('application_name', app);
    const [a, b] = [
      await replica(n, { seed: fixtureWith(), connectionString: url.toString() }),
      await replica(n, { seed: fixtureWith() }),
    ];
    open.push(a, b);
    await Promise.all([a.router.ready(), b.router.ready()]);
    const killed = await sql<{ ok: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
      [app],
    );
    expect(killed.length).toBeGreaterThan(0);
    await request(b.app).put(api('/request-retry')).set(auth).send({ value: 42 }).expect(200);
    await eventually(() => a.router.getConfig()['request-retry'] === 42, 10_000);
    await eventually(
      async () =>
        (await request(a.app).put(api('/debug')).set(auth).send({ value: true })).status === 200,
      10_000,
    );
    await eventually(() => b.router.getConfig().debug === true);
  });

  it('a replica that starts while the database is down serves its local copy, answers 503 to writes, and closes cleanly', async () => {
    const n = ns('startdown');
    const url = await databaseUrl();
    proxy = await TcpProxy.to(url);
    proxy.pause();
    const r = await replica(n, { seed: fixtureWith(), connectionString: proxy.via(url) });
    open.push(r);
    let ready = false;
    void r.router.ready().then(
      () => (ready = true),
      () => undefined,
    );
    await eventually(() => r.warnings.some((w) => w.includes('database unreachable')));
    expect((await request(r.app).get(api('/debug')).set(auth)).body).toEqual({ debug: false });
    const put = await request(r.app).put(api('/debug')).set(auth).send({ value: true });
    expect(put.status).toBe(503);
    expect(put.body).toEqual({ error: 'storage unavailable' });
    // Started from its mirror: ready() resolved once the database was found unreachable.
    expect(ready).toBe(true);
    proxy.resume();
    await eventually(
      async () =>
        (await request(r.app).put(api('/debug')).set(auth).send({ value: true })).status === 200,
      15_000,
    );
  });
});

describe('rule 10: connection strings never echoed', () => {
  it('a refused connection with a password in the URL: no password or URL in warnings, answers or errors', async () => {
    const n = ns('secret');
    const closed = await TcpProxy.to('postgres://127.0.0.1:1/x');
    const port = closed.port;
    await closed.close(); // nothing listens there now: connections are refused
    const password = 'Sup3r-S3cret-Passw0rd';
    const connectionString = `postgres://cpm_user:${password}@127.0.0.1:${port}/nodb?application_name=secret-test`;
    const r = await replica(n, { seed: fixtureWith(), connectionString });
    open.push(r);
    await eventually(() => r.warnings.length > 0);
    const answers = [
      await request(r.app).put(api('/debug')).set(auth).send({ value: true }),
      await request(r.app)
        .post(api('/auth-files?name=x.json'))
        .set(auth)
        .set('Content-Type', 'application/json')
        .send('{}'),
      await request(r.app).delete(api('/auth-files?name=x.json')).set(auth),
      await request(r.app).get(api('/debug')).set(auth),
    ];
    expect(answers.map((a) => a.status)).toEqual([503, 503, 503, 200]);
    const everything = JSON.stringify([r.warnings, answers.map((a) => [a.text, a.headers])]);
    expect(everything).not.toContain(password);
    expect(everything).not.toContain('cpm_user');
    expect(everything).not.toContain(`:${port}`);
    expect(r.warnings.join('\n')).toContain('ECONNREFUSED');
    expect(readFileSync(r.configPath, 'utf8')).toBe(fixtureWith()); // the local copy untouched
  });
});
