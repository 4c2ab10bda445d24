/**
 * The current web panel (Cli-Proxy-API-Management-Center, 2026) against this router: a recording
 * of the requests its API client makes in each user flow (login, providers, auth files, config
 * page), written from reading that client, replayed over real HTTP with `fetch` the way its axios
 * instance sends them, and each answer checked the way the panel reads it (CONTRACT 10.1).
 *
 * How the panel's client sends (its `src/services/api/*.ts`): base `<host>/v0/management`;
 * `Authorization: Bearer <key>` on every request; an object body as JSON with `Content-Type:
 * application/json`; a string body as is with the type it names; FormData as multipart (the
 * browser adds the boundary); `params` as a query string. An answer of 2xx resolves (207 too),
 * anything else rejects with the body's `error` as the message (401 also logs the user out). It
 * parses an answer as JSON when it can, except where it asks for text or a blob. It reads the
 * version, build date and plugin support from the `X-CPA-*` headers, cross-origin: the panel is
 * often served from another origin, so every request here carries an `Origin`.
 *
 * The flows run in order on one host, as a user's session would.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { harness, KEY, type Harness } from './helpers';

jest.setTimeout(30_000);

const ORIGIN = 'http://panel.example:5173';
let h: Harness;
let server: Server;
let base: string;

beforeAll(async () => {
  h = harness(undefined, {
    cors: true,
    serverInfo: { version: '9.9.9', commit: 'abc1234', buildDate: '2026-11-27T00:00:00Z' },
  } as never);
  server = h.app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v0/management`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await h.close();
});

interface Sent {
  params?: Record<string, string | boolean>;
  data?: unknown;
  headers?: Record<string, string>;
  responseType?: 'json' | 'text' | 'blob';
  key?: string;
}
interface Answer {
  status: number;
  headers: Headers;
  data: unknown;
}

/** One request as the panel's axios client sends it, and its answer as axios hands it over. */
async function send(method: string, route: string, sent: Sent = {}): Promise<Answer> {
  const url = new URL(base + route);
  for (const [k, v] of Object.entries(sent.params ?? {})) url.searchParams.set(k, String(v));
  const headers: Record<string, string> = {
    Accept: 'application/json, text/plain, */*',
    Origin: ORIGIN,
    Authorization: `Bearer ${sent.key ?? KEY}`,
  };
  let body: RequestInit['body'];
  if (sent.data instanceof FormData) body = sent.data;
  else if (typeof sent.data === 'string') {
    body = sent.data;
    headers['Content-Type'] = 'application/json';
  } else if (sent.data !== undefined) {
    body = JSON.stringify(sent.data);
    headers['Content-Type'] = 'application/json';
  }
  Object.assign(headers, sent.headers);
  const res = await fetch(url, { method, headers, body });
  let data: unknown;
  if (sent.responseType === 'blob') data = Buffer.from(await res.arrayBuffer());
  else {
    const text = await res.text();
    data = text;
    if (sent.responseType !== 'text') {
      try {
        data = JSON.parse(text);
      } catch {
        // axios keeps a body that is not JSON as its text
      }
    }
  }
  return { status: res.status, headers: res.headers, data };
}

