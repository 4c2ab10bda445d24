/**
 * The PostgreSQL engine's lock-out while the database is away: the failed attempts are counted
 * in the replica's memory meanwhile, so the lock-out goes on (the count must add up, not start
 * again at each failure). The database is cut through a TCP proxy; the shared server runs on.
 */
import request from 'supertest';
import { api, fixtureWith, KEY } from './helpers';
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

const FORMS: readonly [string, string][] = [
  ['Authorization', 'Bearer '],
  ['Authorization', ''],
  ['X-Management-Key', ''],
];

describe('lock-out while the database is away', () => {
  it('5 wrong keys during the outage lock the client out: the right key is 429 with Retry-After, another client gets in', async () => {
    const n = uniqueNamespace('lockdown');
    namespaces.push(n);
    const url = await databaseUrl();
    proxy = await TcpProxy.to(url);
    const r = await replica(n, {
      seed: fixtureWith().replace('allow-remote: false', 'allow-remote: true'),
      connectionString: proxy.via(url),
    });
    open.push(r);
    r.app.set('trust proxy', true);
    await r.router.ready();
    proxy.pause();
    const from = (ip: string, key: string, [header, prefix]: [string, string] = FORMS[0]!) =>
      request(r.app).get(api('/debug')).set('X-Forwarded-For', ip).set(header, `${prefix}${key}`);
    for (let i = 0; i < 5; i++) {
      const res = await from('198.51.100.60', `wrong-${i}`, FORMS[i % 3]);
      expect({ status: res.status, body: res.body }).toEqual({
        status: 401,
        body: { error: 'invalid management key' },
      });
    }
    for (const form of FORMS) {
      const locked = await from('198.51.100.60', KEY, form);
      expect({ status: locked.status, body: locked.body }).toEqual({
        status: 429,
        body: { error: 'too many failed attempts' },
      });
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(1790); // the default 30-minute window
    }
    const other = await from('198.51.100.61', KEY);
    expect({ status: other.status, body: other.body }).toEqual({
      status: 200,
      body: { debug: false },
    });
    // Nothing of it reached the database (it was away).
    expect(await sql('SELECT key FROM cpm_lockout WHERE namespace = $1', [n])).toEqual([]);
    expect(r.warnings.some((w) => w.includes('database unreachable'))).toBe(true);
  });
});
