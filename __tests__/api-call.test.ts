// POST /api-call against a local upstream on 127.0.0.1 that records what it received: the
// checks, `$TOKEN$` only in header values, no caller Authorization forwarded, no environment
// proxy, no redirect followed, the limits.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { ApiCallCredential, ManagementOptions, OutboundRequest } from '../lib';
import { api, auth, fixtureWith, harness, type Harness } from './helpers';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let upstream: Server;
let proxyTrap: Server;
let base: string;
let seen: Seen[];
let trapped: number;
let h: Harness;
let warnings: string[];

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/redirect') {
        res.writeHead(302, { Location: `${base}/landing`, 'x-one': 'a' });
        return res.end();
      }
      if (req.url === '/big') return res.end('x'.repeat(2048));
      if (req.url === '/slow') return; // never answers
      if (req.url === '/latin') return res.end(Buffer.from([0x61, 0xff, 0x62]));
      res.writeHead(429, [
        ['Content-Type', 'application/json'],
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
      ]);
      res.end('{"error":"slow down"}');
    });
  });
  proxyTrap = createServer((req, res) => {
    trapped++;
    res.end('proxied');
  });
  base = await listen(upstream);
  const trap = await listen(proxyTrap);
  // A proxy in the environment must never be used.
  process.env.HTTP_PROXY = trap;
  process.env.http_proxy = trap;
  process.env.HTTPS_PROXY = trap;
});

afterAll(async () => {
  delete process.env.HTTP_PROXY;
  delete process.env.http_proxy;
  delete process.env.HTTPS_PROXY;
  upstream.closeAllConnections();
  proxyTrap.closeAllConnections();
  await Promise.all([
    new Promise((r) => upstream.close(r)),
    new Promise((r) => proxyTrap.close(r)),
  ]);
});

beforeEach(() => {
  seen = [];
  trapped = 0;
});
afterEach(async () => {
  await h?.close();
});

const CREDS: Record<string, ApiCallCredential> = {
  'idx-1': { token: 'tok-secret' },
  'no-token': {},
  proxied: { token: 't', proxyUrl: 'http://127.0.0.1:9' },
  direct: { token: 't', proxyUrl: 'direct' },
};

function make(options: ManagementOptions = {}, config = fixtureWith()): void {
  warnings = [];
  h = harness(config, {
    logger: { warn: (m) => warnings.push(m) },
    runtime: { apiCallCredential: (i) => CREDS[i] },
    ...options,
  });
}

const call = (body: unknown) =>
  request(h.app)
    .post(api('/api-call'))
    .set(auth)
    .send(body as object);

