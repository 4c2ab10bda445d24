/**
 * Connections the server ends or refuses (SQLSTATE class 57, "operator intervention": a
 * failover, an administrator's `pg_terminate_backend`, a server starting up or shutting down)
 * mean "storage unavailable": the write that meets one answers 503 with Retry-After and changes
 * nothing, and the replica comes back by itself. The answers met on the way are checked, not
 * only the recovery.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
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
let pool: pg.Pool | undefined;
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
  await pool?.end();
  pool = undefined;
  await proxy?.close();
  proxy = undefined;
  for (const ns of namespaces.splice(0)) await dropNamespace(ns);
});
afterAll(stopDatabase);

function ns(label: string): string {
  const n = uniqueNamespace(label);
  namespaces.push(n);
  return n;
}

const configRow = async (namespace: string) =>
  (
    await sql<{ text: string; version: string }>(
      'SELECT text, version FROM cpm_config WHERE namespace = $1',
      [namespace],
    )
  )[0];

function expectUnavailable(res: request.Response): void {
  expect({ status: res.status, body: res.body }).toEqual({
    status: 503,
    body: { error: 'storage unavailable' },
  });
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
}

describe('connections ended by the server', () => {
  it('57P01 (pg_terminate_backend) on the statement of a config write: 503 + Retry-After, nothing changed, then writes again', async () => {
    const n = ns('t57p01');
    const app = `cpm-57p01-${process.pid}-${randomBytes(3).toString('hex')}`;
    const url = new URL(await databaseUrl());
    url.searchParams.set('application_name', app);
    const r = await replica(n, { seed: fixtureWith(), connectionString: url.toString() });
    open.push(r);
    await r.router.ready();
    const before = await configRow(n);
    const mirrorBefore = r.readMirror();
    // Hold the namespace's row: the replica's write then waits in its own statement, which the
    // server ends while it waits.
    const holder = new pg.Client({ connectionString: await databaseUrl() });
    await holder.connect();
    let res: request.Response;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM cpm_config WHERE namespace = $1 FOR UPDATE', [n]);
      const answer = request(r.app)
        .put(api('/debug'))
        .set(auth)
        .send({ value: true })
        .then((x) => x);
      const waiting =
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'";
      await eventually(async () => (await sql(waiting, [app])).length === 1, 15_000);
      const killed = await sql<{ ok: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ok FROM (${waiting}) w`,
        [app],
      );
      expect(killed).toEqual([{ ok: true }]);
      res = await answer;
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    expectUnavailable(res);
    expect(await configRow(n)).toEqual(before);
    expect(r.readMirror()).toBe(mirrorBefore);
    expect(r.router.getConfig().debug).toBe(false);
    expect(r.warnings.join('\n')).toContain('database unreachable (57P01)');
    await eventually(
      async () =>
        (await request(r.app).put(api('/debug')).set(auth).send({ value: true })).status === 200,
      15_000,
    );
    expect((await configRow(n))?.text).toContain('debug: true');
  });

  it('57P03 (the server cannot take connections now) on a new connection of an auth-file upload: 503 + Retry-After, nothing written, then uploads again', async () => {
    const n = ns('t57p03');
    const url = await databaseUrl();
    proxy = await TcpProxy.to(url);
    // The host's pool, whose idle connections close at once: the upload needs a new connection.
    pool = new pg.Pool({ connectionString: proxy.via(url), max: 4, idleTimeoutMillis: 1 });
    const r = await replica(n, {
      seed: fixtureWith(),
      storage: { connectionString: undefined, pool },
    });
    open.push(r);
    await r.router.ready();
    const p = pool;
    await eventually(() => p.idleCount === 0 && p.totalCount === 1); // the listening connection only
    proxy.answerNewWith('57P03'); // the open connection goes on; new ones are refused
    const res = await request(r.app)
      .post(api('/auth-files?name=during.json'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{"d":1}');
    expectUnavailable(res);
    expect(await sql('SELECT name FROM cpm_token_files WHERE namespace = $1', [n])).toEqual([]);
    expect(existsSync(path.join(r.authDir, 'during.json'))).toBe(false);
    expect(r.warnings.join('\n')).toContain('database unreachable (57P03)');
    proxy.resume();
    await eventually(
      async () =>
        (
          await request(r.app)
            .post(api('/auth-files?name=after.json'))
            .set(auth)
            .set('Content-Type', 'application/json')
            .send('{"a":1}')
        ).status === 200,
      15_000,
    );
    expect(
      (await sql('SELECT name FROM cpm_token_files WHERE namespace = $1', [n])).map((x) => x.name),
    ).toEqual(['after.json']);
  });
});
