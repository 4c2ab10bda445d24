/**
 * CONTRACT 10.7: list entries derived from each file, several files per upload, several names
 * per delete, `PATCH /auth-files/status` and `PATCH /auth-files/fields`. Section 7's own
 * request shapes keep their answers (auth-files.test.ts).
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import Ajv2020 from 'ajv/dist/2020';
import { createManagementRouter, openApiDocument } from '../lib';
import { api, auth, harness, type Harness } from './helpers';

let h: Harness;
let outside: string;
const SECRET = '{"refresh_token":"outside-secret"}';

beforeEach(() => {
  h = harness(undefined, { uploadMaxFiles: 3 });
  outside = path.join(h.dir, 'outside.json');
  writeFileSync(outside, SECRET, { mode: 0o600 });
});
afterEach(() => h.close());

const inDir = (name: string) => path.join(h.authDir, name);
const WHEN = new Date('2025-08-30T12:34:56.000Z');

function put(name: string, content: string | Buffer, mode = 0o600): string {
  mkdirSync(h.authDir, { recursive: true });
  writeFileSync(inDir(name), content, { mode });
  utimesSync(inDir(name), WHEN, WHEN);
  return inDir(name);
}

/** Every entry under the sandbox: type, mode, content, link target. */
function tree(root = h.dir): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const key = rel ? `${rel}/${name}` : name;
      const st = lstatSync(full);
      if (st.isSymbolicLink()) out[key] = `link -> ${readlinkSync(full)}`;
      else if (st.isDirectory()) {
        out[key] = `dir ${(st.mode & 0o777).toString(8)}`;
        walk(full, key);
      } else out[key] = `file ${(st.mode & 0o777).toString(8)} ${readFileSync(full, 'latin1')}`;
    }
  };
  if (existsSync(root)) walk(root, '');
  return out;
}

const list = async (): Promise<Record<string, unknown>[]> => {
  const res = await request(h.app).get(api('/auth-files')).set(auth);
  expect(res.status).toBe(200);
  return res.body.files as Record<string, unknown>[];
};

/** The list entry of one file holding `json`. */
async function entryOf(json: unknown, name = 'e.json'): Promise<Record<string, unknown>> {
  put(name, typeof json === 'string' ? json : JSON.stringify(json));
  const files = await list();
  const found = files.find((f) => f.name === name);
  if (!found) throw new Error(`${name} not listed`);
  return found;
}

