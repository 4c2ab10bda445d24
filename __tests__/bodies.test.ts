import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { Scalar } from 'yaml';
import { fileStorage } from '../lib/engines/file';
import { openStores } from '../lib/config/open';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../lib/http/json-body';
import { api, auth, harness, KEY, type Harness } from './helpers';

/** Issue 11, item 2: the nesting limit bypassed with UTF-16, and one bad mutation failing its whole group. */
jest.setTimeout(60_000);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const deepArray = (n: number): string => `${'['.repeat(n)}1${']'.repeat(n)}`;

/** A raw request with exact body bytes and Content-Type (supertest would re-encode a string body). */
function raw(
  app: Harness['app'],
  method: string,
  path: string,
  contentType: string,
  body: Buffer,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const server = http.createServer(app).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const req = http.request(
        {
          port,
          host: '127.0.0.1',
          method,
          path,
          headers: {
            Authorization: `Bearer ${KEY}`,
            'Content-Type': contentType,
            'Content-Length': body.length,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            server.close();
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              body: text ? (JSON.parse(text) as unknown) : undefined,
            });
          });
        },
      );
      req.on('error', (err) => {
        server.close();
        reject(err);
      });
      req.end(body);
    });
  });
}

describe('charsets', () => {
  it.each([
    'utf-16le',
    'UTF-16',
    'utf-16be',
    'utf-32',
    'utf8',
    'latin1',
    'iso-8859-1',
    'x-unknown',
  ])('charset=%s is 415 unsupported charset and the file is untouched', async (charset) => {
    h = harness();
    const before = h.read();
    const body = Buffer.from(
      JSON.stringify({ value: true }),
      charset.toLowerCase().startsWith('utf-16') ? 'utf16le' : 'latin1',
    );
    const res = await raw(
      h.app,
      'PUT',
      api('/debug'),
      `application/json; charset=${charset}`,
      body,
    );
    expect(res).toEqual({ status: 415, body: { error: 'unsupported charset' } });
    expect(h.read()).toBe(before);
  });

  it.each([
    'application/json; charset=utf-8',
    'application/json; charset="UTF-8"',
    'application/json;charset=UTF-8',
    'application/json',
    'text/plain',
  ])('%s is read as JSON', async (type) => {
    h = harness();
    const res = await raw(h.app, 'PUT', api('/debug'), type, Buffer.from('{"value":true}'));
    expect(res).toEqual({ status: 200, body: { status: 'ok' } });
    expect(h.read()).toContain('debug: true');
  });

  it('the UTF-16 reproduction: 100 levels in UTF-16LE never reach the file', async () => {
    h = harness();
    const before = h.read();
    const body = Buffer.from(`{"value":true,"x":${deepArray(100)}}`, 'utf16le');
    const res = await raw(h.app, 'PUT', api('/debug'), 'application/json; charset=utf-16le', body);
    expect(res.status).toBe(415);
    expect(h.read()).toBe(before);
  });
});

describe('the depth limit applies to the parsed value', () => {
  it.each([
    [{ a: 1 }, 1],
    [[[[1]]], 3],
    [JSON.parse(deepArray(MAX_JSON_DEPTH)) as unknown, MAX_JSON_DEPTH],
    [{ a: [{ b: [] }] }, 4],
  ])('nestedDeeperThan(%j)', (value, depth) => {
    expect(nestedDeeperThan(value, depth)).toBe(false);
    expect(nestedDeeperThan(value, depth - 1)).toBe(true);
  });

  it('a 1 MiB-deep value is checked without recursion', () => {
    let v: unknown = 1;
    for (let i = 0; i < 200_000; i++) v = [v];
    expect(nestedDeeperThan(v, MAX_JSON_DEPTH)).toBe(true);
  });
});

describe('a mutation whose result fails verification fails alone', () => {
  /** A string forced to an `!!int` tag: the mutation succeeds, the rendered text re-parses to a number, not to it. */
  const mistagged = (): Scalar => {
    const s = new Scalar('12');
    s.tag = 'tag:yaml.org,2002:int';
    return s;
  };

  it('in one group commit of the file engine: the bad mutation fails, its 9 neighbours are written', async () => {
    h = harness();
    const store = openStores(
      fileStorage(),
      {
        configPath: h.configPath,
        authDir: h.authDir,
        watch: false,
        logger: { warn: () => undefined },
      },
      4,
    ).config;
    try {
      // The first mutation commits alone; the next ten arrive while it is in flight: one group.
      const first = store.mutate((doc) => doc.set('first', 1));
      const group = Array.from({ length: 10 }, (_, i) =>
        store.mutate((doc) => {
          if (i === 4) doc.set('deep', mistagged());
          else doc.set(`k${i}`, i);
        }),
      );
      const results = await Promise.allSettled([first, ...group]);
      const statuses = results.map((r) => r.status);
      expect(statuses).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'rejected',
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);
      expect(String((results[5] as PromiseRejectedResult).reason)).toMatch(/SAVE_FAILED/);
      const text = h.read();
      for (const i of [0, 1, 2, 3, 5, 6, 7, 8, 9]) expect(text).toContain(`k${i}: ${i}`);
      expect(text).not.toContain('deep');
    } finally {
      await store.close();
    }
  });

  it('over HTTP: a UTF-16 bomb among 10 PATCHes leaves the PATCHes their 200s', async () => {
    h = harness();
    const bomb = Buffer.from(`{"value":true,"x":${deepArray(1000)}}`, 'utf16le');
    const [bad, ...good] = await Promise.all([
      raw(h.app, 'PATCH', api('/debug'), 'application/json; charset=utf-16le', bomb),
      ...Array.from({ length: 10 }, (_, i) =>
        request(h!.app)
          .patch(api('/api-keys'))
          .set(auth)
          .send({ old: `none-${i}`, new: `key-${i}` }),
      ),
    ]);
    expect(bad).toEqual({ status: 415, body: { error: 'unsupported charset' } });
    expect(good.map((r) => r.status)).toEqual(Array(10).fill(200));
    const keys = (await request(h.app).get(api('/api-keys')).set(auth)).body as {
      'api-keys': string[];
    };
    for (let i = 0; i < 10; i++) expect(keys['api-keys']).toContain(`key-${i}`);
  });
});
