// examples/proxy: a real OpenAI-compatible proxy against a local upstream speaking the chat
// completions shape (SSE included); every runtime hook through the Management API it mounts.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { parse } from 'yaml';
import { createTempConfig, type TempConfig } from '../lib';
import { authIndexOf, createProxy, type Proxy } from '../examples/proxy';
import { auth, eventually, KEY_HASH } from './helpers';

const quiet = { bcryptRounds: 4, logger: { warn: () => undefined } };

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

let upstream: Server;
let base: string;
let seen: Seen[];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      if (req.url === '/quota') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ plan: 'pro', authorization: req.headers.authorization }));
      }
      if (body.model === 'broken') {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        return res.end('{"error":{"message":"upstream failed"}}');
      }
      if (body.stream === true) {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write(
          `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ delta: { content: 'Hel' } }] })}\n\n`,
        );
        setTimeout(() => {
          res.write(
            `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ delta: { content: 'lo' } }] })}\n\n`,
          );
          res.end('data: [DONE]\n\n');
        }, 5);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'c1',
          object: 'chat.completion',
          model: body.model,
          choices: [{ message: { role: 'assistant', content: 'Hello' } }],
        }),
      );
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

let tmp: TempConfig;
let proxy: Proxy;
let logDir: string;

const CONFIG = (up: string): string => `remote-management:
  secret-key: "${KEY_HASH}"
logging-to-file: true
request-log: false
# the proxy's client keys
api-keys:
  - "k1"
openai-compatibility:
  - name: Local
    base-url: ${up}/v1
    api-key-entries:
      - api-key: up-key-1
    models:
      - name: real-model
        alias: fast
      - name: broken
codex-api-key:
  - api-key: codex-key
    base-url: ${up}/codex
    models:
      - name: gpt-x
`;

beforeEach(() => {
  seen = [];
  tmp = createTempConfig(CONFIG(base));
  logDir = path.join(tmp.dir, 'logs');
  proxy = createProxy(tmp.configPath, tmp.authDir, {
    management: quiet,
    logDir,
    fetch: (url, init) => fetch(String(url).replace('https://quota.example', base), init),
  });
});
afterEach(async () => {
  await proxy.management.close();
  tmp.cleanup();
});

const chat = (body: object, key: string | null = 'k1') => {
  const r = request(proxy.app).post('/v1/chat/completions').send(body);
  return key === null ? r : r.set('Authorization', `Bearer ${key}`);
};
const mgmt = (p: string) => request(proxy.app).get(`/v0/management${p}`).set(auth);

