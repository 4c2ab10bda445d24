import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { auth, harness, type Harness, api } from './helpers';

let h: Harness;
beforeEach(() => {
  h = harness(undefined, { bodyLimit: 2048 });
});
afterEach(() => h.close());

describe("route matching is what Express's default router does (one dispatch table, one layer)", () => {
  // The same exact paths on Express's own router (case-insensitive, one trailing slash allowed):
  // a path our table finds must be one Express would route, and the other way round.
  const ROUTES = ['/debug', '/config.yaml', '/auth-files/download', '/oauth-excluded-models'];
  const reference = express();
  const inner = express.Router();
  for (const r of ROUTES) inner.get(r, (_req, res) => void res.status(299).end());
  reference.use('/v0/management', inner);
  const PATHS = [
    '/debug',
    '/DEBUG',
    '/Debug',
    '/debug/',
    '/debug//',
    '//debug',
    '/debug%2F',
    '/de%62ug',
    '/debug;x=1',
    '/debug.json',
    '/debug?x=1',
    '/debug/?x=1',
    '/config.yaml',
    '/CONFIG.YAML',
    '/config.yaml/',
    '/configxyaml',
    '/auth-files/download/',
    '/AUTH-FILES/Download?name=x',
    '/auth-files//download',
    '/oauth-excluded-models/',
    '/OAuth-Excluded-Models',
    '/debug%00',
    '/%64ebug',
    '/debug/x',
  ];
  it.each(PATHS)('GET %s', async (p) => {
    const expected = (await request(reference).get(api(p))).status === 299;
    const res = await request(h.app).get(api(p)).set(auth);
    expect({ path: p, routed: res.status !== 404 }).toEqual({ path: p, routed: expected });
    if (res.status === 404) expect(res.body).toEqual({ error: 'not found' });
  });

  it('HEAD runs the GET handlers and sends no body; an unknown method on a known path is 405 with Allow', async () => {
    const head = await request(h.app).head(api('/DEBUG/')).set(auth);
    expect(head.status).toBe(200);
    expect(head.text).toBeUndefined();
    expect(head.headers['content-type']).toMatch(/^application\/json/);
    const odd = await request(h.app).propfind(api('/Debug')).set(auth);
    expect({ status: odd.status, body: odd.body, allow: odd.headers.allow }).toEqual({
      status: 405,
      body: { error: 'method not allowed' },
      allow: 'GET, HEAD, PUT, PATCH',
    });
  });
});

