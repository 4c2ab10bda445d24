import request from 'supertest';
import { api, auth, type Harness, harness, KEY_HASH, send } from './helpers';

/** Contract section 10.5: the provider lists of the current upstream API. */
let h: Harness;
afterEach(() => h.close());

const MINIMAL = `remote-management:\n  secret-key: "${KEY_HASH}"\n`;

const get = async (p: string): Promise<Record<string, unknown>> => {
  const res = await request(h.app).get(api(p)).set(auth);
  expect(res.status).toBe(200);
  return res.body as Record<string, unknown>;
};
async function rejected(
  method: 'put' | 'patch' | 'delete' | 'post',
  p: string,
  body: unknown,
  status: number,
  expected: unknown,
): Promise<void> {
  const before = h.read();
  const res = await send(h.app, method, p, body);
  expect({ status: res.status, body: res.body }).toEqual({ status, body: expected });
  expect(h.read()).toBe(before);
}

const CLAUDE = [
  '# two accounts on one key',
  'claude-api-key:',
  '  - api-key: "sk-same" # official',
  '    weight: 3',
  '  - api-key: "sk-same" # via a relay',
  '    base-url: "https://relay.example/v1"',
  '    cloak: { mode: auto, strict-mode: true }',
  '  - api-key: " sk-other "',
  '',
].join('\n');

