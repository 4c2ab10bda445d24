// Host routes (the `routes` option): matched by pattern behind the router's access control,
// lock-out, CORS and headers; their errors as hooks'; described in the OpenAPI document.
import { validate, compileErrors } from '@readme/openapi-parser';
import request from 'supertest';
import { HookError, type HostRoute, type ManagementOptions } from '../lib';
import { api, auth, harness, type Harness } from './helpers';

let h: Harness;
let warnings: string[];
afterEach(async () => {
  await h?.close();
});

function make(routes: HostRoute[], options: ManagementOptions = {}): Harness {
  warnings = [];
  h = harness(undefined, { routes, logger: { warn: (m) => warnings.push(m) }, ...options });
  return h;
}

const ROUTES: HostRoute[] = [
  {
    method: 'GET',
    path: '/plugins/:id/config',
    description: 'A plugin config.',
    handler: (req, res) => void res.json({ id: req.params.id, params: req.params }),
  },
  {
    method: 'GET',
    path: '/plugins/all/config',
    handler: (_req, res) => void res.json({ literal: true }),
  },
  {
    method: 'POST',
    path: '/plugins/:id/config',
    handler: (req, res) => void res.json({ got: req.body as unknown }),
  },
  {
    method: 'PUT',
    path: '/raw',
    body: 'raw',
    handler: (req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () =>
        res.json({ bytes: n, body: req.body === undefined ? 'unread' : 'parsed' }),
      );
    },
  },
  {
    method: 'GET',
    path: '/fail',
    handler: () => {
      throw new Error('secret text');
    },
  },
  {
    method: 'GET',
    path: '/refuse',
    handler: () => {
      throw new HookError(409, 'busy');
    },
  },
  {
    method: 'GET',
    path: '/late-fail',
    handler: (_req, res) => {
      res.write('partial');
      throw new Error('after');
    },
  },
];

