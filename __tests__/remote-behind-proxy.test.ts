import request from 'supertest';
import type { ManagementOptions } from '../lib';
import { api, auth, fixtureWith, harness, KEY, type Harness } from './helpers';

/**
 * The remote check and the lock-out read the address Express resolves (`req.ip`, which follows
 * the host's `trust proxy`), not the socket's. With `cors` or `panel` on, the router mounts the
 * access checks as separate layers (not the one-layer guard of the plain router): each layout
 * is driven here with remote clients behind a trusted reverse proxy. Reading the socket address
 * would make every such client look local (the proxy is on loopback) and share one count.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const LAYOUTS: readonly [string, ManagementOptions][] = [
  ['cors', { cors: true }],
  ['panel', { panel: true }],
  ['cors and panel', { cors: true, panel: true }],
];
const remoteAllowed = fixtureWith().replace('allow-remote: false', 'allow-remote: true');

function behindProxy(text: string, options: ManagementOptions): Harness {
  const x = harness(text, options);
  x.app.set('trust proxy', 'loopback'); // the reverse proxy runs on this machine
  return x;
}
const from = (x: Harness, ip: string, key?: string) => {
  const req = request(x.app).get(api('/debug')).set('X-Forwarded-For', ip);
  return key === undefined ? req : req.set('Authorization', `Bearer ${key}`);
};

describe.each(LAYOUTS)('with %s on, behind a trusted proxy', (_name, options) => {
  it('a remote client is refused (403) while allow-remote is false; a local one gets in', async () => {
    h = behindProxy(fixtureWith(), options);
    const before = h.read();
    const res = await from(h, '203.0.113.7', KEY);
    expect({ status: res.status, body: res.body }).toEqual({
      status: 403,
      body: { error: 'remote management disabled' },
    });
    const put = await request(h.app)
      .put(api('/debug'))
      .set('X-Forwarded-For', '203.0.113.7')
      .set(auth)
      .send({ value: true });
    expect({ status: put.status, body: put.body }).toEqual({
      status: 403,
      body: { error: 'remote management disabled' },
    });
    expect(h.read()).toBe(before);
    const local = await from(h, '127.0.0.1', KEY);
    expect({ status: local.status, body: local.body }).toEqual({
      status: 200,
      body: { debug: false },
    });
  });

  it('each remote client has its own lock-out count (not the proxy’s)', async () => {
    h = behindProxy(remoteAllowed, { ...options, maxAttempts: 3 });
    for (let i = 0; i < 3; i++)
      expect((await from(h, '203.0.113.8', `wrong-${i}`)).status).toBe(401);
    const locked = await from(h, '203.0.113.8', KEY);
    expect({ status: locked.status, body: locked.body }).toEqual({
      status: 429,
      body: { error: 'too many failed attempts' },
    });
    // Another client behind the same proxy, and the proxy's own address, are not locked out.
    for (const ip of ['203.0.113.9', '127.0.0.1']) {
      const res = await from(h, ip, KEY);
      expect({ ip, status: res.status, body: res.body }).toEqual({
        ip,
        status: 200,
        body: { debug: false },
      });
    }
  });
});

describe('the panel files behind a trusted proxy', () => {
  it('are closed to a remote client while allow-remote is false, open to a local one', async () => {
    h = behindProxy(fixtureWith(), { panel: true });
    const remote = await request(h.app).get(api('/panel/')).set('X-Forwarded-For', '203.0.113.10');
    expect({ status: remote.status, body: remote.body }).toEqual({
      status: 403,
      body: { error: 'remote management disabled' },
    });
    const local = await request(h.app).get(api('/panel/')).set('X-Forwarded-For', '127.0.0.1');
    expect(local.status).toBe(200);
    expect(local.headers['content-type']).toBe('text/html; charset=utf-8');
  });
});