describe('the rows', () => {
  it.each([
    ['/gemini-api-key', { 'api-key': 'g1' }, { 'api-key': 'g1' }],
    ['/interactions-api-key', { 'api-key': 'i1', priority: 2 }, { 'api-key': 'i1', priority: 2 }],
    [
      '/claude-api-key',
      { 'api-key': 'c1' },
      { 'api-key': 'c1', 'base-url': '', 'proxy-url': '', models: [] },
    ],
    [
      '/codex-api-key',
      { 'api-key': 'x1', 'base-url': 'https://codex.example' },
      { 'api-key': 'x1', 'base-url': 'https://codex.example', 'proxy-url': '', models: [] },
    ],
    [
      '/xai-api-key',
      { 'api-key': 'x1', 'base-url': 'https://api.x.ai/v1', websockets: true },
      {
        'api-key': 'x1',
        'base-url': 'https://api.x.ai/v1',
        websockets: true,
        'proxy-url': '',
        models: [],
      },
    ],
    [
      '/vertex-api-key',
      { 'api-key': 'v1', models: [{ name: 'gemini-2.5-pro', alias: 'pro' }] },
      { 'api-key': 'v1', models: [{ name: 'gemini-2.5-pro', alias: 'pro' }] },
    ],
    [
      '/openai-compatibility',
      {
        name: 'p',
        'base-url': 'https://p.example/v1',
        'api-key-entries': [{ 'api-key': 'k', weight: 2 }],
      },
      {
        name: 'p',
        'base-url': 'https://p.example/v1',
        'api-key-entries': [{ 'api-key': 'k', weight: 2 }],
        'api-keys': [],
        models: [],
        disabled: false,
      },
    ],
  ])(
    '%s: POST appends, GET shows it with only the fills upstream emits (never weight)',
    async (p, item, shown) => {
      h = harness(MINIMAL);
      const res = await send(h.app, 'post', p, item);
      expect({ status: res.status, body: res.body }).toEqual({
        status: 200,
        body: { status: 'ok' },
      });
      const key = p.slice(1);
      expect(h.onDisk()[key]).toEqual([item]);
      expect(await get(p)).toEqual({ [key]: [shown] });
      expect((await get('/config'))[key]).toEqual([item]);
    },
  );

  it.each([
    ['/codex-api-key', { 'api-key': 'k' }, "must have required property 'base-url'"],
    [
      '/xai-api-key',
      { 'api-key': 'k', 'base-url': '' },
      'must match pattern "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+(?:[/?#]\\S*)?$"',
    ],
    [
      '/vertex-api-key',
      { 'api-key': 'k', models: [{ name: 'm' }] },
      "must have required property 'alias'",
    ],
    ['/gemini-api-key', { 'api-key': 'k', weight: 1_000_001 }, 'must be <= 1000000'],
    ['/gemini-api-key', { 'api-key': 'k', prefix: 'a/b' }, 'must match pattern "^/*[^/]*/*$"'],
    ['/gemini-api-key', { 'api-key': 'k', headers: { a: 1 } }, 'must be string'],
    [
      '/claude-api-key',
      { 'api-key': 'k', cloak: { mode: 'sometimes' } },
      'must be equal to one of the allowed values',
    ],
    [
      '/claude-api-key',
      { 'api-key': 'k', 'request-scoped-errors': [{ status: 400, action: 'stop' }] },
      "must have required property 'match'",
    ],
    [
      '/openai-compatibility',
      { name: 'p', 'base-url': 'https://p.example', 'api-key-entries': [{ weight: 1 }] },
      "must have required property 'api-key'",
    ],
  ])(
    '%s: PUT refuses an invalid item (%j) with details, file untouched',
    async (p, item, message) => {
      h = harness(MINIMAL);
      const before = h.read();
      const res = await send(h.app, 'put', p, [item]);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid body');
      expect((res.body.details as { message: string }[]).map((d) => d.message)).toContain(message);
      expect(h.read()).toBe(before);
    },
  );

  it('weight may be null, a prefix may have outer slashes, unknown fields (test-model) are kept', async () => {
    h = harness(MINIMAL);
    const item = {
      'api-key': 'k',
      weight: null,
      prefix: '/team/',
      'test-model': 'gemini-2.5-flash',
      models: [{ name: 'm', priority: 3 }],
    };
    expect((await send(h.app, 'put', '/gemini-api-key', { items: [item] })).status).toBe(200);
    expect(h.onDisk()['gemini-api-key']).toEqual([item]);
  });

  it('auth-index is dropped from PUT, POST and PATCH input; fingerprint-profile oauth-cli is stored as claude-code-cli', async () => {
    h = harness(MINIMAL);
    expect(
      (
        await send(h.app, 'put', '/claude-api-key', [
          { 'api-key': 'a', 'auth-index': 'x1', 'fingerprint-profile': 'oauth-cli' },
        ])
      ).status,
    ).toBe(200);
    expect(
      (await send(h.app, 'post', '/claude-api-key', { 'api-key': 'b', 'auth-index': 'x2' })).status,
    ).toBe(200);
    expect(
      (
        await send(h.app, 'patch', '/claude-api-key', {
          index: 1,
          value: { 'auth-index': 'x3', priority: 1 },
        })
      ).status,
    ).toBe(200);
    expect(h.onDisk()['claude-api-key']).toEqual([
      { 'api-key': 'a', 'fingerprint-profile': 'claude-code-cli' },
      { 'api-key': 'b', priority: 1 },
    ]);
  });
});