describe('host routes', () => {
  it('a parameter takes one non-empty segment, percent-decoded; literal paths match first', async () => {
    make(ROUTES);
    expect((await request(h.app).get(api('/plugins/a%20b/config')).set(auth)).body).toEqual({
      id: 'a b',
      params: { id: 'a b' },
    });
    expect((await request(h.app).get(api('/plugins/all/config')).set(auth)).body).toEqual({
      literal: true,
    });
    expect((await request(h.app).get(api('/PLUGINS/x/config/')).set(auth)).body).toMatchObject({
      id: 'x',
    });
    expect((await request(h.app).get(api('/plugins//config')).set(auth)).status).toBe(404);
  });

  it('json body parsed by the router (its limits and checks), raw left unread', async () => {
    make(ROUTES, { bodyLimit: 100 });
    expect(
      (await request(h.app).post(api('/plugins/x/config')).set(auth).send({ a: 1 })).body,
    ).toEqual({ got: { a: 1 } });
    const big = await request(h.app)
      .post(api('/plugins/x/config'))
      .set(auth)
      .send({ a: 'x'.repeat(200) });
    expect(big.status).toBe(413);
    expect(big.body).toEqual({ error: 'request body too large' });
    const proto = await request(h.app)
      .post(api('/plugins/x/config'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{"__proto__":{"x":1}}');
    expect(proto.status).toBe(400);
    expect((await request(h.app).put(api('/raw')).set(auth).send('x'.repeat(500))).body).toEqual({
      bytes: 500,
      body: 'unread',
    });
  });

  it('behind the access control: no key 401, wrong keys lock out (429), no secret = invisible', async () => {
    make(ROUTES, { maxAttempts: 1 });
    const none = await request(h.app).get(api('/plugins/x/config'));
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ error: 'missing management key' });
    await request(h.app)
      .get(api('/plugins/x/config'))
      .set('Authorization', 'Bearer wrong')
      .expect(401);
    const locked = await request(h.app).get(api('/plugins/x/config')).set(auth);
    expect(locked.status).toBe(429);
    await h.close();
    h = harness('debug: false\n', { routes: ROUTES });
    const invisible = await request(h.app).get(api('/plugins/x/config')).set(auth);
    expect(invisible.status).toBe(404);
    expect(invisible.body).toEqual({});
  });

  it('the headers of every answer, CORS preflight, 405 with Allow, HEAD runs GET', async () => {
    make(ROUTES, { cors: true, serverInfo: { version: '9.9.9' } });
    const res = await request(h.app).get(api('/plugins/x/config')).set(auth);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-cpa-version']).toBe('9.9.9');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const pre = await request(h.app).options(api('/plugins/x/config'));
    expect(pre.status).toBe(204);
    const wrong = await request(h.app).delete(api('/plugins/x/config')).set(auth);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET, HEAD, POST');
    expect(wrong.body).toEqual({ error: 'method not allowed' });
    const head = await request(h.app).head(api('/plugins/x/config')).set(auth);
    expect(head.status).toBe(200);
  });

  it('a throw before answering is as a hook throw; HookError answers; after the first byte the connection ends', async () => {
    make(ROUTES);
    const fail = await request(h.app).get(api('/fail')).set(auth);
    expect(fail.status).toBe(500);
    expect(fail.body).toEqual({ error: 'runtime error' });
    expect(warnings).toEqual(['cli-proxy-management: runtime hook route GET /fail failed (Error)']);
    const refuse = await request(h.app).get(api('/refuse')).set(auth);
    expect(refuse.status).toBe(409);
    expect(refuse.body).toEqual({ error: 'busy' });
    await expect(request(h.app).get(api('/late-fail')).set(auth)).rejects.toThrow();
  });

  it.each([
    [
      [{ method: 'GET', path: '/config', handler: () => undefined }],
      'GET /config: the path is taken by a route of the router',
    ],
    [
      [{ method: 'POST', path: '/Debug/', handler: () => undefined }],
      'routes[0].path must start with / and hold at most 16 segments, each literal (A-Za-z0-9._~-) or :name',
    ],
    [
      [{ method: 'POST', path: '/debug', handler: () => undefined }],
      'POST /debug: the path is taken by a route of the router',
    ],
    [
      [
        { method: 'GET', path: '/a/:x', handler: () => undefined },
        { method: 'GET', path: '/A/:y', handler: () => undefined },
      ],
      'routes[1]: GET /A/:y is defined twice',
    ],
    [
      [{ method: 'TRACE', path: '/a', handler: () => undefined }],
      'routes[0].method must be one of GET, POST, PUT, PATCH, DELETE',
    ],
    [[{ method: 'GET', path: '/a', handler: 'x' }], 'routes[0].handler must be a function'],
    [
      [{ method: 'GET', path: `/${Array(17).fill('a').join('/')}`, handler: () => undefined }],
      'routes[0].path must start with / and hold at most 16 segments, each literal (A-Za-z0-9._~-) or :name',
    ],
    [
      [{ method: 'GET', path: '/a b', handler: () => undefined }],
      'routes[0].path must start with / and hold at most 16 segments, each literal (A-Za-z0-9._~-) or :name',
    ],
  ])('%j is ERR_INVALID_OPTION', (routes, message) => {
    expect(() => make(routes as unknown as HostRoute[])).toThrow(`ERR_INVALID_OPTION: ${message}`);
  });

  it('a host route on a runtime hook path is defined twice', () => {
    expect(() =>
      harness(undefined, {
        runtime: { latestVersion: () => 'v1' },
        routes: [{ method: 'GET', path: '/latest-version', handler: () => undefined }],
      }),
    ).toThrow('ERR_INVALID_OPTION: GET /latest-version is defined twice');
  });

  it('the OpenAPI document lists host and runtime routes and stays valid', async () => {
    make(ROUTES, {
      openapi: true,
      runtime: {
        readLogs: () => ({ lines: [], latestTimestamp: 0 }),
        openErrorLog: () => undefined,
        apiCallCredential: () => undefined,
      },
    });
    const doc = (await request(h.app).get(api('/openapi.json')).set(auth)).body as {
      paths: Record<
        string,
        Record<string, { description?: string; parameters?: { name: string }[] }>
      >;
    };
    expect(doc.paths['/plugins/{id}/config']?.get?.description).toBe('A plugin config.');
    expect(doc.paths['/plugins/{id}/config']?.get?.parameters?.map((p) => p.name)).toEqual(['id']);
    expect(Object.keys(doc.paths['/plugins/{id}/config'] ?? {})).toEqual(['get', 'post']);
    for (const p of ['/logs', '/request-error-logs/{name}', '/api-call'])
      expect(doc.paths[p]).toBeDefined();
    expect(doc.paths['/latest-version']).toBeUndefined();
    const result = await validate(structuredClone(doc) as never);
    if (!result.valid) throw new Error(compileErrors(result));
  });
});
