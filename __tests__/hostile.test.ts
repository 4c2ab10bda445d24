import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import express4 from 'express4';
import fc from 'fast-check';
import type { ScalarDescriptor } from '../lib';
import { MAX_JSON_DEPTH } from '../lib/http/json-body';
import { harness, KEY, KEY_HASH, type Harness } from './helpers';

/**
 * Hostile input: every route of the table (whatever rows it holds), every method, with
 * malformed, truncated, deeply nested, oversized and wrongly typed bodies and queries, on an
 * Express 5 and an Express 4 host (Express 4 parses `a[b]=1` queries into objects).
 * Each answer must be a JSON 2xx/4xx (never a 5xx, never a crash); a rejected request leaves
 * the config file and the auth folder byte-identical; `Object.prototype` stays untouched; no
 * answer and no log line holds the key.
 */
// Thousands of sequential requests per test: on a busy 2-core machine far longer than jest's
// 30 s default. A test that timed out kept sending in the background and made the next test
// see a disk change it did not cause.
jest.setTimeout(900_000);

const MOUNT = '/v0/management';
const SEED = 20251126;
/** Host rows on top of the built-in table: a `number` scalar (Infinity, NaN) and a nested key. */
const HOST_ROWS: ScalarDescriptor[] = [
  { kind: 'scalar', path: '/host/ratio', key: ['host', 'ratio'], schema: { type: 'number' } },
  {
    kind: 'scalar',
    path: '/host/name',
    key: ['host', 'name'],
    schema: { type: 'string', maxLength: 64 },
    resetValue: '',
  },
];
const METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE', 'OPTIONS', 'PROPFIND'] as const;

/**
 * Aborted when the running test ends (passed, failed or timed out): its loops stop at their next
 * request, so no loop outlives its test and writes while the next test checks the disk.
 */
let running = new AbortController();
beforeEach(() => {
  running = new AbortController();
});
afterEach(() => {
  running.abort();
});

const logs: string[] = [];
const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
let h: Harness;
let servers: Server[] = [];
let ports: { express5: number; express4: number };
const stats = { requests: 0, rejected: 0, accepted: 0, byStatus: new Map<number, number>() };

const listen = (app: http.RequestListener): Promise<Server> =>
  new Promise((resolve) => {
    const s = http.createServer(app);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });

beforeAll(async () => {
  h = harness(undefined, { resources: HOST_ROWS, logger: { warn: (m) => logs.push(m) } });
  await h.router.ready();
  const app4 = express4();
  app4.use(MOUNT, h.router);
  servers = [await listen(h.app), await listen(app4)];
  ports = {
    express5: (servers[0]?.address() as AddressInfo).port,
    express4: (servers[1]?.address() as AddressInfo).port,
  };
});

