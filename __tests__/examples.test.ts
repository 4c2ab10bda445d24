import express from 'express';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { parse } from 'yaml';
import { createTempConfig, type TempConfig } from '../lib';
import { createDemo } from '../examples/demo';
import { createPrefixedApp, PREFIXES } from '../examples/prefix';
import { createProxy, type Proxy } from '../examples/proxy';
import { auth, eventually, KEY_HASH } from './helpers';

const quiet = { bcryptRounds: 4, logger: { warn: () => undefined } };

describe('createTempConfig', () => {
  it('makes a 0600 config with the text and an empty 0700 auth folder, and removes both', () => {
    const tmp = createTempConfig('debug: true\n');
    expect(readFileSync(tmp.configPath, 'utf8')).toBe('debug: true\n');
    expect(path.dirname(tmp.configPath)).toBe(tmp.dir);
    if (process.platform !== 'win32') {
      expect(statSync(tmp.configPath).mode & 0o777).toBe(0o600);
      expect(statSync(tmp.authDir).mode & 0o777).toBe(0o700);
    }
    tmp.cleanup();
    expect(existsSync(tmp.dir)).toBe(false);
  });

  it('defaults to an empty config, on which the API is disabled (host 404)', async () => {
    const tmp = createTempConfig();
    expect(readFileSync(tmp.configPath, 'utf8')).toBe('');
    const { app, management } = createPrefixedApp(tmp.configPath, tmp.authDir, quiet);
    const res = await request(app).get('/v0/management/debug').set(auth);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({});
    await management.close();
    tmp.cleanup();
  });
});

describe('examples/proxy: client keys from the live config', () => {
  let tmp: TempConfig;
  let proxy: Proxy;
  let upstream: Server;
  let logged: string[];

  beforeEach(async () => {
    // A stand-in upstream API that echoes what reached it.
    const up = express();
    up.use(express.json());
    up.use((req, res) => {
      res.json({ method: req.method, url: req.originalUrl, body: req.body, authorization: req.get('authorization') ?? null });
    });
    upstream = await new Promise<Server>((resolve) => {
      const s = up.listen(0, '127.0.0.1', () => resolve(s));
    });
    const { port } = upstream.address() as AddressInfo;
    tmp = createTempConfig(`remote-management:
  secret-key: "${KEY_HASH}"
# the proxy's client keys
api-keys:
  - "k1"
`);
    logged = [];
    proxy = createProxy(tmp.configPath, tmp.authDir, { upstream: `http://127.0.0.1:${port}`, management: quiet, log: (l) => logged.push(l) });
  });

  afterEach(async () => {
    await proxy.management.close();
    await new Promise((r) => upstream.close(r));
    tmp.cleanup();
  });

  const call = (key?: string) => {
    const r = request(proxy.app).post('/v1/chat/completions?x=1').send({ model: 'm', messages: [] });
    return key === undefined ? r : r.set('Authorization', `Bearer ${key}`);
  };

  it('forwards an authenticated request (without the client key) and refuses others', async () => {
    const ok = await call('k1');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ method: 'POST', url: '/v1/chat/completions?x=1', body: { model: 'm', messages: [] }, authorization: null });
    const wrong = await call('k2');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ error: 'invalid api key' });
    const none = await call();
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ error: 'missing api key' });
  });

  it('a key added by editing the file works without restart', async () => {
    expect((await call('k2')).status).toBe(401);
    writeFileSync(tmp.configPath, readFileSync(tmp.configPath, 'utf8').replace('  - "k1"\n', '  - "k1"\n  - "k2"\n'));
    // The file watcher picks the edit up; no reload() call, no restart.
    await eventually(async () => (await call('k2')).status === 200);
    expect((await call('k1')).status).toBe(200);
    expect(proxy.management.getConfig()['api-keys']).toEqual(['k1', 'k2']);
  });

  it('a key added through the Management API works on the very next request; a removed one stops', async () => {
    expect((await call('k3')).status).toBe(401);
    const put = await request(proxy.app).put('/v0/management/api-keys').set(auth).send(['k1', 'k3']);
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ status: 'ok' });
    expect((await call('k3')).status).toBe(200); // no wait, no reload: the next request sees it
    const patch = await request(proxy.app).patch('/v0/management/api-keys').set(auth).send({ old: 'k1', new: 'k4' });
    expect(patch.status).toBe(200);
    expect((await call('k1')).status).toBe(401);
    expect((await call('k4')).status).toBe(200);
    const del = await request(proxy.app).delete('/v0/management/api-keys?value=k3').set(auth);
    expect(del.status).toBe(200);
    expect((await call('k3')).status).toBe(401);
    expect(parse(readFileSync(tmp.configPath, 'utf8'))['api-keys']).toEqual(['k4']);
    expect(readFileSync(tmp.configPath, 'utf8')).toContain("# the proxy's client keys");
  });

  it('a setting changed through the Management API applies on the very next request', async () => {
    // allow-localhost-unauthenticated: supertest's client is loopback, so no key is needed once on.
    expect((await call()).status).toBe(401);
    const put = await request(proxy.app).put('/v0/management/allow-localhost-unauthenticated').set(auth).send({ value: true });
    expect(put.status).toBe(200);
    expect((await call()).status).toBe(200);
    expect(logged).toEqual([]);
    await request(proxy.app).put('/v0/management/request-log').set(auth).send({ value: true }).expect(200);
    await call('k1').expect(200);
    expect(logged).toEqual(['POST /v1/chat/completions?x=1']);
    expect(parse(readFileSync(tmp.configPath, 'utf8'))).toMatchObject({ 'allow-localhost-unauthenticated': true, 'request-log': true });
    expect(readFileSync(tmp.configPath, 'utf8')).toContain("# the proxy's client keys");
  });

  it('answers 502 JSON when the upstream is down', async () => {
    // Port 1 (tcpmux) has no listener on a normal machine: the connection is refused.
    const dead = createProxy(tmp.configPath, tmp.authDir, { upstream: 'http://127.0.0.1:1', management: { ...quiet, watch: false } });
    const res = await request(dead.app).get('/v1/models').set('Authorization', 'Bearer k1');
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: 'upstream unreachable' });
    await dead.management.close();
  });
});