describe('PATCH merges (section 10.5)', () => {
  beforeEach(() => {
    h = harness(MINIMAL + CLAUDE);
  });

  it('a field present replaces, null removes, absent ones are kept; nested values are replaced whole; comments stay', async () => {
    const res = await send(h.app, 'patch', '/claude-api-key', {
      index: 1,
      value: { cloak: { mode: 'never' }, 'base-url': null, priority: 4 },
    });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { status: 'ok' } });
    expect((h.onDisk()['claude-api-key'] as unknown[])[1]).toEqual({
      'api-key': 'sk-same',
      cloak: { mode: 'never' },
      priority: 4,
    });
    expect(h.read()).toContain('  - api-key: "sk-same" # via a relay\n');
    expect(h.read()).toContain('  - api-key: "sk-same" # official\n    weight: 3\n');
  });

  it('by match: the first item with that (trimmed) key; ?base-url= narrows to the one with that base URL', async () => {
    expect(
      (await send(h.app, 'patch', '/claude-api-key', { match: 'sk-same', value: { priority: 1 } }))
        .status,
    ).toBe(200);
    expect(
      (h.onDisk()['claude-api-key'] as { priority?: number }[]).map((i) => i.priority),
    ).toEqual([1, undefined, undefined]);
    expect(
      (
        await send(h.app, 'patch', '/claude-api-key?base-url=https://relay.example/v1', {
          match: 'sk-same',
          value: { priority: 2 },
        })
      ).status,
    ).toBe(200);
    expect(
      (h.onDisk()['claude-api-key'] as { priority?: number }[]).map((i) => i.priority),
    ).toEqual([1, 2, undefined]);
    expect(
      (await send(h.app, 'patch', '/claude-api-key', { match: 'sk-other', value: { priority: 3 } }))
        .status,
    ).toBe(200);
    expect(
      (h.onDisk()['claude-api-key'] as { priority?: number }[]).map((i) => i.priority),
    ).toEqual([1, 2, 3]);
  });

  it('the panel switch: PATCH {index, value: {disabled}} on openai-compatibility', async () => {
    h.write(
      `${MINIMAL}openai-compatibility:\n  - name: p # mine\n    base-url: https://p.example\n`,
    );
    await h.router.reload();
    expect(
      (await send(h.app, 'patch', '/openai-compatibility', { index: 0, value: { disabled: true } }))
        .status,
    ).toBe(200);
    expect(h.read()).toBe(
      `${MINIMAL}openai-compatibility:\n  - name: p # mine\n    base-url: https://p.example\n    disabled: true\n`,
    );
    expect((await get('/openai-compatibility'))['openai-compatibility']).toEqual([
      { name: 'p', 'base-url': 'https://p.example', disabled: true, 'api-keys': [], models: [] },
    ]);
  });

  it('404 when the narrowed key is absent or the index is out of range (no fall-back to the selector)', async () => {
    await rejected(
      'patch',
      '/claude-api-key?base-url=https://other.example',
      { match: 'sk-same', value: { priority: 1 } },
      404,
      { error: 'item not found' },
    );
    await rejected(
      'patch',
      '/claude-api-key',
      { index: 3, match: 'sk-same', value: { priority: 1 } },
      404,
      { error: 'item not found' },
    );
  });

  it('400 with details when the merged item is invalid', async () => {
    await rejected(
      'patch',
      '/claude-api-key',
      { index: 0, value: { 'base-url': 'ftp://x' } },
      400,
      {
        error: 'invalid body',
        details: [
          {
            path: '/value/base-url',
            message: 'must match pattern "^$|^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+(?:[/?#]\\S*)?$"',
          },
        ],
      },
    );
    await rejected('patch', '/claude-api-key', { index: 0, value: [] }, 400, {
      error: 'invalid body',
      details: [{ path: '/value', message: 'must be object' }],
    });
  });
});

describe('DELETE ?api-key=&base-url= (section 10.5)', () => {
  beforeEach(() => {
    h = harness(MINIMAL + CLAUDE);
  });

  it('removes only the items with both values; an empty base-url= matches items without one', async () => {
    expect(
      (
        await send(
          h.app,
          'delete',
          '/claude-api-key?api-key=sk-same&base-url=https://relay.example/v1',
        )
      ).status,
    ).toBe(200);
    expect((h.onDisk()['claude-api-key'] as { 'base-url'?: string }[]).length).toBe(2);
    expect((await send(h.app, 'delete', '/claude-api-key?api-key=sk-same&base-url=')).status).toBe(
      200,
    );
    expect(h.onDisk()['claude-api-key']).toEqual([{ 'api-key': ' sk-other ' }]);
  });

  it('without base-url, every item with that key (trimmed) goes; none matching is still 200', async () => {
    expect((await send(h.app, 'delete', '/claude-api-key?api-key=sk-same')).status).toBe(200);
    expect((await send(h.app, 'delete', '/claude-api-key?api-key=sk-other')).status).toBe(200);
    expect(h.onDisk()['claude-api-key']).toEqual([]);
    const res = await send(h.app, 'delete', '/claude-api-key?api-key=nobody&base-url=');
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('400 when the key is missing, even with a base-url', async () => {
    await rejected('delete', '/claude-api-key?base-url=https://relay.example/v1', undefined, 400, {
      error: 'missing api-key or index',
    });
  });
});