afterAll(async () => {
  agent.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await h.close();
  if (process.env.CPM_REPORT) {
    const statuses = [...stats.byStatus]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}:${n}`)
      .join(' ');
    console.log(
      `hostile: ${stats.requests} requests (${stats.rejected} rejected, ${stats.accepted} accepted) ${statuses}`,
    );
  }
});

/** Every path of the table, plus paths next to them. */
function routePaths(): string[] {
  const paths: string[] = [];
  for (const row of h.router.resources) {
    paths.push(row.path);
    if (row.kind === 'files') paths.push(`${row.path}/download`);
  }
  return paths;
}
const ODD_PATHS = [
  '/',
  '/no-such-route',
  '/debug/',
  '/DEBUG',
  '//debug',
  '/debug%00',
  '/%2e%2e/debug',
  '/debug;x=1',
  '/debug/x/y',
  '/%ZZ',
];

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

function send(
  port: number,
  method: string,
  p: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<Reply> {
  // Always framed: without a length Node would send a GET's body unframed, as a second request.
  if (body !== undefined)
    headers = { ...headers, 'Content-Length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: p, headers, agent, timeout: 20_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${p}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The bytes on disk that a rejected request must not change. */
function diskState(): string {
  const hash = createHash('sha256').update(readFileSync(h.configPath));
  let names: string[];
  try {
    names = readdirSync(h.authDir).sort();
  } catch {
    names = ['<no folder>'];
  }
  for (const n of names) {
    hash.update(`\u0000${n}\u0000`);
    try {
      hash.update(readFileSync(path.join(h.authDir, n)));
    } catch {
      hash.update('<unreadable>');
    }
  }
  return hash.digest('hex');
}

interface Attempt {
  readonly app: 'express5' | 'express4';
  readonly method: string;
  readonly path: string;
  readonly query?: string;
  readonly contentType?: string;
  readonly body?: string | Buffer;
  readonly withKey?: boolean;
}

/** Send one hostile request and check everything the contract promises about the answer. */
async function attempt(a: Attempt): Promise<Reply> {
  if (running.signal.aborted) throw new Error('the test this request belongs to has ended');
  const before = diskState();
  const headers: Record<string, string> = {};
  if (a.withKey !== false) headers.Authorization = `Bearer ${KEY}`;
  if (a.contentType !== undefined) headers['Content-Type'] = a.contentType;
  const url = `${MOUNT}${a.path}${a.query ? `?${a.query}` : ''}`;
  const r = await send(ports[a.app], a.method, url, headers, a.body);
  stats.requests++;
  stats.byStatus.set(r.status, (stats.byStatus.get(r.status) ?? 0) + 1);
  const where = `${a.app} ${a.method} ${url} ${a.contentType ?? ''} ${String(a.body ?? '').slice(0, 80)}`;
  const fail = (what: string): never => {
    throw new Error(
      `${what}: ${r.status} ${JSON.stringify(r.headers)} ${r.text.slice(0, 200)} for ${where}`,
    );
  };
  if (r.status < 200 || r.status >= 500) fail('status');
  if (r.headers['x-content-type-options'] !== 'nosniff') fail('no nosniff header');
  if (r.headers['cache-control'] !== 'no-store') fail('no Cache-Control: no-store');
  const download = r.status === 200 && a.path.endsWith('/download');
  if (a.method !== 'HEAD' && !download) {
    if (!/^application\/json/.test(r.headers['content-type'] ?? '')) fail('not JSON');
    let body: { error?: unknown } = {};
    try {
      body = JSON.parse(r.text) as { error?: unknown };
    } catch {
      fail('body does not parse');
    }
    if (r.status >= 400 && typeof body.error !== 'string') fail('no error field');
  }
  if (r.text.includes(KEY) || r.text.includes(KEY_HASH)) fail('the key in the answer');
  if (r.status >= 400) {
    stats.rejected++;
    if (diskState() !== before)
      throw new Error(`disk changed by a rejected request (${r.status}) ${where}`);
  } else stats.accepted++;
  return r;
}

const deepArray = (d: number): string => '['.repeat(d) + ']'.repeat(d);
const deepObject = (d: number): string => '{"a":'.repeat(d) + '1' + '}'.repeat(d);

/** Bodies no route may answer with a 5xx or take as valid when they are not. */
const HAND_BODIES: readonly [string, string | undefined][] = [
  ['{"value": tru', 'application/json'],
  ['{"value": true', 'application/json'],
  ['{', undefined],
  ['{"a":1,}', 'application/json'],
  ['\u0000', 'application/json'],
  ['\u0000{"value":true}', 'application/json'],
  ['{"value":"a\u0000b"}', 'application/json'],
  ['{"value":"http://a\\u0000b"}', 'application/json'],
  ['{"__proto__":{"polluted":1}}', 'application/json'],
  ['{"value":true,"x":{"constructor":{"prototype":{"polluted":1}}}}', 'application/json'],
  ['[{"__proto__":{"polluted":1}}]', 'application/json'],
  ['{"items":[{"prototype":1}]}', 'application/json'],
  ['{"value":1e400}', 'application/json'],
  ['{"value":-1e400}', 'application/json'],
  ['{"value":9007199254740993}', 'application/json'],
  ['{"value":-1}', 'application/json'],
  ['{"value":1.5}', 'application/json'],
  ['{"value":"true"}', 'application/json'],
  ['{"value":null}', 'application/json'],
  ['{"value":[true]}', 'application/json'],
  ['{"value":{"value":true}}', 'application/json'],
  ['{"index":-1,"value":"x"}', 'application/json'],
  ['{"index":"0","value":"x"}', 'application/json'],
  ['{"index":1e20,"value":"x"}', 'application/json'],
  ['{"index":0.5,"value":"x"}', 'application/json'],
  ['{"old":{},"new":[]}', 'application/json'],
  ['{"items":"x"}', 'application/json'],
  ['{"items":[null,1,""]}', 'application/json'],
  ['["", "  ", null]', 'application/json'],
  ['"just a string"', 'application/json'],
  ['null', 'application/json'],
  ['12345678901234567890', 'application/json'],
  [deepArray(10_000), 'application/json'],
  [deepObject(10_000), 'application/json'],
  [`{"value":true,"x":${deepArray(MAX_JSON_DEPTH)}}`, 'application/json'],
  ['{"value":true}', 'application/json; charset=utf-7'],
  ['{"value":true}', 'application/json; charset=latin1'],
  ['\xff\xfe{\u0000', 'application/json; charset=utf-16'],
  ['value=true', 'application/x-www-form-urlencoded'],
  [
    '--x\r\nContent-Disposition: form-data; name="file"; filename="a.json"\r\n\r\n{}\r\n--x--',
    'multipart/form-data; boundary=x',
  ],
  [
    '--x\r\nContent-Disposition: form-data; name="file"; filename="../../a.json"\r\n\r\n{"a":1}\r\n--x',
    'multipart/form-data; boundary=x',
  ],
  ['garbage', 'multipart/form-data'],
  ['', 'application/json'],
];

const HAND_QUERIES = [
  'index=-1',
  'index=abc',
  'index=1e3',
  'index=0x1',
  'index=99999999999999999999',
  'index=1&index=2',
  'index[]=1',
  'index[0]=1',
  '__proto__[polluted]=1',
  'constructor[prototype][polluted]=1',
  'value=%00',
  'value=a&value=b',
  'name=..%2F..%2Fetc%2Fpasswd',
  'name=%00.json',
  'name=.json',
  'name[]=a.json',
  'api-key[__proto__]=1',
  'all=nope',
  `value=${'x'.repeat(8000)}`,
];

describe('hand-written hostile cases', () => {
  it('every route × every method × malformed, truncated, deep, wrongly typed bodies: only 2xx/4xx JSON, disk untouched when rejected', async () => {
    for (const p of routePaths()) {
      for (const method of METHODS) {
        for (const [body, contentType] of HAND_BODIES) {
          await attempt({
            app: 'express5',
            method,
            path: p,
            body,
            ...(contentType ? { contentType } : {}),
          });
        }
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('every route × every method × hostile queries, on Express 5 and Express 4 hosts', async () => {
    for (const app of ['express5', 'express4'] as const) {
      for (const p of routePaths()) {
        for (const method of METHODS) {
          for (const query of HAND_QUERIES) await attempt({ app, method, path: p, query });
        }
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('odd paths next to the routes answer JSON 4xx (or the route they normalise to)', async () => {
    for (const app of ['express5', 'express4'] as const) {
      for (const p of ODD_PATHS) {
        for (const method of METHODS)
          await attempt({
            app,
            method,
            path: p,
            body: '{"value":true',
            contentType: 'application/json',
          });
      }
    }
  });

  it('a body nested deeper than the limit is a 400 with details, one level less is parsed', async () => {
    const deep = await attempt({
      app: 'express5',
      method: 'PUT',
      path: '/debug',
      body: `{"value":true,"x":${deepArray(MAX_JSON_DEPTH)}}`,
      contentType: 'application/json',
    });
    expect(deep.status).toBe(400);
    expect(JSON.parse(deep.text)).toEqual({
      error: 'invalid body',
      details: `nested deeper than ${MAX_JSON_DEPTH} levels`,
    });
    // Brackets inside strings do not count.
    const ok = await attempt({
      app: 'express5',
      method: 'PUT',
      path: '/host/name',
      body: JSON.stringify({
        value: '[[[[{{{{',
        x: JSON.parse(deepArray(MAX_JSON_DEPTH - 1)) as unknown,
      }),
      contentType: 'application/json',
    });
    expect(ok.status).toBe(200);
  });

  it.each([
    ['/proxy-url', '{"value":"http://a\\u0000b"}', 400],
    ['/proxy-url', '{"value":"http://proxy.example/\\u0007x"}', 400],
    ['/proxy-url', '{"value":"http://proxy.example/\\u007f"}', 400],
    ['/proxy-url', '{"value":"http://proxy.example:8080/a?b=c"}', 200],
    ['/host/ratio', '{"value":1e400}', 400],
    ['/host/ratio', '{"value":-1e400}', 400],
    ['/request-retry', '{"value":9007199254740993}', 400],
    ['/request-retry', '{"value":1e20}', 400],
    ['/request-retry', '{"value":-1}', 400],
  ] as const)(
    'PUT %s %s is %d (control characters, infinities and unsafe integers never reach the file)',
    async (p, body, status) => {
      const r = await attempt({
        app: 'express5',
        method: 'PUT',
        path: p,
        body,
        contentType: 'application/json',
      });
      expect(r.status).toBe(status);
      if (status === 400) expect(JSON.parse(r.text)).toMatchObject({ error: 'invalid body' });
    },
  );

  it('-0 is written as 0, not as YAML -0', async () => {
    const r = await attempt({
      app: 'express5',
      method: 'PUT',
      path: '/request-retry',
      body: '{"value":-0}',
      contentType: 'application/json',
    });
    expect(r.status).toBe(200);
    expect(h.read()).toMatch(/^request-retry: 0\b/m);
  });

  it('oversized bodies on every route and method: 413 JSON (or the route ignores the body), disk untouched', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
    big.write('{"value":"', 0);
    let tooLarge = 0;
    for (const p of routePaths()) {
      for (const method of ['PUT', 'PATCH', 'POST', 'DELETE'] as const) {
        const r = await attempt({
          app: 'express5',
          method,
          path: p,
          body: big,
          contentType: 'application/json',
        });
        if (r.status === 413) {
          tooLarge++;
          expect(JSON.parse(r.text)).toEqual({ error: 'request body too large' });
        }
      }
    }
    expect(tooLarge).toBeGreaterThan(0);
  });

  it('a body cut off on the wire (client half-closes) changes nothing and the server keeps serving', async () => {
    const before = diskState();
    for (const p of routePaths()) {
      const head =
        `PUT ${MOUNT}${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"value": tr';
      const answer = await new Promise<string>((resolve) => {
        const socket = net.connect(ports.express5, '127.0.0.1', () => socket.end(head));
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
        socket.on('close', () => resolve(text));
        socket.on('error', () => resolve(text));
      });
      // Always answered with a 4xx, never a silent hang-up: Node's own bodyless 400 for the
      // incomplete request, after the router's JSON answer when the route needs no body (405).
      expect(answer).toMatch(/^HTTP\/1\.1 4\d\d /);
      expect(answer).toMatch(/HTTP\/1\.1 400 Bad Request\r\nConnection: close\r\n\r\n$/);
      expect(answer).not.toMatch(/text\/html/i);
      const first = answer.slice(0, answer.indexOf('\r\n\r\n'));
      if (/\r\ncontent-length: [1-9]/i.test(first))
        expect(first).toMatch(/\r\ncontent-type: application\/json/i);
    }
    expect(diskState()).toBe(before);
    const alive = await attempt({ app: 'express5', method: 'GET', path: '/debug' });
    expect(alive.status).toBe(200);
  });
});