describe('examples/prefix: one router at two prefixes', () => {
  let tmp: TempConfig;
  beforeEach(() => {
    tmp = createTempConfig(`remote-management:\n  secret-key: "${KEY_HASH}"\nrequest-retry: 3\n`);
  });
  afterEach(() => tmp.cleanup());

  it('a write through one prefix is read through the other; both share access control and 404s', async () => {
    const { app, management } = createPrefixedApp(tmp.configPath, tmp.authDir, { ...quiet, openapi: true });
    try {
      const put = await request(app).put('/admin/api/request-retry').set(auth).send({ value: 9 });
      expect(put.status).toBe(200);
      for (const prefix of PREFIXES) {
        const res = await request(app).get(`${prefix}/request-retry`).set(auth);
        expect({ prefix, status: res.status, body: res.body }).toEqual({ prefix, status: 200, body: { 'request-retry': 9 } });
        const missing = await request(app).get(`${prefix}/nope`).set(auth);
        expect(missing.body).toEqual({ error: 'not found' });
        const noKey = await request(app).get(`${prefix}/request-retry`);
        expect(noKey.status).toBe(401);
        const doc = await request(app).get(`${prefix}/openapi.json`).set(auth);
        expect(doc.body.servers).toEqual([{ url: prefix }]);
      }
      expect((await request(app).get('/')).body).toEqual({ management: ['/admin/api', '/v0/management'] });
      expect(parse(readFileSync(tmp.configPath, 'utf8'))['request-retry']).toBe(9);
    } finally {
      await management.close();
    }
  });
});

describe('examples/demo: createDemo', () => {
  let dir: string;
  let log: jest.SpyInstance;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cpm-demo-'));
    log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => {
    log.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a commented config whose printed key works and is stored only as a bcrypt hash', async () => {
    const demo = createDemo(dir);
    try {
      const key = demo.createdKey as string;
      expect(key).toMatch(/^[A-Za-z0-9_-]{24}$/);
      await demo.management.ready();
      const text = readFileSync(path.join(dir, 'config.yaml'), 'utf8');
      expect(text).not.toContain(key);
      const secret = parse(text)['remote-management']['secret-key'] as string;
      expect(secret).toMatch(/^\$2[aby]\$10\$/);
      expect(text.split('\n').filter((l) => l.trimStart().startsWith('#')).length).toBeGreaterThan(3);
      if (process.platform !== 'win32') expect(statSync(path.join(dir, 'config.yaml')).mode & 0o777).toBe(0o600);

      const res = await request(demo.app).get('/v0/management/debug').set('Authorization', `Bearer ${key}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ debug: false });
      const wrong = await request(demo.app).get('/v0/management/debug').set('Authorization', 'Bearer not-the-key');
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({ error: 'invalid management key' });
      expect((await request(demo.app).get('/')).body).toEqual({ service: 'cli-proxy-management demo', management: '/v0/management' });
    } finally {
      await demo.management.close();
    }

    // A second start over the same folder keeps the config and prints no key; the old key works.
    const again = createDemo(dir);
    try {
      expect(again.createdKey).toBeUndefined();
      const res = await request(again.app).get('/v0/management/debug').set('X-Management-Key', demo.createdKey as string);
      expect(res.status).toBe(200);
    } finally {
      await again.management.close();
    }
  });
});
