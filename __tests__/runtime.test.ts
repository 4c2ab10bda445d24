// The host runtime's hooks and routes (the `runtime` and `routes` options): every rule of a
// hook (absent, throws, HookError, shapes, timeout, signal), each route's checks and answers.
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import request from 'supertest';
import {
  HookError,
  ManagementError,
  type HookContext,
  type ManagementOptions,
  type ManagementRuntime,
} from '../lib';
import { api, auth, eventually, fixtureWith, harness, KEY, type Harness } from './helpers';

const LOGGING_ON = `${fixtureWith()}\nlogging-to-file: true\n`;

let h: Harness;
let warnings: string[];
afterEach(async () => {
  await h?.close();
});

function make(
  runtime: ManagementRuntime,
  options: ManagementOptions = {},
  config = LOGGING_ON,
): Harness {
  warnings = [];
  h = harness(config, { runtime, logger: { warn: (m) => warnings.push(m) }, ...options });
  return h;
}

const get = (p: string) => request(h.app).get(api(p)).set(auth);
const snapshotDir = (): string[] =>
  readdirSync(h.authDir, { withFileTypes: true })
    .map((d) => d.name)
    .sort();

describe('absent hook, absent route', () => {
  it.each([
    '/api-key-usage',
    '/logs',
    '/request-error-logs',
    '/request-error-logs/error-a.log',
    '/request-log-by-id/ab12',
    '/auth-files/models?name=a.json',
    '/model-definitions/claude',
    '/latest-version',
  ])('GET %s is the router 404 without its hook', async (p) => {
    make({ latestVersion: p === '/latest-version' ? undefined : () => 'v1' });
    const res = await get(p);
    if (p === '/latest-version') expect(res.status).toBe(404);
    else expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not found' });
  });

  it('POST /api-call is 404 without apiCallCredential (apiCallFetch alone is warned about)', async () => {
    make({ apiCallFetch: async () => new Response('x') });
    const res = await request(h.app)
      .post(api('/api-call'))
      .set(auth)
      .send({ method: 'GET', url: 'http://127.0.0.1:1/' });
    expect(res.status).toBe(404);
    expect(warnings.some((w) => w.includes('apiCallFetch is unused'))).toBe(true);
  });

  it('with readLogs only, DELETE /logs is 405 with Allow', async () => {
    make({ readLogs: () => ({ lines: [], latestTimestamp: 0 }) });
    const res = await request(h.app).delete(api('/logs')).set(auth);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(res.body).toEqual({ error: 'method not allowed' });
  });

  it('with clearLogs only, GET /logs is 405 with Allow', async () => {
    make({ clearLogs: () => ({ removed: 0 }) });
    const res = await get('/logs');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('DELETE');
  });

  it('a member that is not a function is ERR_INVALID_OPTION; an unknown one is warned about; hooks are not called at construction', () => {
    let calls = 0;
    const err = (() => {
      try {
        make({ latestVersion: 'v1' as unknown as () => string });
      } catch (e) {
        return e as ManagementError;
      }
      throw new Error('no throw');
    })();
    expect(err).toBeInstanceOf(ManagementError);
    expect(err.message).toBe('ERR_INVALID_OPTION: runtime.latestVersion must be a function');
    make({ latestVerison: () => 'v1', apiKeyUsage: () => (calls++, {}) } as ManagementRuntime);
    expect(warnings).toContain(
      'cli-proxy-management: unknown runtime hook "latestVerison" is ignored',
    );
    expect(calls).toBe(0);
  });

  it.each([
    [{ hookTimeoutMs: 99 }, 'hookTimeoutMs must be an integer >= 100'],
    [{ apiCallTimeoutMs: 1.5 }, 'apiCallTimeoutMs must be an integer >= 100'],
    [{ apiCallMaxBytes: 0 }, 'apiCallMaxBytes must be an integer >= 1'],
  ])('%j is refused', (opts, message) => {
    expect(() => make({}, opts as ManagementOptions)).toThrow(`ERR_INVALID_OPTION: ${message}`);
  });
});