describe('property-based (fast-check, fixed seed)', () => {
  const queryKey = fc.oneof(
    fc.constantFrom(
      'index',
      'value',
      'name',
      'api-key',
      'all',
      'match',
      '__proto__',
      'constructor',
      '__proto__[polluted]',
      'index[]',
      'a[b][c]',
      'prototype',
    ),
    fc.string({ maxLength: 8 }),
  );
  const queryValue = fc.oneof(
    fc.constantFrom(
      '-1',
      '0',
      '1',
      '1e3',
      '99999999999999999999',
      'NaN',
      'abc',
      'true',
      '*',
      '\u0000',
      '../x.json',
      '.json',
      'a.json',
      '',
    ),
    fc.string({ maxLength: 20 }),
    fc.integer().map(String),
    fc.double().map(String),
  );
  const query = fc
    .array(fc.tuple(queryKey, queryValue), { maxLength: 4 })
    .map((pairs) =>
      pairs
        .map(
          ([k, v]) =>
            `${encodeURIComponent(k).replace(/%5B/g, '[').replace(/%5D/g, ']')}=${encodeURIComponent(v)}`,
        )
        .join('&'),
    );
  const anyJson = fc.jsonValue({ maxDepth: 4 });
  const shaped = fc.oneof(
    fc.record({ value: anyJson }),
    fc.record({ index: anyJson, value: anyJson }),
    fc.record({ old: anyJson, new: anyJson }),
    fc.record({ items: fc.array(anyJson, { maxLength: 5 }) }),
    fc.record({ match: anyJson, value: anyJson }),
    fc.record({ name: anyJson, value: anyJson }),
    fc.array(anyJson, { maxLength: 5 }),
    anyJson,
  );
  const body = fc.oneof(
    fc.constant(undefined),
    shaped.map((v) => JSON.stringify(v)),
    fc
      .tuple(
        shaped.map((v) => JSON.stringify(v)),
        fc.nat(),
      )
      .map(([s, cut]) => s.slice(0, cut % (s.length + 1))),
    fc.string({ maxLength: 60 }),
    fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b)),
    fc
      .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), shaped)
      .map(([k, v]) => `{"value":${JSON.stringify(v)},"nested":{"${k}":{"polluted":1}}}`),
    fc.integer({ min: MAX_JSON_DEPTH - 2, max: 20_000 }).map((d) => `{"value":${deepArray(d)}}`),
  );
  const contentType = fc.constantFrom(
    undefined,
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/json; charset=utf-16',
    'application/json; charset=bogus',
    'multipart/form-data; boundary=x',
  );

  it('random route × method × query × body × content type × host: never 5xx, JSON, disk untouched when rejected', async () => {
    const routes = [...routePaths(), ...ODD_PATHS.slice(0, 3)];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<'express5' | 'express4'>('express5', 'express4'),
        fc.constantFrom(...METHODS),
        fc.constantFrom(...routes),
        query,
        body,
        contentType,
        async (app, method, p, q, b, ct) => {
          await attempt({
            app,
            method,
            path: p,
            query: q,
            ...(b === undefined ? {} : { body: b }),
            ...(ct ? { contentType: ct } : {}),
          });
        },
      ),
      { seed: SEED, numRuns: 1500, endOnFailure: true },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('random key headers never get past access control or into an answer', async () => {
    // Its own router, so the wrong keys do not lock 127.0.0.1 out of the other cases.
    const k = harness(undefined, { maxAttempts: 1_000_000 });
    const server = await listen(k.app);
    const port = (server.address() as AddressInfo).port;
    const before = k.read();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.string({ maxLength: 100 }),
          fc.constantFrom(...routePaths()),
          async (key, p) => {
            if (running.signal.aborted) throw new Error('the test has ended');
            const printable = key.replace(/[^\x20-\x7e]/g, '');
            const r = await send(
              port,
              'PUT',
              `${MOUNT}${p}`,
              { 'X-Management-Key': printable },
              '{"value":true}',
            );
            stats.requests++;
            expect(r.status).toBe(401);
            expect(JSON.parse(r.text)).toEqual({
              error: printable.trim() === '' ? 'missing management key' : 'invalid management key',
            });
            expect(r.headers['content-type']).toMatch(/^application\/json/);
          },
        ),
        { seed: SEED, numRuns: 100 },
      );
      expect(k.read()).toBe(before);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await k.close();
    }
  });
});

describe('after all of it', () => {
  it('Object.prototype is untouched, the server still serves, and no log line holds the key', async () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await attempt({ app: 'express5', method: 'GET', path: '/debug' })).status).toBe(200);
    expect((await attempt({ app: 'express4', method: 'GET', path: '/debug' })).status).toBe(200);
    for (const line of logs) {
      expect(line).not.toContain(KEY);
      expect(line).not.toContain(KEY_HASH);
    }
    expect(logs.filter((l) => l.includes('unexpected error'))).toEqual([]);
  });
});