describe('conventions', () => {
  it("answers are JSON.stringify's bytes with a Content-Length, no ETag and no 304, whatever the host's json settings", async () => {
    h.app.set('json spaces', 2);
    h.app.set('json replacer', () => 'replaced');
    const paths = ['/debug', '/api-keys', '/config', '/auth-files', '/no-such-thing'];
    for (const p of paths) {
      const res = await request(h.app).get(api(p)).set(auth);
      expect({
        p,
        etag: res.headers.etag,
        type: res.headers['content-type'],
        length: Number(res.headers['content-length']),
      }).toEqual({
        p,
        etag: undefined,
        type: 'application/json; charset=utf-8',
        length: Buffer.byteLength(res.text),
      });
      expect(res.text).toBe(JSON.stringify(JSON.parse(res.text)));
      // A conditional GET is answered in full (a 304 would need a validator the API does not give).
      const again = await request(h.app).get(api(p)).set(auth).set('If-None-Match', '*');
      expect({ p, status: again.status, text: again.text }).toEqual({
        p,
        status: res.status,
        text: res.text,
      });
    }
    const errorAnswer = await request(h.app)
      .get(api('/debug'))
      .set('Authorization', 'Bearer wrong');
    expect({
      status: errorAnswer.status,
      text: errorAnswer.text,
      etag: errorAnswer.headers.etag,
    }).toEqual({ status: 401, text: '{"error":"invalid management key"}', etag: undefined });
  });

  it('404 JSON for an unknown path after access control', async () => {
    const res = await request(h.app).get(api('/no-such-thing')).set(auth);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not found' });
  });

  it('access control runs before the 404 (no probing without a key)', async () => {
    const res = await request(h.app).get(api('/no-such-thing'));
    expect(res.status).toBe(401);
  });

  it.each(['post', 'options'] as const)(
    '405 JSON with Allow for %s on a scalar',
    async (method) => {
      const res = await request(h.app)[method](api('/debug')).set(auth);
      expect(res.status).toBe(405);
      expect(res.body).toEqual({ error: 'method not allowed' });
      expect(res.headers.allow).toBe('GET, HEAD, PUT, PATCH');
    },
  );

  it.each([
    ['{"value": tru', 'truncated'],
    ['{value: true}', 'unquoted key'],
    ['', 'empty'],
    ['"just a string"', 'a JSON string'],
    ['[true]', 'an array'],
    ['null', 'null'],
  ])('400 invalid body for malformed or wrong-shaped JSON (%s: %s)', async (body) => {
    const before = h.read();
    const res = await request(h.app)
      .put(api('/debug'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid body');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(h.read()).toBe(before);
  });

  it('413 JSON for a body over the limit, file untouched', async () => {
    const before = h.read();
    const res = await request(h.app)
      .put(api('/proxy-url'))
      .set(auth)
      .send({ value: `http://x.example/${'a'.repeat(4096)}` });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: 'request body too large' });
    expect(h.read()).toBe(before);
  });

  it.each(['__proto__', 'constructor', 'prototype'])(
    'refuses a body with a %s key anywhere',
    async (key) => {
      const before = h.read();
      const res = await request(h.app)
        .put(api('/debug'))
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(`{"value": true, "x": {"${key}": {"polluted": true}}}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: 'invalid body',
        details: 'forbidden key (__proto__, constructor or prototype)',
      });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(h.read()).toBe(before);
    },
  );
});

describe('import rules between rooms', () => {
  const LIB = path.join(__dirname, '..', 'lib');
  /** Every TypeScript file under `dir`, as a path relative to lib/. */
  const filesUnder = (dir: string): string[] =>
    (readdirSync(path.join(LIB, dir), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(dir, f));
  /** Every module a file imports, exports from or requires: a package name, or a path relative to lib/. */
  function importsOf(file: string): string[] {
    const text = readFileSync(path.join(LIB, file), 'utf8');
    const specs = [
      ...text.matchAll(
        /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm,
      ),
    ].map((m) => m[1] as string);
    return specs.map((s) =>
      s.startsWith('.') ? path.relative(LIB, path.resolve(LIB, path.dirname(file), s)) : s,
    );
  }
  /** `file imports spec` for each import of the files under `dir` that `banned` matches. */
  const breaches = (dir: string, banned: (spec: string) => boolean): string[] =>
    filesUnder(dir).flatMap((f) =>
      importsOf(f)
        .filter(banned)
        .map((spec) => `${f} imports ${spec}`),
    );
  const isHttp = (spec: string): boolean => spec === 'http' || spec.startsWith(`http${path.sep}`);
  const isExpress = (spec: string): boolean => /^(express|multer)(\/|$)/.test(spec);

  it('the rule reads imports as written (a self-check on a known file)', () => {
    expect(importsOf(path.join('http', 'access.ts'))).toEqual(
      expect.arrayContaining(['node:net', 'express', path.join('config', 'secret')]),
    );
  });

  it.each(['config', 'engines', 'yaml'])(
    'stores speak no HTTP: nothing under lib/%s imports lib/http, express or multer',
    (dir) => {
      expect(filesUnder(dir).length).toBeGreaterThan(3);
      expect(breaches(dir, (s) => isHttp(s) || isExpress(s))).toEqual([]);
    },
  );

  it('engines store text: nothing under lib/engines parses YAML, hashes a key or reaches into the core', () => {
    const core = (s: string): boolean =>
      s === 'config' ||
      s.startsWith(`config${path.sep}`) ||
      s.startsWith(path.join('yaml', 'text'));
    expect(breaches('engines', (s) => /^(yaml|bcrypt)$/.test(s) || core(s))).toEqual([]);
  });

  it('settings do no I/O and no HTTP: nothing under lib/settings imports lib/http, express or node:fs', () => {
    expect(
      breaches('settings', (s) => isHttp(s) || isExpress(s) || /^(node:)?fs(\/|$)/.test(s)),
    ).toEqual([]);
  });
});

describe('the packaged build works inside test runners', () => {
  // jest runs CommonJS in a module VM that refuses a dynamic import() (ERR_VM_DYNAMIC_IMPORT_
  // CALLBACK_MISSING_FLAG): a dependency loaded that way fails only inside jest, and only in the
  // built package (the suite runs the sources). Dependencies loaded on first use go through
  // lib/load-sync.ts (`require`). The pack test runs the tarball inside jest itself.
  const LIB = path.join(__dirname, '..', 'lib');
  const sources = (readdirSync(LIB, { recursive: true }) as string[]).filter(
    (f) => f.endsWith('.ts') && !f.startsWith(`panel${path.sep}client`),
  );
  /** `import(` used as a call (not `typeof import('x')` in a type position). */
  const dynamicImports = (text: string): string[] =>
    [...text.matchAll(/(?<!typeof\s)\bimport\s*\(\s*['"`]([^'"`]+)/g)].map((m) => m[1] as string);

  it('the rule finds a dynamic import (a self-check)', () => {
    expect(
      dynamicImports("const m = await import('bcrypt'); type T = typeof import('pg');"),
    ).toEqual(['bcrypt']);
  });

  it('no file of lib/ loads a module with a dynamic import()', () => {
    expect(sources.length).toBeGreaterThan(30);
    expect(
      sources.flatMap((f) =>
        dynamicImports(readFileSync(path.join(LIB, f), 'utf8')).map(
          (spec) => `${f}: import('${spec}')`,
        ),
      ),
    ).toEqual([]);
  });
});
