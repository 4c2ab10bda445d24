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
 *
 * Left out until the routes of contract 10.2-10.6 are on main (they are built on the `current`
 * branch; the steps are in the `authfiles` branch history): the login check (`GET /config`
 * and the `X-CPA-*` headers), the dashboard re-read, the whole providers page (gemini, claude
 * base-url delete, codex, vertex, openai-compatibility switch), the OAuth excluded-models and
 * model-alias panels (map rows) and the config page (`GET`/`PUT /config.yaml`).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { harness, KEY, type Harness } from './helpers';

jest.setTimeout(30_000);

const ORIGIN = 'http://panel.example:5173';
let h: Harness;
let server: Server;
let base: string;

beforeAll(async () => {
  h = harness(undefined, { cors: true });
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
  const headers: Record<string, string> = { Accept: 'application/json, text/plain, */*', Origin: ORIGIN, Authorization: `Bearer ${sent.key ?? KEY}` };
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
  expect({ call: `${method} ${route}`, status: res.status, ok: res.status >= 200 && res.status < 300 }).toEqual({
    call: `${method} ${route}`,
    status: res.status,
    ok: true,
  });
  return res.data;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const record = (v: unknown): Record<string, unknown> => {
  expect(isRecord(v)).toBe(true);
  return v as Record<string, unknown>;
};
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

describe('login', () => {
  it('a wrong key rejects with the API message (the panel shows it and stays on the login page)', async () => {
    const res = await send('GET', '/config', { key: 'wrong' });
    expect(res.status).toBe(401);
    expect(typeof record(res.data).error).toBe('string');
  });
});

describe('auth files page', () => {
  const jwt = (payload: unknown) => `e30.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.x`;
  const form = (...files: [string, unknown][]) => {
    const data = new FormData();
    for (const [name, json] of files) data.append('file', new Blob([JSON.stringify(json)], { type: 'application/json' }), name);
    return data;
  };
  const names = () => readdirSync(h.authDir).sort();
  type Entry = Record<string, unknown>;
  const loadFiles = async (): Promise<Entry[]> => list(record(await ok('GET', '/auth-files')).files).map(record);

  it('uploads several files (the panel sends them in one form) and lists what each is', async () => {
    const answer = record(
      await ok('POST', '/auth-files', {
        data: form(
          ['gemini-a@x.io.json', { type: 'gemini', email: 'a@x.io', project_id: 'p-1' }],
          ['codex-b.json', { type: 'codex', email: 'b@x.io', id_token: jwt({ 'https://api.openai.com/auth': { chatgpt_plan_type: 'plus', chatgpt_account_id: 'acc' } }), last_refresh: '2026-11-01 10:00:00' }],
        ),
      }),
    );
    // normalizeBatchUploadResponse reads status, uploaded, files, failed.
    expect(answer).toEqual({ status: 'ok', uploaded: 2, files: ['gemini-a@x.io.json', 'codex-b.json'] });
    const files = await loadFiles();
    expect(files.map((f) => f.name)).toEqual(['codex-b.json', 'gemini-a@x.io.json']);
    const [codex, gemini] = files as [Entry, Entry];
    // The card shows the type badge, the email, the plan; `source: file` ranks it first.
    expect(codex).toMatchObject({ type: 'codex', provider: 'codex', email: 'b@x.io', disabled: false, source: 'file', runtime_only: false, last_refresh: '2026-11-01T10:00:00.000Z' });
    expect(codex.id_token).toEqual({ plan_type: 'plus', chatgpt_account_id: 'acc' });
    expect(gemini).toMatchObject({ type: 'gemini', email: 'a@x.io', project_id: 'p-1', status: 'active' });
    expect(Number.isNaN(Date.parse(String(gemini.modtime)))).toBe(false);
    for (const f of files) expect(f).not.toHaveProperty('path');
  });

  it('one file alone answers {"status":"ok"} (the panel infers the rest); a refused one comes back in failed', async () => {
    expect(await ok('POST', '/auth-files', { data: form(['qwen.json', { type: 'qwen' }]) })).toEqual({ status: 'ok' });
    const res = await send('POST', '/auth-files', { data: form(['iflow.json', { type: 'iflow' }], ['notes.txt', { a: 1 }]) });
    expect(res.status).toBe(207);
    expect(res.data).toEqual({ status: 'partial', uploaded: 1, files: ['iflow.json'], failed: [{ name: 'notes.txt', error: 'file must be .json' }] });
  });

  it('disables and re-enables a file with PATCH /auth-files/status; the list shows it', async () => {
    expect(await ok('PATCH', '/auth-files/status', { data: { name: 'qwen.json', disabled: true } })).toEqual({ status: 'ok', disabled: true });
    expect((await loadFiles()).find((f) => f.name === 'qwen.json')).toMatchObject({ disabled: true, status: 'disabled' });
    expect(JSON.parse(readFileSync(path.join(h.authDir, 'qwen.json'), 'utf8'))).toEqual({ type: 'qwen', disabled: true });
    expect(await ok('PATCH', '/auth-files/status', { data: { name: 'qwen.json', disabled: false } })).toEqual({ status: 'ok', disabled: false });
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
    const stored = JSON.parse(readFileSync(path.join(h.authDir, 'codex-b.json'), 'utf8')) as Record<string, unknown>;
    expect(stored).toMatchObject({ ...fields, expired, type: 'codex' });
    // A bad value is refused with a message the panel shows.
    const res = await send('PATCH', '/auth-files/fields', { data: { name: 'codex-b.json', weight: 2_000_000 } });
    expect(res.status).toBe(400);
    expect(res.data).toEqual({ error: 'weight must not exceed 1000000' });
  });

  it('downloads a file as a blob', async () => {
    const bytes = await ok('GET', `/auth-files/download?name=${encodeURIComponent('gemini-a@x.io.json')}`, { responseType: 'blob' });
    expect(JSON.parse((bytes as Buffer).toString('utf8'))).toEqual({ type: 'gemini', email: 'a@x.io', project_id: 'p-1' });
  });

  it('deletes with {"names": [...]} in the body, for one file and for several', async () => {
    expect(await ok('DELETE', '/auth-files', { data: { names: ['iflow.json'] } })).toEqual({ status: 'ok' });
    expect(await ok('DELETE', '/auth-files', { data: { names: ['qwen.json', 'codex-b.json'] } })).toEqual({
      status: 'ok',
      deleted: 2,
      files: ['qwen.json', 'codex-b.json'],
    });
    expect(names()).toEqual(['gemini-a@x.io.json']);
    const res = await send('DELETE', '/auth-files', { data: { names: ['gone.json', 'gemini-a@x.io.json'] } });
    expect(res.status).toBe(207);
    expect(res.data).toEqual({ status: 'partial', deleted: 1, files: ['gemini-a@x.io.json'], failed: [{ name: 'gone.json', error: 'file not found' }] });
    expect(await ok('DELETE', '/auth-files', { params: { all: true } })).toEqual({ status: 'ok', deleted: 0 });
  });
});