describe('a hook failing', () => {
  it('a throw is 500 runtime error; its text is neither sent nor logged', async () => {
    make({
      apiKeyUsage: () => {
        throw new TypeError('secret sk-live-123');
      },
    });
    const res = await get('/api-key-usage');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'runtime error' });
    expect(warnings).toEqual(['cli-proxy-management: runtime hook apiKeyUsage failed (TypeError)']);
    expect(JSON.stringify(warnings) + res.text).not.toContain('sk-live');
  });

  it.each([
    [new HookError(503, 'log store offline'), 503, { error: 'log store offline' }],
    [new HookError(404, 'nothing here'), 404, { error: 'nothing here' }],
    [new HookError(401, 'x'), 500, { error: 'runtime error' }],
    [new HookError(407, 'x'), 500, { error: 'runtime error' }],
    [new HookError(429, 'x'), 500, { error: 'runtime error' }],
    [new HookError(302, 'x'), 500, { error: 'runtime error' }],
    [new HookError(600, 'x'), 500, { error: 'runtime error' }],
    [new HookError(400, 'é'), 500, { error: 'runtime error' }],
    [new HookError(400, 'a'.repeat(201)), 500, { error: 'runtime error' }],
    [new HookError(400, ''), 500, { error: 'runtime error' }],
  ])('%s answers as documented', async (thrown, status, body) => {
    make({
      latestVersion: async () => {
        throw thrown;
      },
    });
    const res = await get('/latest-version');
    expect(res.status).toBe(status);
    expect(res.body).toEqual(body);
  });

  it('a value of the wrong shape is 500 and a warning naming the hook and the JSON path', async () => {
    make({
      apiKeyUsage: () => ({
        claude: { 'https://a|k': { success: -1, failed: 0, recent_requests: [] } },
      }),
    });
    const res = await get('/api-key-usage');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'runtime error' });
    expect(warnings).toEqual([
      'cli-proxy-management: runtime hook apiKeyUsage returned a bad value at $.claude["https://a|k"].success',
    ]);
  });

  it('a timeout aborts the signal, answers 504, and the late value is dropped', async () => {
    let signal: AbortSignal | undefined;
    let late = false;
    make(
      {
        apiKeyUsage: (ctx: HookContext) => {
          signal = ctx.signal;
          return new Promise((resolve) =>
            ctx.signal.addEventListener('abort', () =>
              setTimeout(() => ((late = true), resolve({})), 20),
            ),
          );
        },
      },
      { hookTimeoutMs: 100 },
    );
    const res = await get('/api-key-usage');
    expect(res.status).toBe(504);
    expect(res.body).toEqual({ error: 'runtime timeout' });
    expect(signal?.aborted).toBe(true);
    await eventually(() => late);
  });

  it('the client leaving aborts the signal', async () => {
    let aborted = false;
    let started = false;
    make({
      apiKeyUsage: (ctx) =>
        new Promise(() => {
          started = true;
          ctx.signal.addEventListener('abort', () => (aborted = true));
        }),
    });
    const server = h.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as { port: number };
    const controller = new AbortController();
    const pending = fetch(`http://127.0.0.1:${port}${api('/api-key-usage')}`, {
      headers: auth,
      signal: controller.signal,
    }).catch(() => undefined);
    await eventually(() => started);
    controller.abort();
    await pending;
    await eventually(() => aborted);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('the context holds the config the request was admitted on', async () => {
    let seen: unknown;
    make({ latestVersion: (ctx) => ((seen = ctx.config['logging-to-file']), 'v2') });
    await get('/latest-version').expect(200);
    expect(seen).toBe(true);
  });
});