describe('POST /api-call', () => {
  it('sends only the body header, $TOKEN$ replaced in values; answers status, headers and body whatever the status', async () => {
    make();
    const res = await call({
      authIndex: 'idx-1',
      method: ' post ',
      url: `${base}/v1/x?q=$TOKEN$`,
      header: { Authorization: 'Bearer $TOKEN$', 'X-Both': '$TOKEN$-$TOKEN$', $TOKEN$: 'n' },
      data: '{"k":"$TOKEN$"}',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status_code: 429, body: '{"error":"slow down"}' });
    expect(res.body.header['content-type']).toEqual(['application/json']);
    expect(res.body.header['set-cookie']).toEqual(['a=1', 'b=2']);
    const [got] = seen;
    expect(got?.method).toBe('POST');
    expect(got?.url).toBe('/v1/x?q=$TOKEN$');
    expect(got?.headers.authorization).toBe('Bearer tok-secret');
    expect(got?.headers['x-both']).toBe('tok-secret-tok-secret');
    expect(got?.headers['$token$']).toBe('n');
    expect(got?.body).toBe('{"k":"$TOKEN$"}');
    expect(got?.headers['x-management-key']).toBeUndefined();
    expect(trapped).toBe(0);
  });

  it("the caller's own Authorization (its management key) never leaves", async () => {
    make();
    await call({ method: 'GET', url: `${base}/plain` }).expect(200);
    expect(seen[0]?.headers.authorization).toBeUndefined();
    expect(JSON.stringify(seen[0]?.headers)).not.toContain('test-management-key');
  });

  it('a redirect is the answer, never followed', async () => {
    make();
    const res = await call({ method: 'GET', url: `${base}/redirect` });
    expect(res.body.status_code).toBe(302);
    expect(res.body.header.location).toEqual([`${base}/landing`]);
    expect(seen.map((s) => s.url)).toEqual(['/redirect']);
  });

  it('bad bytes decode as U+FFFD', async () => {
    make();
    expect((await call({ method: 'GET', url: `${base}/latin` })).body.body).toBe('a\uFFFDb');
  });

  it.each([
    [[1], { error: 'invalid body' }],
    [{ method: 5, url: 'http://a' }, { error: 'invalid body' }],
    [{ url: 'http://a' }, { error: 'missing method' }],
    [{ method: 'TRACE', url: 'http://a' }, { error: 'invalid method' }],
    [{ method: 'GET' }, { error: 'missing url' }],
    [{ method: 'GET', url: 'ftp://a/' }, { error: 'invalid url' }],
    [{ method: 'GET', url: '/relative' }, { error: 'invalid url' }],
    [{ method: 'GET', url: `http://a/${'x'.repeat(8192)}` }, { error: 'invalid url' }],
    [{ method: 'GET', url: 'http://a/', proxy_url: 'ftp://p' }, { error: 'invalid proxy_url' }],
    [
      { method: 'GET', url: 'http://a/', header: { Host: 'evil' } },
      { error: 'invalid header', details: 'Host' },
    ],
    [
      { method: 'GET', url: 'http://a/', header: { 'Proxy-Authorization': 'x' } },
      { error: 'invalid header', details: 'Proxy-Authorization' },
    ],
    [
      { method: 'GET', url: 'http://a/', header: { 'Transfer-Encoding': 'x' } },
      { error: 'invalid header', details: 'Transfer-Encoding' },
    ],
    [
      { method: 'GET', url: 'http://a/', header: { 'bad name': 'x' } },
      { error: 'invalid header', details: 'bad name' },
    ],
    [
      { method: 'GET', url: 'http://a/', header: { X: 'a\r\nInjected: 1' } },
      { error: 'invalid header', details: 'X' },
    ],
    [
      { method: 'GET', url: 'http://a/', header: { X: 'a'.repeat(33 * 1024) } },
      { error: 'invalid header', details: 'X' },
    ],
    [
      {
        method: 'GET',
        url: 'http://a/',
        header: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`h${i}`, 'v'])),
      },
      { error: 'invalid header', details: 'more than 64 headers' },
    ],
    [{ method: 'GET', url: 'http://a/', data: 'x' }, { error: 'invalid body' }],
    [
      { method: 'GET', url: 'http://a/', header: { Authorization: 'Bearer $TOKEN$' } },
      { error: 'auth token not found' },
    ],
    [
      {
        auth_index: 'unknown',
        method: 'GET',
        url: 'http://a/',
        header: { Authorization: 'Bearer $TOKEN$' },
      },
      { error: 'auth token not found' },
    ],
    [
      {
        auth_index: 'no-token',
        method: 'GET',
        url: 'http://a/',
        header: { Authorization: 'Bearer $TOKEN$' },
      },
      { error: 'auth token not found' },
    ],
  ])('%j is 400 %j and sends nothing', async (body, answer) => {
    make();
    const res = await call(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual(answer);
    expect(seen).toEqual([]);
  });

  it('the first non-blank of auth_index, authIndex, AuthIndex is used', async () => {
    const asked: string[] = [];
    make({ runtime: { apiCallCredential: (i) => (asked.push(i), CREDS[i]) } });
    await call({
      auth_index: ' ',
      authIndex: 'idx-1',
      AuthIndex: 'other',
      method: 'GET',
      url: `${base}/a`,
    }).expect(200);
    expect(asked).toEqual(['idx-1']);
  });

  it('an effective proxy without apiCallFetch is 502 no transport for proxy; direct/none overrides', async () => {
    make({}, fixtureWith().replace(/^proxy-url:.*$/m, 'proxy-url: http://127.0.0.1:9'));
    const res = await call({ method: 'GET', url: `${base}/a` });
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: 'request failed', message: 'no transport for proxy' });
    expect(JSON.stringify(res.body)).not.toContain('127.0.0.1:9');
    await call({ method: 'GET', url: `${base}/a`, proxy_url: 'direct' }).expect(200);
    expect(
      (await call({ auth_index: 'proxied', method: 'GET', url: `${base}/a`, proxy_url: 'none' }))
        .status,
    ).toBe(200);
    // A credential saying direct wins over the config's proxy.
    expect((await call({ auth_index: 'direct', method: 'GET', url: `${base}/a` })).status).toBe(
      200,
    );
    expect(seen).toHaveLength(3);
  });

  it('proxy precedence: body, then credential, then config; apiCallFetch gets the request', async () => {
    const sent: OutboundRequest[] = [];
    make(
      {
        runtime: {
          apiCallCredential: (i) => CREDS[i],
          apiCallFetch: async (r) => (sent.push(r), new Response('ok', { status: 201 })),
        },
      },
      fixtureWith().replace(/^proxy-url:.*$/m, 'proxy-url: socks5://127.0.0.1:7'),
    );
    await call({
      auth_index: 'proxied',
      method: 'GET',
      url: `${base}/a`,
      proxy_url: 'http://127.0.0.1:8',
    }).expect(200);
    await call({ auth_index: 'proxied', method: 'GET', url: `${base}/a` }).expect(200);
    await call({ method: 'GET', url: `${base}/a` }).expect(200);
    expect(sent.map((r) => r.proxyUrl)).toEqual([
      'http://127.0.0.1:8',
      'http://127.0.0.1:9',
      'socks5://127.0.0.1:7',
    ]);
    expect(sent[0]?.redirect).toBe('manual');
    expect(sent[0]?.headers.get('authorization')).toBeNull();
  });

  it('connection refused is 502 request failed, logged without the URL', async () => {
    make();
    const res = await call({ method: 'GET', url: 'http://127.0.0.1:1/?secret=q' });
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: 'request failed' });
    expect(warnings.join('\n')).not.toContain('secret');
  });

  it('apiCallTimeoutMs passing is 504 request timed out', async () => {
    make({ apiCallTimeoutMs: 200 });
    const res = await call({ method: 'GET', url: `${base}/slow` });
    expect(res.status).toBe(504);
    expect(res.body).toEqual({ error: 'request timed out' });
  });

  it('a body over apiCallMaxBytes is 502 response too large', async () => {
    make({ apiCallMaxBytes: 1024 });
    const res = await call({ method: 'GET', url: `${base}/big` });
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: 'response too large' });
    expect((await call({ method: 'GET', url: `${base}/latin` })).status).toBe(200);
  });

  it('no error answer or log line holds the token, a header value or the query', async () => {
    make({
      runtime: {
        apiCallCredential: (i) => CREDS[i],
        apiCallFetch: async () => {
          throw new Error('tok-secret at http://x/?q=hidden');
        },
      },
    });
    const res = await call({
      auth_index: 'idx-1',
      method: 'GET',
      url: `${base}/a?q=hidden`,
      header: { 'X-V': 'value-hidden $TOKEN$' },
    });
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: 'request failed' });
    expect(warnings).toEqual(['cli-proxy-management: api-call request failed (Error)']);
  });
});