describe('examples/proxy: the OpenAI-compatible side', () => {
  it('forwards by alias to the compatibility entry with its key, never the client key', async () => {
    const res = await chat({ model: 'fast', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    expect(res.body.choices[0].message.content).toBe('Hello');
    expect(seen[0]?.url).toBe('/v1/chat/completions');
    expect(seen[0]?.body.model).toBe('real-model');
    expect(seen[0]?.headers.authorization).toBe('Bearer up-key-1');
    const codex = await chat({ model: 'gpt-x', messages: [] });
    expect(codex.status).toBe(200);
    expect(seen[1]?.url).toBe('/codex/chat/completions');
    expect(seen[1]?.headers.authorization).toBe('Bearer codex-key');
  });

  it('streams SSE through as it arrives', async () => {
    const res = await chat({ model: 'fast', stream: true, messages: [] })
      .buffer(true)
      .parse((r, cb) => {
        let s = '';
        r.on('data', (c: Buffer) => (s += c.toString()));
        r.on('end', () => cb(null, s));
      });
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(res.body).toContain('"content":"Hel"');
    expect(res.body).toContain('data: [DONE]');
    expect(seen[0]?.headers.accept).toBe('text/event-stream');
  });

  it('refuses clients without a key from the live config; a key added through the API works at once', async () => {
    expect((await chat({ model: 'fast' }, null)).body).toEqual({
      error: { message: 'missing api key', type: 'authentication_error' },
    });
    expect((await chat({ model: 'fast' }, 'k2')).status).toBe(401);
    await request(proxy.app)
      .put('/v0/management/api-keys')
      .set(auth)
      .send(['k1', 'k2'])
      .expect(200);
    expect((await chat({ model: 'fast' }, 'k2')).status).toBe(200);
    expect(readFileSync(tmp.configPath, 'utf8')).toContain("# the proxy's client keys");
    expect(parse(readFileSync(tmp.configPath, 'utf8'))['api-keys']).toEqual(['k1', 'k2']);
  });

  it('unknown model 404, no model 400, both in the OpenAI error shape; GET /v1/models lists names and aliases', async () => {
    expect((await chat({ model: 'nope' })).status).toBe(404);
    expect((await chat({})).body).toEqual({
      error: { message: 'model is required', type: 'invalid_request_error' },
    });
    const models = await request(proxy.app).get('/v1/models').set('Authorization', 'Bearer k1');
    expect(models.body.data.map((m: { id: string }) => m.id).sort()).toEqual([
      'broken',
      'fast',
      'gpt-x',
      'real-model',
    ]);
  });
});

describe('examples/proxy: the panel sees the running proxy', () => {
  it('usage per provider and key, for the panel lookup `<base-url>|<api-key>`', async () => {
    await chat({ model: 'fast', messages: [] }).expect(200);
    await chat({ model: 'fast', messages: [] }).expect(200);
    await chat({ model: 'broken', messages: [] }).expect(500);
    const usage = (await mgmt('/api-key-usage')).body;
    const entry = usage.local[`${base}/v1|up-key-1`];
    expect(entry).toMatchObject({ success: 2, failed: 1 });
    expect(entry.recent_requests).toHaveLength(20);
    expect(entry.recent_requests[19]).toMatchObject({ success: 2, failed: 1 });
  });

  it('logs: lines with request ids; an error log for a failed request; a request log by id when request-log is on', async () => {
    await chat({ model: 'fast', messages: [] }).expect(200);
    await chat({ model: 'broken', messages: [] }).expect(500);
    const page = (await mgmt('/logs')).body;
    expect(page.lines).toHaveLength(2);
    expect(page.lines[0]).toMatch(
      /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] \[[0-9a-f]{8}\] \[info \] \[proxy\] 200 \| \d+ms \| .* \| POST \/v1\/chat\/completions \| model=fast -> local$/,
    );
    const errors = (await mgmt('/request-error-logs')).body.files;
    expect(errors).toHaveLength(1);
    expect((await mgmt(`/request-error-logs/${errors[0].name}`)).text).toContain(
      '=== RESPONSE 500 ===',
    );
    await request(proxy.app)
      .put('/v0/management/request-log')
      .set(auth)
      .send({ value: true })
      .expect(200);
    const ok = await chat({ model: 'fast', messages: [] }).expect(200);
    const id = ok.headers['x-request-id'] as string;
    const log = await mgmt(`/request-log-by-id/${id}`);
    expect(log.status).toBe(200);
    expect(log.text).toContain(`=== REQUEST ${id} ===`);
    expect(log.text).not.toContain('k1');
    const next = (await mgmt(`/logs?cursor=${page['next-cursor']}`)).body;
    expect(next.lines).toHaveLength(1);
    expect((await request(proxy.app).delete('/v0/management/logs').set(auth)).body).toMatchObject({
      success: true,
    });
    expect(readdirSync(logDir).filter((n) => n === 'main.log')).toEqual(['main.log']);
  });

  it('token files get an auth_index; /api-call uses the file access_token through $TOKEN$', async () => {
    mkdirSync(tmp.authDir, { recursive: true });
    writeFileSync(
      path.join(tmp.authDir, 'codex-a.json'),
      JSON.stringify({ type: 'codex', email: 'a@x', access_token: 'file-token' }),
    );
    const files = (await mgmt('/auth-files')).body.files;
    expect(files[0]).toMatchObject({
      name: 'codex-a.json',
      auth_index: authIndexOf('codex-a.json', 'codex'),
    });
    const res = await request(proxy.app)
      .post('/v0/management/api-call')
      .set(auth)
      .send({
        authIndex: files[0].auth_index,
        method: 'GET',
        url: 'https://quota.example/quota',
        header: { Authorization: 'Bearer $TOKEN$' },
      });
    expect(res.status).toBe(200);
    expect(res.body.status_code).toBe(200);
    expect(JSON.parse(res.body.body)).toEqual({ plan: 'pro', authorization: 'Bearer file-token' });
  });

  it('models from the config, the package version as latest, both in X-CPA-VERSION', async () => {
    mkdirSync(tmp.authDir, { recursive: true });
    writeFileSync(path.join(tmp.authDir, 'codex-a.json'), JSON.stringify({ type: 'codex' }));
    expect((await mgmt('/auth-files/models?name=codex-a.json')).body).toEqual({
      models: [{ id: 'gpt-x', display_name: 'gpt-x', type: 'codex', owned_by: 'codex' }],
    });
    expect(
      (await mgmt('/model-definitions/codex')).body.models.map((m: { id: string }) => m.id),
    ).toEqual(['gpt-x']);
    expect((await mgmt('/model-definitions/nope')).status).toBe(400);
    const version = await mgmt('/latest-version');
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(version.body).toEqual({ 'latest-version': `v${pkg.version}` });
    expect(version.headers['x-cpa-version']).toBe(pkg.version);
  });

  it('a provider added through the Management API serves its model on the next request', async () => {
    expect((await chat({ model: 'new-model' })).status).toBe(404);
    await request(proxy.app)
      .patch('/v0/management/openai-compatibility')
      .set(auth)
      .send({
        name: 'Local',
        value: {
          name: 'Local',
          'base-url': `${base}/v1`,
          'api-key-entries': [{ 'api-key': 'up-key-1' }],
          models: [{ name: 'new-model' }],
        },
      })
      .expect(200);
    await eventually(async () => (await chat({ model: 'new-model' })).status === 200);
  });
});