describe('access control applies to every runtime route', () => {
  it('no key 401, wrong key 401 then lock-out 429, remote 403, no secret invisible', async () => {
    make({ apiKeyUsage: () => ({}) }, { maxAttempts: 2 });
    expect((await request(h.app).get(api('/api-key-usage'))).body).toEqual({
      error: 'missing management key',
    });
    for (let i = 0; i < 2; i++)
      expect(
        (await request(h.app).get(api('/api-key-usage')).set('Authorization', 'Bearer nope'))
          .status,
      ).toBe(401);
    const locked = await request(h.app).get(api('/api-key-usage')).set(auth);
    expect(locked.status).toBe(429);
    expect(locked.headers['cache-control']).toBe('no-store');
  });
});

describe('GET /api-key-usage', () => {
  it('answers provider → key → entry, only the known members, the newest 20 buckets', async () => {
    const buckets = Array.from({ length: 25 }, (_, i) => ({
      time: `b${i}`,
      success: i,
      failed: 0,
      extra: 1,
    }));
    make({
      apiKeyUsage: () => ({
        claude: {
          'https://api.example|sk-1': {
            success: 12,
            failed: 1,
            recent_requests: buckets,
            secret: 'x',
          } as never,
        },
      }),
    });
    const res = await get('/api-key-usage').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const entry = res.body.claude['https://api.example|sk-1'];
    expect(Object.keys(entry)).toEqual(['success', 'failed', 'recent_requests']);
    expect(entry.recent_requests).toHaveLength(20);
    expect(entry.recent_requests[0]).toEqual({ time: 'b5', success: 5, failed: 0 });
  });
});

describe('GET /auth-files with authFileState', () => {
  const files = {
    'a.json': { type: 'codex', email: 'a@x' },
    'b.json': { type: 'claude', disabled: true },
    'c.json': { type: 'gemini' },
  };
  const write = (): void => {
    mkdirSync(h.authDir, { recursive: true });
    for (const [n, j] of Object.entries(files))
      writeFileSync(path.join(h.authDir, n), JSON.stringify(j));
  };

  it('merges the state; a disabled file stays disabled; undefined, a throw and a bad shape leave their entry (one warning)', async () => {
    make({
      authFileState: (name) => {
        if (name === 'a.json')
          return {
            auth_index: 'idx-a',
            success: 3,
            failed: 1,
            recent_requests: [{ time: '10:00-10:10', success: 3, failed: 1 }],
            status: 'error',
            status_message: 'quota',
            unavailable: true,
            next_retry_after: new Date(Date.UTC(2026, 0, 1)),
          };
        if (name === 'b.json')
          return { auth_index: 'idx-b', status: 'active', status_message: 'fine' };
        throw new Error('boom');
      },
    });
    write();
    const res = await get('/auth-files').expect(200);
    const [a, b, c] = res.body.files;
    expect(a).toMatchObject({
      name: 'a.json',
      auth_index: 'idx-a',
      success: 3,
      failed: 1,
      status: 'error',
      status_message: 'quota',
      unavailable: true,
      next_retry_after: '2026-01-01T00:00:00.000Z',
      source: 'file',
    });
    expect(a.path).toBeUndefined();
    expect(b).toMatchObject({
      name: 'b.json',
      auth_index: 'idx-b',
      status: 'disabled',
      status_message: '',
      disabled: true,
    });
    expect(c).toMatchObject({ name: 'c.json', status: 'active' });
    expect(c.auth_index).toBeUndefined();
    expect(warnings).toEqual([
      'cli-proxy-management: runtime hook authFileState failed (Error) (1 of 3 files listed without it)',
    ]);
  });

  it.each([
    [{ auth_index: '' }, '$.auth_index'],
    [{ auth_index: 'x'.repeat(129) }, '$.auth_index'],
    [{ auth_index: 'i', success: 1.5 }, '$.success'],
    [{ auth_index: 'i', next_retry_after: 'soon' }, '$.next_retry_after'],
  ])('a bad value %j leaves the entry as the file describes it', async (value, where) => {
    make({ authFileState: () => value as never });
    write();
    const res = await get('/auth-files').expect(200);
    expect(res.body.files.every((f: { auth_index?: string }) => f.auth_index === undefined)).toBe(
      true,
    );
    expect(warnings).toEqual([
      `cli-proxy-management: runtime hook authFileState returned a bad value at ${where} (3 of 3 files listed without it)`,
    ]);
  });

  it('one time limit for the listing: the list answers 200 when the hook hangs', async () => {
    make(
      {
        authFileState: (name) =>
          name === 'a.json' ? { auth_index: 'ia' } : new Promise(() => undefined),
      },
      { hookTimeoutMs: 100 },
    );
    write();
    const res = await get('/auth-files').expect(200);
    expect(res.body.files.map((f: { auth_index?: string }) => f.auth_index ?? null)).toEqual([
      'ia',
      null,
      null,
    ]);
    expect(warnings).toEqual([
      'cli-proxy-management: runtime hook authFileState timed out (2 of 3 files listed without it)',
    ]);
  });

  it('runs 64 calls at a time at most', async () => {
    make({});
    await h.close();
    let running = 0;
    let most = 0;
    make({
      authFileState: async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setImmediate(r));
        running--;
        return { auth_index: 'i' };
      },
    });
    mkdirSync(h.authDir, { recursive: true });
    for (let i = 0; i < 150; i++) writeFileSync(path.join(h.authDir, `f${i}.json`), '{}');
    const res = await get('/auth-files').expect(200);
    expect(res.body.files).toHaveLength(150);
    expect(most).toBe(64);
  });
});

