import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { parse } from 'yaml';
import { createTempConfig, type TempConfig } from '../lib';
import { createDemo } from '../examples/demo';
import { createPrefixedApp, PREFIXES } from '../examples/prefix';
import { auth, KEY_HASH } from './helpers';

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

describe('examples/prefix: one router at two prefixes', () => {
  let tmp: TempConfig;
  beforeEach(() => {
    tmp = createTempConfig(`remote-management:\n  secret-key: "${KEY_HASH}"\nrequest-retry: 3\n`);
  });
  afterEach(() => tmp.cleanup());

  it('a write through one prefix is read through the other; both share access control and 404s', async () => {
    const { app, management } = createPrefixedApp(tmp.configPath, tmp.authDir, {
      ...quiet,
      openapi: true,
    });
    try {
      const put = await request(app).put('/admin/api/request-retry').set(auth).send({ value: 9 });
      expect(put.status).toBe(200);
      for (const prefix of PREFIXES) {
        const res = await request(app).get(`${prefix}/request-retry`).set(auth);
        expect({ prefix, status: res.status, body: res.body }).toEqual({
          prefix,
          status: 200,
          body: { 'request-retry': 9 },
        });
        const missing = await request(app).get(`${prefix}/nope`).set(auth);
        expect(missing.body).toEqual({ error: 'not found' });
        const noKey = await request(app).get(`${prefix}/request-retry`);
        expect(noKey.status).toBe(401);
        const doc = await request(app).get(`${prefix}/openapi.json`).set(auth);
        expect(doc.body.servers).toEqual([{ url: prefix }]);
      }
      expect((await request(app).get('/')).body).toEqual({
        management: ['/admin/api', '/v0/management'],
      });
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
      expect(text.split('\n').filter((l) => l.trimStart().startsWith('#')).length).toBeGreaterThan(
        3,
      );
      if (process.platform !== 'win32')
        expect(statSync(path.join(dir, 'config.yaml')).mode & 0o777).toBe(0o600);

      const res = await request(demo.app)
        .get('/v0/management/debug')
        .set('Authorization', `Bearer ${key}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ debug: false });
      const wrong = await request(demo.app)
        .get('/v0/management/debug')
        .set('Authorization', 'Bearer not-the-key');
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({ error: 'invalid management key' });
      expect((await request(demo.app).get('/')).body).toEqual({
        service: 'cli-proxy-management demo',
        management: '/v0/management',
      });
    } finally {
      await demo.management.close();
    }

    // A second start over the same folder keeps the config and prints no key; the old key works.
    const again = createDemo(dir);
    try {
      expect(again.createdKey).toBeUndefined();
      const res = await request(again.app)
        .get('/v0/management/debug')
        .set('X-Management-Key', demo.createdKey as string);
      expect(res.status).toBe(200);
    } finally {
      await again.management.close();
    }
  });
});