/** The call resolved as axios resolves it (2xx), with the body the panel gets. */
async function ok(method: string, route: string, sent?: Sent): Promise<unknown> {
  const res = await send(method, route, sent);
  expect({
    call: `${method} ${route}`,
    status: res.status,
    ok: res.status >= 200 && res.status < 300,
  }).toEqual({
    call: `${method} ${route}`,
    status: res.status,
    ok: true,
  });
  return res.data;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const record = (v: unknown): Record<string, unknown> => {
  expect(isRecord(v)).toBe(true);
  return v as Record<string, unknown>;
};
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** `GET /config` as the config store fetches it (login check, and before every provider write). */
async function getConfig(): Promise<Record<string, unknown>> {
  return record(await ok('GET', '/config'));
}

/** The panel's provider write: re-read `GET /config`, change the list, `PUT` it whole. */
async function mutateList(section: string, change: (items: unknown[]) => unknown[]): Promise<void> {
  const latest = list((await getConfig())[section]);
  await ok('PUT', `/${section}`, { data: change(latest) });
}

/** Replace the item with this key and base-url, keeping its fields the form does not know. */
const replaceItem =
  (apiKey: string, baseUrl: string, payload: Record<string, unknown>, known: readonly string[]) =>
  (items: unknown[]): unknown[] => {
    const at = items.findIndex(
      (i) =>
        isRecord(i) &&
        String(i['api-key'] ?? '').trim() === apiKey &&
        String(i['base-url'] ?? '').trim() === baseUrl,
    );
    if (at < 0) throw new Error('Provider configuration changed; refresh and try again.');
    return items.map((item, i) => {
      if (i !== at) return item;
      const kept = Object.fromEntries(
        Object.entries(item as Record<string, unknown>).filter(
          ([k]) => !known.includes(k) && k !== 'auth-index',
        ),
      );
      return { ...kept, ...payload };
    });
  };

const COMMON_FIELDS = [
  'api-key',
  'priority',
  'weight',
  'prefix',
  'base-url',
  'proxy-url',
  'headers',
  'models',
  'excluded-models',
  'disable-cooling',
];

/** The panel's delete query of an api-key row: both parameters, `base-url` empty when none. */
const keyQuery = (apiKey: string, baseUrl = '') =>
  `?${new URLSearchParams({ 'api-key': apiKey, 'base-url': baseUrl }).toString()}`;

describe('login', () => {
  it('GET /config is the login check: an object, the key nowhere; version headers readable cross-origin', async () => {
    const res = await send('GET', '/config');
    expect(res.status).toBe(200);
    const config = record(res.data);
    expect(config).not.toHaveProperty('remote-management');
    expect(JSON.stringify(config)).not.toContain('$2');
    // normalizeConfigResponse: booleans, the request-retry number, the api-keys list, provider lists.
    expect(typeof config.debug).toBe('boolean');
    expect(config['request-retry']).toBe(3);
    expect(config['api-keys']).toEqual(['your-api-key-1', 'your-api-key-2']);
    expect(Array.isArray(config['claude-api-key'])).toBe(true);
    // The client's response interceptor: version, build date, plugin pages off.
    expect(res.headers.get('x-cpa-version')).toBe('9.9.9');
    expect(res.headers.get('x-cpa-build-date')).toBe('2026-11-27T00:00:00Z');
    expect(res.headers.get('x-cpa-support-plugin')).toBe('false');
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase();
    for (const name of ['x-cpa-version', 'x-cpa-build-date', 'x-cpa-support-plugin'])
      expect(exposed).toContain(name);
  });

  it('a wrong key rejects with the API message (the panel shows it and stays on the login page)', async () => {
    const res = await send('GET', '/config', { key: 'wrong' });
    expect(res.status).toBe(401);
    expect(typeof record(res.data).error).toBe('string');
  });
});

describe('dashboard and system page', () => {
  it('reads the client keys and switches request logging', async () => {
    const keys = record(await ok('GET', '/api-keys'));
    expect(list(keys['api-keys']).map(String)).toEqual(['your-api-key-1', 'your-api-key-2']);
    await ok('PUT', '/request-log', { data: { value: true } });
    expect((await getConfig())['request-log']).toBe(true);
  });
});

describe('providers page', () => {
  it('loads: GET /config, /vertex-api-key and /openai-compatibility; OpenAI keys come from api-key-entries', async () => {
    const [config, vertex, openai] = await Promise.all([
      getConfig(),
      ok('GET', '/vertex-api-key'),
      ok('GET', '/openai-compatibility'),
    ]);
    expect(Array.isArray(config['gemini-api-key'])).toBe(true);
    expect(Array.isArray(record(vertex)['vertex-api-key'])).toBe(true);
    const providers = list(record(openai)['openai-compatibility']);
    expect(providers).toHaveLength(1);
    expect(record(providers[0])).toMatchObject({
      name: 'openrouter',
      'base-url': 'https://openrouter.ai/api/v1',
    });
  });

  it('adds, edits, disables and deletes a Gemini key', async () => {
    await mutateList('gemini-api-key', (items) => [
      ...items,
      { 'api-key': 'AIza-panel-1', prefix: 'team', headers: { 'X-A': '1' } },
    ]);
    let items = list((await getConfig())['gemini-api-key']);
    expect(items).toEqual([
      expect.objectContaining({
        'api-key': 'AIza-panel-1',
        prefix: 'team',
        headers: { 'X-A': '1' },
      }),
    ]);
    expect(record(items[0])).not.toHaveProperty('weight');

    await mutateList(
      'gemini-api-key',
      replaceItem(
        'AIza-panel-1',
        '',
        { 'api-key': 'AIza-panel-1', prefix: 'team-b', priority: 2, weight: 5 },
        COMMON_FIELDS,
      ),
    );
    items = list((await getConfig())['gemini-api-key']);
    expect(record(items[0])).toMatchObject({
      'api-key': 'AIza-panel-1',
      prefix: 'team-b',
      priority: 2,
      weight: 5,
    });

    // "Disable" is the exclude-everything rule.
    await mutateList(
      'gemini-api-key',
      replaceItem(
        'AIza-panel-1',
        '',
        { 'api-key': 'AIza-panel-1', prefix: 'team-b', 'excluded-models': ['*'] },
        COMMON_FIELDS,
      ),
    );
    expect(record(list((await getConfig())['gemini-api-key'])[0])['excluded-models']).toEqual([
      '*',
    ]);

    await ok('DELETE', `/gemini-api-key${keyQuery('AIza-panel-1')}`);
    expect((await getConfig())['gemini-api-key']).toEqual([]);
  });

  it('deletes one of two Claude entries sharing a key: the base-url picks it', async () => {
    await mutateList('claude-api-key', (items) => [
      ...items,
      { 'api-key': 'sk-dup', 'base-url': 'https://a.example' },
      { 'api-key': 'sk-dup', 'base-url': 'https://b.example' },
    ]);
    await ok('DELETE', `/claude-api-key${keyQuery('sk-dup', 'https://a.example')}`);
    const left = list((await getConfig())['claude-api-key']).filter(
      (i) => isRecord(i) && i['api-key'] === 'sk-dup',
    );
    expect(left).toEqual([expect.objectContaining({ 'base-url': 'https://b.example' })]);
    expect(list((await getConfig())['claude-api-key'])).toHaveLength(3);
  });

  it('adds a Codex key (base-url required) and a Vertex key, each listed back', async () => {
    await mutateList('codex-api-key', (items) => [
      ...items,
      { 'api-key': 'cx-1', 'base-url': 'https://codex.example/v1', websockets: true },
    ]);
    expect(list((await getConfig())['codex-api-key'])).toEqual([
      expect.objectContaining({ 'api-key': 'cx-1', websockets: true }),
    ]);
    await mutateList('vertex-api-key', (items) => [
      ...items,
      { 'api-key': 'vx-1', models: [{ name: 'gemini-2.5-pro', alias: 'g25' }] },
    ]);
    const vertex = list(record(await ok('GET', '/vertex-api-key'))['vertex-api-key']);
    expect(vertex).toEqual([expect.objectContaining({ 'api-key': 'vx-1' })]);
  });

  it('adds, switches off and deletes an OpenAI-compatible provider', async () => {
    await mutateList('openai-compatibility', (items) => [
      ...items,
      {
        name: 'local',
        'base-url': 'http://127.0.0.1:11434/v1',
        'api-key-entries': [{ 'api-key': 'sk-l1' }, { 'api-key': 'sk-l2', weight: 3 }],
        models: [{ name: 'llama3' }],
      },
    ]);
    let providers = list(record(await ok('GET', '/openai-compatibility'))['openai-compatibility']);
    const index = providers.findIndex((p) => isRecord(p) && p.name === 'local');
    expect(index).toBe(1);
    expect(list(record(providers[index])['api-key-entries'])).toHaveLength(2);

    await ok('PATCH', '/openai-compatibility', { data: { index, value: { disabled: true } } });
    providers = list(record(await ok('GET', '/openai-compatibility'))['openai-compatibility']);
    expect(record(providers[index])).toMatchObject({
      name: 'local',
      disabled: true,
      'base-url': 'http://127.0.0.1:11434/v1',
    });
    expect(list(record(providers[index])['api-key-entries'])).toHaveLength(2);

    await ok('DELETE', `/openai-compatibility?index=${index}`);
    providers = list(record(await ok('GET', '/openai-compatibility'))['openai-compatibility']);
    expect(providers.map((p) => record(p).name)).toEqual(['openrouter']);
  });
});

describe('auth files page', () => {
  const jwt = (payload: unknown) =>
    `e30.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.x`;
  const form = (...files: [string, unknown][]) => {
    const data = new FormData();
    for (const [name, json] of files)
      data.append('file', new Blob([JSON.stringify(json)], { type: 'application/json' }), name);
    return data;
  };
  const names = () => readdirSync(h.authDir).sort();
  type Entry = Record<string, unknown>;
  const loadFiles = async (): Promise<Entry[]> =>
    list(record(await ok('GET', '/auth-files')).files).map(record);

  it('uploads several files (the panel sends them in one form) and lists what each is', async () => {
    const answer = record(
      await ok('POST', '/auth-files', {
        data: form(
          ['gemini-a@x.io.json', { type: 'gemini', email: 'a@x.io', project_id: 'p-1' }],
          [
            'codex-b.json',
            {
              type: 'codex',
              email: 'b@x.io',
              id_token: jwt({
                'https://api.openai.com/auth': {
                  chatgpt_plan_type: 'plus',
                  chatgpt_account_id: 'acc',
                },
              }),
              last_refresh: '2026-11-01 10:00:00',
            },
          ],
        ),
      }),
    );
    // normalizeBatchUploadResponse reads status, uploaded, files, failed.
    expect(answer).toEqual({
      status: 'ok',
      uploaded: 2,
      files: ['gemini-a@x.io.json', 'codex-b.json'],
    });
    const files = await loadFiles();
    expect(files.map((f) => f.name)).toEqual(['codex-b.json', 'gemini-a@x.io.json']);
    const [codex, gemini] = files as [Entry, Entry];
    // The card shows the type badge, the email, the plan; `source: file` ranks it first.
    expect(codex).toMatchObject({
      type: 'codex',
      provider: 'codex',
      email: 'b@x.io',
      disabled: false,
      source: 'file',
      runtime_only: false,
      last_refresh: '2026-11-01T10:00:00.000Z',
    });
    expect(codex.id_token).toEqual({ plan_type: 'plus', chatgpt_account_id: 'acc' });
    expect(gemini).toMatchObject({
      type: 'gemini',
      email: 'a@x.io',
      project_id: 'p-1',
      status: 'active',
    });
    expect(Number.isNaN(Date.parse(String(gemini.modtime)))).toBe(false);
    for (const f of files) expect(f).not.toHaveProperty('path');
  });

  it('one file alone answers {"status":"ok"} (the panel infers the rest); a refused one comes back in failed', async () => {
    expect(
      await ok('POST', '/auth-files', { data: form(['qwen.json', { type: 'qwen' }]) }),
    ).toEqual({ status: 'ok' });
    const res = await send('POST', '/auth-files', {
      data: form(['iflow.json', { type: 'iflow' }], ['notes.txt', { a: 1 }]),
    });
    expect(res.status).toBe(207);
    expect(res.data).toEqual({
      status: 'partial',
      uploaded: 1,
      files: ['iflow.json'],
      failed: [{ name: 'notes.txt', error: 'file must be .json' }],
    });
  });

  it('disables and re-enables a file with PATCH /auth-files/status; the list shows it', async () => {
    expect(
      await ok('PATCH', '/auth-files/status', { data: { name: 'qwen.json', disabled: true } }),
    ).toEqual({ status: 'ok', disabled: true });
    expect((await loadFiles()).find((f) => f.name === 'qwen.json')).toMatchObject({
      disabled: true,
      status: 'disabled',
    });
    expect(JSON.parse(readFileSync(path.join(h.authDir, 'qwen.json'), 'utf8'))).toEqual({
      type: 'qwen',
      disabled: true,
    });
    expect(
      await ok('PATCH', '/auth-files/status', { data: { name: 'qwen.json', disabled: false } }),
    ).toEqual({ status: 'ok', disabled: false });
  });

  it('edits fields with PATCH /auth-files/fields and asks for a refresh', async () => {
    const fields = {
      prefix: 'team',
      proxy_url: 'socks5://127.0.0.1:1080',
      headers: { 'X-Org': 'acme' },
      priority: 4,
      weight: 20,
      disable_cooling: true,
      websockets: true,
      using_api: false,
      note: 'shared',
      excluded_models: ['gpt-4o'],
    };
    await ok('PATCH', '/auth-files/fields', { data: { name: 'codex-b.json', ...fields } });
    const entry = (await loadFiles()).find((f) => f.name === 'codex-b.json');
    expect(entry).toMatchObject({ priority: 4, weight: 20, note: 'shared', websockets: true });
    const expired = new Date(Date.now() - 60_000).toISOString();
    await ok('PATCH', '/auth-files/fields', { data: { name: 'codex-b.json', expired } });
    const stored = JSON.parse(readFileSync(path.join(h.authDir, 'codex-b.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(stored).toMatchObject({ ...fields, expired, type: 'codex' });
    // A bad value is refused with a message the panel shows.
    const res = await send('PATCH', '/auth-files/fields', {
      data: { name: 'codex-b.json', weight: 2_000_000 },
    });
    expect(res.status).toBe(400);
    expect(res.data).toEqual({ error: 'weight must not exceed 1000000' });
  });

  it('downloads a file as a blob', async () => {
    const bytes = await ok(
      'GET',
      `/auth-files/download?name=${encodeURIComponent('gemini-a@x.io.json')}`,
      { responseType: 'blob' },
    );
    expect(JSON.parse((bytes as Buffer).toString('utf8'))).toEqual({
      type: 'gemini',
      email: 'a@x.io',
      project_id: 'p-1',
    });
  });

  it('deletes with {"names": [...]} in the body, for one file and for several', async () => {
    expect(await ok('DELETE', '/auth-files', { data: { names: ['iflow.json'] } })).toEqual({
      status: 'ok',
    });
    expect(
      await ok('DELETE', '/auth-files', { data: { names: ['qwen.json', 'codex-b.json'] } }),
    ).toEqual({
      status: 'ok',
      deleted: 2,
      files: ['qwen.json', 'codex-b.json'],
    });
    expect(names()).toEqual(['gemini-a@x.io.json']);
    const res = await send('DELETE', '/auth-files', {
      data: { names: ['gone.json', 'gemini-a@x.io.json'] },
    });
    expect(res.status).toBe(207);
    expect(res.data).toEqual({
      status: 'partial',
      deleted: 1,
      files: ['gemini-a@x.io.json'],
      failed: [{ name: 'gone.json', error: 'file not found' }],
    });
    expect(await ok('DELETE', '/auth-files', { params: { all: true } })).toEqual({
      status: 'ok',
      deleted: 0,
    });
  });

  it('OAuth excluded models and model aliases (side panels of the page)', async () => {
    expect(record(await ok('GET', '/oauth-excluded-models'))['oauth-excluded-models']).toEqual({});
    await ok('PATCH', '/oauth-excluded-models', {
      data: { provider: 'codex', models: ['gpt-5', ' GPT-5 '] },
    });
    expect(record(await ok('GET', '/oauth-excluded-models'))['oauth-excluded-models']).toEqual({
      codex: ['gpt-5'],
    });
    await ok('DELETE', '/oauth-excluded-models?provider=codex');
    expect(record(await ok('GET', '/oauth-excluded-models'))['oauth-excluded-models']).toEqual({});

    await ok('PATCH', '/oauth-model-alias', {
      data: { channel: 'gemini-cli', aliases: [{ name: 'gemini-2.5-pro', alias: 'g-pro' }] },
    });
    expect(record(await ok('GET', '/oauth-model-alias'))['oauth-model-alias']).toEqual({
      'gemini-cli': [{ name: 'gemini-2.5-pro', alias: 'g-pro' }],
    });
    await ok('PATCH', '/oauth-model-alias', { data: { channel: 'gemini-cli', aliases: [] } });
    expect(record(await ok('GET', '/oauth-model-alias'))['oauth-model-alias']).toEqual({});
  });
});

describe('config page', () => {
  it('reads config.yaml as text, saves an edit with PUT, then re-reads both', async () => {
    const text = (await ok('GET', '/config.yaml', {
      responseType: 'text',
      headers: { Accept: 'application/yaml, text/yaml, text/plain' },
    })) as string;
    expect(typeof text).toBe('string');
    expect(text).toContain('# CLI Proxy API configuration');
    expect(text).not.toMatch(/\$2[aby]\$/);
    const doc = parseDocument(text);
    expect(doc.errors).toEqual([]);
    const edited = text.replace('debug: false   # flip me', 'debug: true   # flip me');
    expect(edited).not.toBe(text);
    const saved = await ok('PUT', '/config.yaml', {
      data: edited,
      headers: { 'Content-Type': 'application/yaml', Accept: 'application/json, text/plain, */*' },
    });
    expect(record(saved).status).toBe('ok');
    expect((await getConfig()).debug).toBe(true);
    const again = (await ok('GET', '/config.yaml', {
      responseType: 'text',
      headers: { Accept: 'application/yaml, text/yaml, text/plain' },
    })) as string;
    expect(again).toContain('debug: true   # flip me');
    // The key stays the stored hash on disk; the same key still logs in.
    expect(h.read()).toMatch(/secret-key: "\$2[aby]\$/);
    expect((await send('GET', '/config')).status).toBe(200);
  });

  it('a broken YAML text is refused with a message the editor shows; nothing changes', async () => {
    const before = h.read();
    const res = await send('PUT', '/config.yaml', {
      data: 'debug: [',
      headers: { 'Content-Type': 'application/yaml' },
    });
    expect(res.status).toBe(400);
    expect(record(res.data).error).toBe('invalid_yaml');
    expect(typeof record(res.data).message).toBe('string');
    expect(h.read()).toBe(before);
  });
});