describe('GET /logs and DELETE /logs', () => {
  it('passes the checked query and answers the page in the wire names', async () => {
    const queries: unknown[] = [];
    make({
      readLogs: (q) => (
        queries.push(q),
        {
          lines: ['a', 'b', 'c'],
          latestTimestamp: new Date(1767225600_000),
          nextCursor: 'c1',
          lineCount: 9,
        }
      ),
    });
    expect((await get('/logs?limit=2&after=100&cursor=abc.DEF_-=')).body).toEqual({
      lines: ['b', 'c'],
      'line-count': 9,
      'latest-timestamp': 1767225600,
      'next-cursor': 'c1',
    });
    expect(queries[0]).toEqual({ limit: 2, after: 100, cursor: 'abc.DEF_-=' });
    await get('/logs').expect(200);
    expect(queries[1]).toEqual({ limit: 10000 });
    await get('/logs?limit=20000&after=-5').expect(200);
    expect(queries[2]).toEqual({ limit: 10000 });
  });

  it('a bad cursor is not passed and the answer has cursor-reset', async () => {
    const queries: unknown[] = [];
    make({ readLogs: (q) => (queries.push(q), { lines: [], latestTimestamp: 0 }) });
    const res = await get('/logs?cursor=a%2Fb');
    expect(res.body).toEqual({
      lines: [],
      'line-count': 0,
      'latest-timestamp': 0,
      'next-cursor': '',
      'cursor-reset': true,
    });
    expect(queries[0]).toEqual({ limit: 10000 });
    expect((await get(`/logs?cursor=${'a'.repeat(1025)}`)).body['cursor-reset']).toBe(true);
  });

  it.each(['0', '-1', 'abc', '1.5', ''])('limit=%s is 400', async (limit) => {
    let calls = 0;
    make({ readLogs: () => (calls++, { lines: [], latestTimestamp: 0 }) });
    const res = await get(`/logs?limit=${limit}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid limit: must be a positive integer' });
    expect(calls).toBe(0);
  });

  it('logging-to-file off: 400 without calling the hook, both methods', async () => {
    let calls = 0;
    make(
      {
        readLogs: () => (calls++, { lines: [], latestTimestamp: 0 }),
        clearLogs: () => (calls++, { removed: 0 }),
      },
      {},
      `${fixtureWith()}\nlogging-to-file: false\n`,
    );
    for (const res of [await get('/logs'), await request(h.app).delete(api('/logs')).set(auth)]) {
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'logging to file disabled' });
    }
    expect(calls).toBe(0);
  });

  it('DELETE answers the removed count', async () => {
    make({ clearLogs: () => ({ removed: 3 }) });
    expect((await request(h.app).delete(api('/logs')).set(auth)).body).toEqual({
      success: true,
      message: 'Logs cleared successfully',
      removed: 3,
    });
  });
});

describe('error logs and downloads', () => {
  it('the list is filtered and sorted newest first', async () => {
    make({
      listErrorLogs: () => [
        { name: 'error-a.log', size: 1, modified: 10 },
        { name: 'main.log', size: 1, modified: 30 },
        { name: 'error-b.log', size: 2, modified: new Date(20_000) },
        { name: 'error-../x.log', size: 1, modified: 5 },
      ],
    });
    expect((await get('/request-error-logs')).body).toEqual({
      files: [
        { name: 'error-b.log', size: 2, modified: 20 },
        { name: 'error-a.log', size: 1, modified: 10 },
      ],
    });
  });

  it.each([
    ['/request-error-logs/a%2Fb', 400, { error: 'invalid log file name' }],
    ['/request-error-logs/a%5Cb', 400, { error: 'invalid log file name' }],
    ['/request-error-logs/%20', 400, { error: 'invalid log file name' }],
    ['/request-error-logs/main.log', 404, { error: 'log file not found' }],
    ['/request-error-logs/error-%C3%A9.log', 404, { error: 'log file not found' }],
    [`/request-error-logs/error-${'a'.repeat(250)}.log`, 404, { error: 'log file not found' }],
    ['/request-error-logs/error-missing.log', 404, { error: 'log file not found' }],
    ['/request-log-by-id/a%20b', 400, { error: 'invalid request ID' }],
    [`/request-log-by-id/${'a'.repeat(129)}`, 400, { error: 'invalid request ID' }],
    ['/request-log-by-id/nope', 404, { error: 'log file not found for the given request ID' }],
  ])('GET %s is %d', async (p, status, body) => {
    const asked: string[] = [];
    make({
      openErrorLog: (n) => (asked.push(n), undefined),
      openRequestLog: (id) => (asked.push(id), undefined),
    });
    const res = await get(p);
    expect(res.status).toBe(status);
    expect(res.body).toEqual(body);
    expect(asked).toEqual(
      status === 404 && (p.endsWith('missing.log') || p.endsWith('nope'))
        ? [p.split('/').pop()]
        : [],
    );
  });

  it('a path download streams the file with its headers; a symlink or a folder is 404', async () => {
    make({ openErrorLog: (n) => ({ path: path.join(h.dir, n) }) });
    writeFileSync(path.join(h.dir, 'error-x.log'), 'line 1\nline 2\n');
    symlinkSync(path.join(h.dir, 'error-x.log'), path.join(h.dir, 'error-link.log'));
    mkdirSync(path.join(h.dir, 'error-dir.log'));
    const res = await get('/request-error-logs/error-x.log')
      .buffer(true)
      .parse((r, cb) => {
        let s = '';
        r.on('data', (c: Buffer) => (s += c.toString()));
        r.on('end', () => cb(null, s));
      });
    expect(res.status).toBe(200);
    expect(res.body).toBe('line 1\nline 2\n');
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="error-x.log"');
    expect(res.headers['content-length']).toBe('14');
    for (const n of ['error-link.log', 'error-dir.log'])
      expect((await get(`/request-error-logs/${n}`)).body).toEqual({ error: 'log file not found' });
  });

  it('a body download: string, bytes, async iterable; default name by id; a non-ASCII name also as filename*', async () => {
    const bodies: Record<string, unknown> = {
      s: { body: 'text body' },
      u: { body: new Uint8Array([104, 105]), name: 'café.log' },
      i: {
        body: (async function* () {
          yield 'a';
          yield Buffer.from('b');
        })(),
      },
    };
    make({ openRequestLog: (id) => bodies[id] as never });
    const s = await get('/request-log-by-id/s');
    expect(s.text).toBe('text body');
    expect(s.headers['content-disposition']).toBe('attachment; filename="request-s.log"');
    expect(s.headers['content-length']).toBe('9');
    const u = await get('/request-log-by-id/u');
    expect(u.headers['content-disposition']).toBe(
      `attachment; filename="caf?.log"; filename*=UTF-8''caf%C3%A9.log`,
    );
    const i = await get('/request-log-by-id/i');
    expect(i.text).toBe('ab');
    expect(i.headers['content-length']).toBeUndefined();
  });

  it('a source failing before the first byte is 500; after it, the connection ends', async () => {
    make({
      openRequestLog: (id) => ({
        body: Readable.from(
          (async function* () {
            if (id === 'late') yield 'first';
            throw new Error('disk gone');
          })(),
        ),
      }),
    });
    const early = await get('/request-log-by-id/early');
    expect(early.status).toBe(500);
    expect(early.body).toEqual({ error: 'runtime error' });
    await expect(get('/request-log-by-id/late')).rejects.toThrow();
  });

  it('a download value of the wrong shape is 500', async () => {
    make({ openErrorLog: () => ({ name: 'x' }) as never });
    const res = await get('/request-error-logs/error-a.log');
    expect(res.status).toBe(500);
    expect(warnings).toEqual([
      'cli-proxy-management: runtime hook openErrorLog returned a bad value at $',
    ]);
  });
});

describe('models and version', () => {
  it('GET /auth-files/models: name rules, only the four members, undefined is []', async () => {
    make({
      authFileModels: (n) =>
        (n === 'a.json'
          ? [{ id: 'm', display_name: 'M', type: 'claude', owned_by: '', extra: 1 }]
          : undefined) as never,
    });
    expect((await get('/auth-files/models?name=a.json')).body).toEqual({
      models: [{ id: 'm', display_name: 'M', type: 'claude' }],
    });
    expect((await get('/auth-files/models?name=b.json')).body).toEqual({ models: [] });
    const missing = await get('/auth-files/models');
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ error: 'name is required' });
    const bad = await get('/auth-files/models?name=..%2Fa.json');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'invalid name' });
    expect(snapshotDir).toBeDefined();
  });

  it('GET /model-definitions/:channel: trimmed, lower-cased; blank 400; unknown 400 with the channel', async () => {
    const asked: string[] = [];
    make({
      modelDefinitions: (c) => (
        asked.push(c),
        c === 'claude' ? [{ id: 'c1', anything: { a: 1 } }] : undefined
      ),
    });
    expect((await get('/model-definitions/%20Claude%20')).body).toEqual({
      channel: 'claude',
      models: [{ id: 'c1', anything: { a: 1 } }],
    });
    const unknown = await get('/model-definitions/Kimi');
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual({ error: 'unknown channel', channel: 'kimi' });
    const blank = await get('/model-definitions/%20');
    expect(blank.status).toBe(400);
    expect(blank.body).toEqual({ error: 'channel is required' });
    expect(asked).toEqual(['claude', 'kimi']);
  });

  it('GET /latest-version: trimmed; blank 502 invalid_response; a plain throw 502 request_failed', async () => {
    let value: () => string = () => ' v1.4.0 ';
    make({ latestVersion: () => value() });
    expect((await get('/latest-version')).body).toEqual({ 'latest-version': 'v1.4.0' });
    value = () => ' ';
    const blank = await get('/latest-version');
    expect(blank.status).toBe(502);
    expect(blank.body).toEqual({ error: 'invalid_response', message: 'missing release version' });
    value = () => {
      throw new Error('github said no at https://token@x');
    };
    const failed = await get('/latest-version');
    expect(failed.status).toBe(502);
    expect(failed.body).toEqual({ error: 'request_failed', message: 'version check failed' });
    expect(warnings).toEqual(['cli-proxy-management: runtime hook latestVersion failed (Error)']);
  });
});

describe('a router without runtime', () => {
  it('an empty runtime mounts nothing: the same 404s', async () => {
    make({});
    for (const p of ['/logs', '/api-key-usage', '/latest-version'])
      expect((await get(p)).body).toEqual({ error: 'not found' });
    expect(KEY).toBeDefined();
  });
});