/** An unsigned JWT with `payload`. */
const jwt = (payload: unknown): string =>
  `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

const BASE = {
  id: 'e.json',
  name: 'e.json',
  modtime: WHEN.toISOString(),
  updated_at: WHEN.toISOString(),
  unavailable: false,
  runtime_only: false,
  source: 'file',
  status_message: '',
};

describe('GET /auth-files entries (10.7)', () => {
  it('derives every field from the file and its metadata; no path, no runtime fields', async () => {
    const json = {
      type: 'gemini',
      email: 'a@example.com',
      project_id: 'proj-1',
      note: 'main account',
      priority: 3,
      weight: 40,
      request_retry: 2,
      websockets: true,
      last_refresh: '2025-08-30T14:00:00+02:00',
      token: { access_token: 'x' },
    };
    const text = JSON.stringify(json);
    const entry = await entryOf(json);
    expect(entry).toEqual({
      ...BASE,
      size: Buffer.byteLength(text),
      type: 'gemini',
      provider: 'gemini',
      email: 'a@example.com',
      label: 'a@example.com',
      disabled: false,
      status: 'active',
      project_id: 'proj-1',
      note: 'main account',
      priority: 3,
      weight: 40,
      request_retry: 2,
      websockets: true,
      last_refresh: '2025-08-30T12:00:00.000Z',
    });
  });

  it.each<[string, unknown, Record<string, unknown>]>([
    ['a blank type', { type: '  ' }, { type: 'unknown', provider: 'unknown', label: 'unknown' }],
    [
      'a type that is not a string',
      { type: 5 },
      { type: 'unknown', provider: 'unknown', label: 'unknown' },
    ],
    [
      'a padded type',
      { type: ' claude ' },
      { type: 'claude', provider: 'claude', label: 'claude' },
    ],
    [
      'a blank email (label is the type)',
      { type: 'qwen', email: ' ' },
      { type: 'qwen', label: 'qwen', email: undefined },
    ],
    ['an email', { type: 'qwen', email: 'q@x.io' }, { email: 'q@x.io', label: 'q@x.io' }],
    ['disabled true', { disabled: true }, { disabled: true, status: 'disabled' }],
    ['disabled "true"', { disabled: 'true' }, { disabled: true, status: 'disabled' }],
    ['disabled "TRUE "', { disabled: 'TRUE ' }, { disabled: true, status: 'disabled' }],
    ['disabled false', { disabled: false }, { disabled: false, status: 'active' }],
    ['disabled 1', { disabled: 1 }, { disabled: false, status: 'active' }],
    ['disabled "yes"', { disabled: 'yes' }, { disabled: false, status: 'active' }],
    [
      'blank project_id and note',
      { project_id: '', note: '  ' },
      { project_id: undefined, note: undefined },
    ],
    ['priority as a string', { priority: ' -2 ' }, { priority: -2 }],
    ['a fractional priority', { priority: 1.5 }, { priority: undefined }],
    ['a priority that is no number', { priority: 'high' }, { priority: undefined }],
    ['a negative weight', { weight: -5 }, { weight: 0 }],
    ['weight 0', { weight: 0 }, { weight: 0 }],
    ['weight 1000000', { weight: 1000000 }, { weight: 1000000 }],
    ['weight over 1000000', { weight: 1000001 }, { weight: undefined }],
    ['weight as a string', { weight: '7' }, { weight: 7 }],
    ['request-retry (kebab)', { 'request-retry': 3 }, { request_retry: 3 }],
    [
      'both request_retry spellings (snake wins)',
      { 'request-retry': 3, request_retry: '4' },
      { request_retry: 4 },
    ],
    ['a negative request_retry', { request_retry: -1 }, { request_retry: undefined }],
    ['websockets "false"', { websockets: 'false' }, { websockets: false }],
    ['websockets "yes"', { websockets: 'yes' }, { websockets: undefined }],
    [
      'last_refresh YYYY-MM-DD HH:MM:SS (UTC)',
      { last_refresh: '2025-01-02 03:04:05' },
      { last_refresh: '2025-01-02T03:04:05.000Z' },
    ],
    [
      'last_refresh in Unix seconds',
      { last_refresh: 1735689600 },
      { last_refresh: '2025-01-01T00:00:00.000Z' },
    ],
    [
      'last_refresh as a string of Unix seconds',
      { last_refresh: '1735689600' },
      { last_refresh: '2025-01-01T00:00:00.000Z' },
    ],
    [
      'lastRefresh',
      { lastRefresh: '2025-01-01T00:00:00.5Z' },
      { last_refresh: '2025-01-01T00:00:00.500Z' },
    ],
    [
      'last_refreshed_at',
      { last_refreshed_at: '2025-01-01T01:00:00Z' },
      { last_refresh: '2025-01-01T01:00:00.000Z' },
    ],
    [
      'lastRefreshedAt',
      { lastRefreshedAt: '2025-01-01T02:00:00Z' },
      { last_refresh: '2025-01-01T02:00:00.000Z' },
    ],
    [
      'the first refresh key wins',
      { lastRefreshedAt: '2025-01-01T02:00:00Z', last_refresh: '2025-01-01T00:00:00Z' },
      { last_refresh: '2025-01-01T00:00:00.000Z' },
    ],
    [
      'an unreadable refresh time, then a good one',
      { last_refresh: 'yesterday', lastRefresh: 0 },
      { last_refresh: '1970-01-01T00:00:00.000Z' },
    ],
    [
      'no readable refresh time',
      { last_refresh: 'soon', lastRefresh: 1e20 },
      { last_refresh: undefined },
    ],
    ['a "constructor" member is data', { constructor: 'x', type: 'vertex' }, { type: 'vertex' }],
  ])('%s', async (_what, json, expected) => {
    const entry = await entryOf(json);
    for (const [key, value] of Object.entries(expected)) {
      if (value === undefined) expect(entry).not.toHaveProperty(key);
      else expect(entry[key]).toEqual(value);
    }
  });

  it('codex files: id_token account fields from the unverified JWT payload', async () => {
    const token = jwt({
      email: 'c@x.io',
      'https://api.openai.com/auth': {
        chatgpt_account_id: 'acct-1',
        chatgpt_plan_type: 'plus',
        chatgpt_subscription_active_start: '2025-01-01T00:00:00Z',
        chatgpt_subscription_active_until: 1767225600,
        other: 'not shown',
      },
    });
    expect((await entryOf({ type: 'codex', id_token: token })).id_token).toEqual({
      chatgpt_account_id: 'acct-1',
      plan_type: 'plus',
      chatgpt_subscription_active_start: '2025-01-01T00:00:00Z',
      chatgpt_subscription_active_until: 1767225600,
    });
    // Only codex files; a token that is no JWT, or has no auth claim, gives nothing.
    expect(await entryOf({ type: 'claude', id_token: token }, 'f.json')).not.toHaveProperty(
      'id_token',
    );
    expect(await entryOf({ type: 'codex', id_token: 'not.a-jwt' }, 'g.json')).not.toHaveProperty(
      'id_token',
    );
    expect(
      await entryOf({ type: 'codex', id_token: jwt({ sub: 1 }) }, 'i.json'),
    ).not.toHaveProperty('id_token');
    expect(
      await entryOf({ type: 'codex', id_token: { nested: true } }, 'j.json'),
    ).not.toHaveProperty('id_token');
  });

  it.each([
    ['an array', '[1,2]'],
    ['a string', '"disabled"'],
    ['text that is not JSON', '{"type":"gemini",'],
    ['bytes that are not UTF-8', Buffer.from([0x7b, 0xff, 0x7d])],
    ['an empty file', ''],
  ])('a file holding %s is listed as unknown and not disabled', async (_what, content) => {
    put('odd.json', content);
    expect(await list()).toEqual([
      {
        ...BASE,
        id: 'odd.json',
        name: 'odd.json',
        size: Buffer.byteLength(content),
        type: 'unknown',
        provider: 'unknown',
        label: 'unknown',
        disabled: false,
        status: 'active',
      },
    ]);
  });

  it('lists through the token store: symlinks and other names are still never shown', async () => {
    put('a.json', '{"type":"gemini"}');
    put('notes.txt', 'x');
    symlinkSync(outside, inDir('link.json'));
    expect((await list()).map((f) => f.name)).toEqual(['a.json']);
  });
});

describe('POST /auth-files with several files (10.7)', () => {
  it('200 with the count and names; each file stored byte for byte, mode 0600', async () => {
    const res = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .attach('file', Buffer.from('{"a":1}'), 'a.json')
      .attach('file', Buffer.from('{"b":2}'), 'b.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', uploaded: 2, files: ['a.json', 'b.json'] });
    expect(readFileSync(inDir('a.json'), 'utf8')).toBe('{"a":1}');
    expect(readFileSync(inDir('b.json'), 'utf8')).toBe('{"b":2}');
    expect(statSync(inDir('b.json')).mode & 0o777).toBe(0o600);
  });

  it('207 partial: the good ones are stored, each bad one named with the message it would get alone', async () => {
    mkdirSync(h.authDir, { recursive: true });
    symlinkSync(outside, inDir('link.json'));
    const res = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .attach('file', Buffer.from('{"a":1}'), 'a.json')
      .attach('file', Buffer.from('{"b":1}'), 'b.txt')
      .attach('file', Buffer.from('[1]'), 'c.json');
    expect(res.status).toBe(207);
    expect(res.body).toEqual({
      status: 'partial',
      uploaded: 1,
      files: ['a.json'],
      failed: [
        { name: 'b.txt', error: 'file must be .json' },
        { name: 'c.json', error: 'invalid json' },
      ],
    });
    const more = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .attach('file', Buffer.from('{"x":1}'), 'link.json')
      .attach('file', Buffer.from('{"x":1}'), '.hidden.json');
    expect(more.status).toBe(207);
    expect(more.body).toEqual({
      status: 'partial',
      uploaded: 0,
      files: [],
      failed: [
        { name: 'link.json', error: 'not a regular file' },
        { name: '.hidden.json', error: 'invalid name' },
      ],
    });
    expect(readdirSync(h.authDir).sort()).toEqual(['a.json', 'link.json']);
    expect(readFileSync(outside, 'utf8')).toBe(SECRET);
  });

  it('413 too many files over uploadMaxFiles (files of any field count), nothing written', async () => {
    let three = request(h.app).post(api('/auth-files')).set(auth);
    for (let i = 0; i < 3; i++) three = three.attach('file', Buffer.from('{}'), `f${i}.json`);
    expect((await three).body).toEqual({
      status: 'ok',
      uploaded: 3,
      files: ['f0.json', 'f1.json', 'f2.json'],
    });
    const before = tree();
    let four = request(h.app).post(api('/auth-files')).set(auth);
    for (let i = 0; i < 4; i++) four = four.attach('file', Buffer.from('{}'), `g${i}.json`);
    const res = await four;
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: 'too many files' });
    const mixed = await request(h.app)
      .post(api('/auth-files'))
      .set(auth)
      .attach('other', Buffer.from('{}'), 'o1.json')
      .attach('other', Buffer.from('{}'), 'o2.json')
      .attach('other', Buffer.from('{}'), 'o3.json')
      .attach('file', Buffer.from('{}'), 'g9.json');
    expect(mixed.status).toBe(413);
    expect(mixed.body).toEqual({ error: 'too many files' });
    expect(tree()).toEqual(before);
  });

  it('uploadMaxFiles defaults to 50', async () => {
    const d = harness();
    try {
      const send = (n: number) => {
        let req = request(d.app).post(api('/auth-files')).set(auth);
        for (let i = 0; i < n; i++) req = req.attach('file', Buffer.from('{}'), `f${i}.json`);
        return req;
      };
      const fifty = await send(50);
      expect(fifty.status).toBe(200);
      expect(fifty.body.uploaded).toBe(50);
      const res = await send(51);
      expect(res.status).toBe(413);
      expect(res.body).toEqual({ error: 'too many files' });
    } finally {
      await d.close();
    }
  });

  it.each([0, -1, 1.5, '5'])('uploadMaxFiles %p is refused at construction', (value) => {
    expect(() =>
      createManagementRouter(h.configPath, h.authDir, {
        uploadMaxFiles: value as number,
        watch: false,
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message: expect.stringContaining('uploadMaxFiles'),
      }),
    );
  });
});

describe('DELETE /auth-files with several names (10.7)', () => {
  beforeEach(() => {
    for (const n of ['a.json', 'b.json', 'c.json']) put(n, '{}');
  });
  const names = () => readdirSync(h.authDir).sort();

  it('repeated ?name= deletes each: 200 with the count and names', async () => {
    const res = await request(h.app).delete(api('/auth-files?name=a.json&name=b.json')).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', deleted: 2, files: ['a.json', 'b.json'] });
    expect(names()).toEqual(['c.json']);
  });

  it.each<[string, unknown]>([
    ['{"names": [...]}', { names: ['a.json', 'c.json'] }],
    ['{"names"} with {"name"}', { names: ['a.json'], name: 'c.json' }],
    ['a bare array', ['a.json', 'c.json']],
  ])('a JSON body %s', async (_what, body) => {
    const res = await request(h.app)
      .delete(api('/auth-files'))
      .set(auth)
      .send(body as object);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', deleted: 2, files: ['a.json', 'c.json'] });
    expect(names()).toEqual(['b.json']);
  });

  it('one name from the body answers as section 7 (the panel sends {"names":[x]} for one file)', async () => {
    const res = await request(h.app)
      .delete(api('/auth-files'))
      .set(auth)
      .send({ names: ['b.json'] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    const missing = await request(h.app)
      .delete(api('/auth-files'))
      .set(auth)
      .send({ name: 'zz.json' });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'file not found' });
    expect(names()).toEqual(['a.json', 'c.json']);
  });

  it('names are trimmed; blanks and repeats dropped', async () => {
    const res = await request(h.app)
      .delete(api('/auth-files'))
      .set(auth)
      .send({ names: [' a.json ', 'a.json', '', '  ', 'b.json'] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', deleted: 2, files: ['a.json', 'b.json'] });
    const q = await request(h.app)
      .delete(api('/auth-files?name=c.json&name=&name=c.json'))
      .set(auth);
    expect(q.body).toEqual({ status: 'ok' });
    expect(names()).toEqual([]);
  });

  it('207 partial: each failure named with the message it would get alone', async () => {
    put('notes.txt', 'x');
    symlinkSync(outside, inDir('link.json'));
    const res = await request(h.app)
      .delete(api('/auth-files'))
      .set(auth)
      .send({
        names: ['a.json', 'gone.json', '../outside.json', 'notes.txt', 'link.json', 'c.json'],
      });
    expect(res.status).toBe(207);
    expect(res.body).toEqual({
      status: 'partial',
      deleted: 2,
      files: ['a.json', 'c.json'],
      failed: [
        { name: 'gone.json', error: 'file not found' },
        { name: '../outside.json', error: 'invalid name' },
        { name: 'notes.txt', error: 'name must end with .json' },
        { name: 'link.json', error: 'file not found' },
      ],
    });
    expect(names()).toEqual(['b.json', 'link.json', 'notes.txt']);
    expect(readFileSync(outside, 'utf8')).toBe(SECRET);
  });

  it('?name= wins over the body; ?all=true is checked first, whatever the body', async () => {
    const q = await request(h.app)
      .delete(api('/auth-files?name=a.json'))
      .set(auth)
      .send({ names: ['b.json'] });
    expect(q.body).toEqual({ status: 'ok' });
    expect(names()).toEqual(['b.json', 'c.json']);
    const all = await request(h.app)
      .delete(api('/auth-files?all=true'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{oops');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ status: 'ok', deleted: 2 });
  });

  it.each<[string, string]>([
    ['no names in the body', '{"names":[]}'],
    ['only blank names', '{"names":["", "  "]}'],
    ['an empty array', '[]'],
    ['an object without names', '{"other":1}'],
  ])('400 invalid name for %s, nothing deleted', async (_what, body) => {
    const before = tree();
    const res = await request(h.app)
      .delete(api('/auth-files'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid name' });
    expect(tree()).toEqual(before);
  });

  it.each<[string, string]>([
    ['an unparsable body', '{"names":['],
    ['names that is not an array', '{"names":"a.json"}'],
    ['a name that is not a string', '{"names":[1]}'],
    ['"name" that is not a string', '{"name":true}'],
    ['a number', '5'],
    ['a forbidden key', '{"names":["a.json"],"__proto__":{}}'],
  ])('400 invalid body for %s, nothing deleted', async (_what, body) => {
    const before = tree();
    const res = await request(h.app)
      .delete(api('/auth-files'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid body');
    expect(tree()).toEqual(before);
  });
});

/** PATCH a route with a raw JSON text. */
const patch = (route: string, body: unknown) =>
  request(h.app)
    .patch(api(`/auth-files/${route}`))
    .set(auth)
    .set('Content-Type', 'application/json')
    .send(typeof body === 'string' ? body : JSON.stringify(body));

describe('PATCH /auth-files/status (10.7)', () => {
  it('sets top-level "disabled", keeps member order, numbers and escapes, 2-space indent, mode 0600', async () => {
    put(
      'a.json',
      '{"10":1,"type":"gemini","big":12345678901234567890,"s":"caf\\u00e9","n":{"x":[1,2]},"e":{},"l":[]}',
      0o644,
    );
    const res = await patch('status', { name: 'a.json', disabled: true, auth_index: '7' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', disabled: true });
    expect(readFileSync(inDir('a.json'), 'utf8')).toBe(
      [
        '{',
        '  "10": 1,',
        '  "type": "gemini",',
        '  "big": 12345678901234567890,',
        '  "s": "caf\\u00e9",',
        '  "n": {',
        '    "x": [',
        '      1,',
        '      2',
        '    ]',
        '  },',
        '  "e": {},',
        '  "l": [],',
        '  "disabled": true',
        '}',
      ].join('\n'),
    );
    expect(statSync(inDir('a.json')).mode & 0o777).toBe(0o600);
    const [entry] = await list();
    expect(entry).toMatchObject({ disabled: true, status: 'disabled', type: 'gemini' });
    const back = await patch('status', { name: 'a.json', disabled: false });
    expect(back.body).toEqual({ status: 'ok', disabled: false });
    const text = readFileSync(inDir('a.json'), 'utf8');
    expect(text.indexOf('"disabled": false')).toBeGreaterThan(text.indexOf('"l": []'));
    expect((await list())[0]).toMatchObject({ disabled: false, status: 'active' });
  });

  it('a repeated member: the first keeps its place with the new value, the repeats go', async () => {
    put('a.json', '{"disabled":true,"type":"x","disabled":true,"n":1}');
    expect((await list())[0]).toMatchObject({ disabled: true });
    await patch('status', { name: 'a.json', disabled: false }).expect(200);
    expect(readFileSync(inDir('a.json'), 'utf8')).toBe(
      '{\n  "disabled": false,\n  "type": "x",\n  "n": 1\n}',
    );
  });

  it('an existing "disabled" keeps its place; a BOM and a final newline are kept', async () => {
    put('a.json', '\uFEFF{"disabled":"true","type":"x"}\n');
    await patch('status', { name: 'a.json', disabled: false }).expect(200);
    expect(readFileSync(inDir('a.json'), 'utf8')).toBe(
      '\uFEFF{\n  "disabled": false,\n  "type": "x"\n}\n',
    );
  });

  it.each<[string, unknown, number, Record<string, unknown>]>([
    [
      'a body that is not an object',
      '[{"name":"a.json","disabled":true}]',
      400,
      { error: 'invalid body' },
    ],
    ['no body (read as {})', '', 400, { error: 'name is required' }],
    ['no name', { disabled: true }, 400, { error: 'name is required' }],
    ['a blank name', { name: '  ', disabled: true }, 400, { error: 'name is required' }],
    [
      'a name that is not a string',
      { name: 5, disabled: true },
      400,
      { error: 'name is required' },
    ],
    ['no disabled', { name: 'a.json' }, 400, { error: 'disabled is required' }],
    [
      'disabled as a string',
      { name: 'a.json', disabled: 'true' },
      400,
      { error: 'disabled is required' },
    ],
    ['disabled before a bad name', { name: '../a.json' }, 400, { error: 'disabled is required' }],
    ['a bad name', { name: '../outside.json', disabled: true }, 400, { error: 'invalid name' }],
    [
      'a name without .json',
      { name: 'notes.txt', disabled: true },
      400,
      { error: 'name must end with .json' },
    ],
    ['a missing file', { name: 'gone.json', disabled: true }, 404, { error: 'file not found' }],
    ['a symlink', { name: 'link.json', disabled: true }, 404, { error: 'file not found' }],
    [
      'a file that is not a JSON object',
      { name: 'arr.json', disabled: true },
      409,
      { error: 'file is not a JSON object' },
    ],
    [
      'a file that is not JSON',
      { name: 'bad.json', disabled: true },
      409,
      { error: 'file is not a JSON object' },
    ],
    [
      'a forbidden key',
      '{"name":"a.json","disabled":true,"constructor":1}',
      400,
      { error: 'invalid body' },
    ],
  ])('%s: %p %p, nothing changed', async (_what, body, status, expected) => {
    put('a.json', '{"type":"gemini"}');
    put('notes.txt', 'x');
    put('arr.json', '[1]');
    put('bad.json', '{"type":');
    symlinkSync(outside, inDir('link.json'));
    const before = tree();
    const res = await patch('status', body);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject(expected);
    if (expected.error !== 'invalid body') expect(res.body).toEqual(expected);
    expect(tree()).toEqual(before);
  });

  it('concurrent status and field edits of one file all land (read-modify-write is serialised)', async () => {
    put('a.json', '{"type":"gemini"}');
    const edits = Array.from({ length: 12 }, (_, i) =>
      patch('fields', { name: 'a.json', [`k${i}`]: i }),
    );
    edits.push(patch('status', { name: 'a.json', disabled: true }));
    for (const res of await Promise.all(edits)) expect(res.status).toBe(200);
    const json = JSON.parse(readFileSync(inDir('a.json'), 'utf8')) as Record<string, unknown>;
    for (let i = 0; i < 12; i++) expect(json[`k${i}`]).toBe(i);
    expect(json.disabled).toBe(true);
    expect(readdirSync(h.authDir)).toEqual(['a.json']);
  });
});

describe('PATCH /auth-files/fields (10.7)', () => {
  const json = (name = 'a.json') =>
    JSON.parse(readFileSync(inDir(name), 'utf8')) as Record<string, unknown>;

  it('sets every field the panel sends, as sent (null included); 200 {"status":"ok"}', async () => {
    put('a.json', '{"type":"codex","prefix":"old","note":"n"}');
    const fields = {
      prefix: 'team-a',
      proxy_url: 'socks5://127.0.0.1:1080',
      priority: 5,
      disable_cooling: true,
      websockets: false,
      using_api: true,
      note: null,
      excluded_models: ['gpt-4o', 'o1*'],
      expired: '2026-11-27T10:00:00.000Z',
    };
    const res = await patch('fields', { name: 'a.json', ...fields });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(json()).toEqual({ type: 'codex', ...fields });
    expect(Object.keys(json())).toEqual([
      'type',
      'prefix',
      'note',
      ...Object.keys(fields).filter((k) => !['prefix', 'note'].includes(k)),
    ]);
    expect(statSync(inDir('a.json')).mode & 0o777).toBe(0o600);
  });

  it('kebab spellings become snake; the snake one wins when both come', async () => {
    put('a.json', '{"type":"gemini"}');
    await patch('fields', {
      name: 'a.json',
      'proxy-url': 'http://kebab',
      'api-key': 'k',
      'base-url': 'https://b',
      'disable-cooling': true,
      'excluded-models': ['m'],
      'fingerprint-profile': 'chrome',
      'model-aliases': { a: 'b' },
      'request-scoped-errors': false,
      'tool-prefix-disabled': true,
      'request-retry': 2,
      'other-kebab': 1,
    }).expect(200);
    expect(json()).toEqual({
      type: 'gemini',
      proxy_url: 'http://kebab',
      api_key: 'k',
      base_url: 'https://b',
      disable_cooling: true,
      excluded_models: ['m'],
      fingerprint_profile: 'chrome',
      model_aliases: { a: 'b' },
      request_scoped_errors: false,
      tool_prefix_disabled: true,
      request_retry: 2,
      'other-kebab': 1,
    });
    await patch('fields', {
      name: 'a.json',
      'proxy-url': 'http://kebab2',
      proxy_url: 'http://snake',
    }).expect(200);
    await patch('fields', {
      name: 'a.json',
      proxy_url: 'http://snake2',
      'proxy-url': 'http://kebab3',
    }).expect(200);
    expect(json().proxy_url).toBe('http://snake2');
  });

  it('a dotted path sets a nested member, creating objects (and replacing a scalar in the way)', async () => {
    put('a.json', '{"type":"gemini","metadata":{"keep":1},"attrs":"flat"}');
    await patch('fields', {
      name: 'a.json',
      'metadata.tier': 'pro',
      'attrs.x.y': true,
      'new.deep.z': [1],
    }).expect(200);
    expect(json()).toEqual({
      type: 'gemini',
      metadata: { keep: 1, tier: 'pro' },
      attrs: { x: { y: true } },
      new: { deep: { z: [1] } },
    });
  });

  it('weight: an integer, 0 for <= 0, null removes', async () => {
    put('a.json', '{"type":"gemini","weight":3}');
    await patch('fields', { name: 'a.json', weight: 1000000 }).expect(200);
    expect(json().weight).toBe(1000000);
    await patch('fields', { name: 'a.json', weight: -4 }).expect(200);
    expect(json().weight).toBe(0);
    await patch('fields', { name: 'a.json', weight: null }).expect(200);
    expect(json()).toEqual({ type: 'gemini' });
  });

  it('request_retry: an integer; null or a negative one removes', async () => {
    put('a.json', '{"type":"gemini"}');
    await patch('fields', { name: 'a.json', request_retry: 0 }).expect(200);
    expect(json().request_retry).toBe(0);
    await patch('fields', { name: 'a.json', request_retry: -1 }).expect(200);
    expect(json()).toEqual({ type: 'gemini' });
    await patch('fields', { name: 'a.json', request_retry: 4 }).expect(200);
    await patch('fields', { name: 'a.json', 'request-retry': null }).expect(200);
    expect(json()).toEqual({ type: 'gemini' });
  });

  it('headers merge into the stored ones; "" removes one; none left removes the member', async () => {
    put('a.json', '{"type":"gemini","headers":{"A":"1","B":"2"},"z":0}');
    await patch('fields', { name: 'a.json', headers: { B: '', C: '3' } }).expect(200);
    expect(json()).toEqual({ type: 'gemini', headers: { A: '1', C: '3' }, z: 0 });
    await patch('fields', { name: 'a.json', headers: { A: '', C: '' } }).expect(200);
    expect(json()).toEqual({ type: 'gemini', z: 0 });
    await patch('fields', { name: 'a.json', headers: { X: 'y' } }).expect(200);
    expect(json()).toEqual({ type: 'gemini', z: 0, headers: { X: 'y' } });
  });

  it.each<[string, unknown, number, Record<string, unknown>]>([
    ['a body that is not an object', '"a.json"', 400, { error: 'invalid body' }],
    ['no name', { prefix: 'p' }, 400, { error: 'name is required' }],
    ['no field', { name: 'a.json' }, 400, { error: 'no fields to update' }],
    ['an empty segment', { name: 'a.json', 'a..b': 1 }, 400, { error: 'invalid field path: a..b' }],
    ['a leading dot', { name: 'a.json', '.a': 1 }, 400, { error: 'invalid field path: .a' }],
    ['a trailing dot', { name: 'a.json', 'a.': 1 }, 400, { error: 'invalid field path: a.' }],
    ['an empty field name', { name: 'a.json', '': 1 }, 400, { error: 'invalid field path: ' }],
    [
      'weight over the cap',
      { name: 'a.json', weight: 1000001 },
      400,
      { error: 'weight must not exceed 1000000' },
    ],
    [
      'a fractional weight',
      { name: 'a.json', weight: 1.5 },
      400,
      { error: 'weight must be an integer' },
    ],
    [
      'weight as a string',
      { name: 'a.json', weight: '5' },
      400,
      { error: 'weight must be an integer' },
    ],
    ['weight true', { name: 'a.json', weight: true }, 400, { error: 'weight must be an integer' }],
    [
      'a nested weight',
      { name: 'a.json', 'weight.x': 1 },
      400,
      { error: 'weight does not support nested fields' },
    ],
    [
      'request_retry as a string',
      { name: 'a.json', request_retry: 'x' },
      400,
      { error: 'request_retry must be an integer or null' },
    ],
    [
      'a fractional request_retry',
      { name: 'a.json', request_retry: 0.5 },
      400,
      { error: 'request_retry must be an integer or null' },
    ],
    [
      'a nested request_retry',
      { name: 'a.json', 'request_retry.a': 1 },
      400,
      { error: 'request_retry does not support nested fields' },
    ],
    [
      'headers that are not strings',
      { name: 'a.json', headers: { A: 1 } },
      400,
      { error: 'headers must be an object of strings' },
    ],
    [
      'headers that are a list',
      { name: 'a.json', headers: ['A: 1'] },
      400,
      { error: 'headers must be an object of strings' },
    ],
    [
      'a forbidden path segment',
      { name: 'a.json', 'x.__proto__.y': 1 },
      400,
      { error: 'invalid body' },
    ],
    [
      'a forbidden path segment (prototype)',
      { name: 'a.json', 'prototype.y': 1 },
      400,
      { error: 'invalid body' },
    ],
    [
      'a forbidden key in a value',
      '{"name":"a.json","m":{"__proto__":{"x":1}}}',
      400,
      { error: 'invalid body' },
    ],
    ['a bad name', { name: 'a/b.json', note: 'x' }, 400, { error: 'invalid name' }],
    ['a name without .json', { name: 'a', note: 'x' }, 400, { error: 'name must end with .json' }],
    ['a missing file', { name: 'gone.json', note: 'x' }, 404, { error: 'file not found' }],
    [
      'a file that is not a JSON object',
      { name: 'arr.json', note: 'x' },
      409,
      { error: 'file is not a JSON object' },
    ],
    [
      'one good field and one bad one',
      { name: 'a.json', note: 'x', weight: 'heavy' },
      400,
      { error: 'weight must be an integer' },
    ],
  ])('%s: %p %p, nothing changed', async (_what, body, status, expected) => {
    put('a.json', '{"type":"gemini"}');
    put('arr.json', '[1]');
    const before = tree();
    const res = await patch('fields', body);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject(expected);
    if (expected.error !== 'invalid body') expect(res.body).toEqual(expected);
    expect(tree()).toEqual(before);
  });

  it('405 with Allow for other methods on both routes', async () => {
    for (const route of ['status', 'fields']) {
      const res = await request(h.app)
        .get(api(`/auth-files/${route}`))
        .set(auth);
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('PATCH');
      expect(res.body).toEqual({ error: 'method not allowed' });
    }
  });

  it('need the management key like every route', async () => {
    put('a.json', '{"type":"gemini"}');
    const before = tree();
    for (const route of ['status', 'fields']) {
      const res = await request(h.app)
        .patch(api(`/auth-files/${route}`))
        .send({ name: 'a.json', disabled: true, note: 'x' });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'missing management key' });
    }
    expect(tree()).toEqual(before);
  });
});

describe('OpenAPI (10.7)', () => {
  it('the list schema accepts the entries the router answers; the batch and PATCH answers are described', async () => {
    put(
      'a.json',
      JSON.stringify({
        type: 'codex',
        email: 'c@x.io',
        weight: 5,
        last_refresh: 1735689600,
        id_token: jwt({ 'https://api.openai.com/auth': { chatgpt_plan_type: 'pro' } }),
      }),
    );
    put('b.json', '[1]');
    const doc = openApiDocument(h.router.resources);
    const files = doc.paths['/auth-files'] as Record<
      string,
      { responses: Record<string, { content?: Record<string, { schema: object }> }> }
    >;
    const schema = files.get?.responses['200']?.content?.['application/json']?.schema;
    const check = new Ajv2020({ strict: false, validateFormats: false }).compile({
      components: doc.components,
      ...schema,
    });
    const res = await request(h.app).get(api('/auth-files')).set(auth);
    expect(res.body.files).toHaveLength(2);
    expect({ valid: check(res.body), errors: check.errors ?? null }).toEqual({
      valid: true,
      errors: null,
    });
    expect(check({ files: [{ ...res.body.files[0], status: 'broken' }] })).toBe(false);
    expect(Object.keys(files.post?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '207', '413']),
    );
    expect(Object.keys(files.delete?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '207', '400', '404']),
    );
    for (const route of ['/auth-files/status', '/auth-files/fields']) {
      const patchOp = doc.paths[route]?.patch as { responses: Record<string, unknown> } | undefined;
      expect(Object.keys(patchOp?.responses ?? {})).toEqual(
        expect.arrayContaining(['200', '400', '404', '409']),
      );
    }
  });
});
