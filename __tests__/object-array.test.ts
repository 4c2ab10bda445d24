import request from 'supertest';
import { api, auth, fixtureWith, type Harness, harness, KEY_HASH, send } from './helpers';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(() => h.close());

const MINIMAL = `remote-management:\n  secret-key: "${KEY_HASH}"\n`;

async function reset(text: string): Promise<void> {
  await h.close();
  h = harness(text);
}

const get = async (path: string): Promise<unknown> => {
  const res = await request(h.app).get(api(path)).set(auth);
  expect(res.status).toBe(200);
  return res.body;
};

/** Expect `status` and exactly `body`, and the file byte-identical to what it was before. */
async function rejected(
  method: 'put' | 'patch' | 'delete',
  path: string,
  body: unknown,
  status: number,
  expected: unknown,
): Promise<void> {
  const before = h.read();
  const res = await send(h.app, method, path, body);
  expect({ status: res.status, body: res.body }).toEqual({ status, body: expected });
  expect(h.read()).toBe(before);
}

/** A 400 `invalid body` whose details is a non-empty list naming `paths`; file byte-identical. */
async function invalidItem(
  method: 'put' | 'patch',
  path: string,
  body: unknown,
  paths: string[],
): Promise<void> {
  const before = h.read();
  const res = await send(h.app, method, path, body);
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('invalid body');
  expect(Object.keys(res.body).sort()).toEqual(['details', 'error']);
  expect((res.body.details as { path: string }[]).map((d) => d.path)).toEqual(paths);
  expect(h.read()).toBe(before);
}

const CLAUDE_1 =
  '  - api-key: "sk-atSM..."   # personal\n    base-url: "https://www.example.com" # use the custom claude API endpoint\n';
const CLAUDE_2 = '  # second account, official endpoint\n  - api-key: "sk-atSM...2"\n';
const OPENROUTER = {
  name: 'openrouter',
  'base-url': 'https://openrouter.ai/api/v1',
  'api-keys': ['sk-or-v1-...b780', 'sk-or-v1-...b781'],
  models: [{ name: 'moonshotai/kimi-k2:free', alias: 'kimi-k2' }],
};

describe('GET', () => {
  it('claude-api-key: absent base-url, proxy-url and models read as "" and [] without being written', async () => {
    const before = h.read();
    expect(await get('/claude-api-key')).toEqual({
      'claude-api-key': [
        {
          'api-key': 'sk-atSM...',
          'base-url': 'https://www.example.com',
          'proxy-url': '',
          models: [],
        },
        { 'api-key': 'sk-atSM...2', 'base-url': '', 'proxy-url': '', models: [] },
      ],
    });
    expect(h.read()).toBe(before);
  });

  it('openai-compatibility: the provider as stored (disabled: false filled in)', async () => {
    expect(await get('/openai-compatibility')).toEqual({
      'openai-compatibility': [{ ...OPENROUTER, disabled: false }],
    });
  });

  it('openai-compatibility: absent (or null) api-keys and models read as []; unknown fields are returned', async () => {
    await reset(
      `${MINIMAL}openai-compatibility:\n  - name: local\n    base-url: http://127.0.0.1:1234/v1\n    api-keys:\n    headers: { X-Team: a }\n`,
    );
    const before = h.read();
    expect(await get('/openai-compatibility')).toEqual({
      'openai-compatibility': [
        {
          name: 'local',
          'base-url': 'http://127.0.0.1:1234/v1',
          'api-keys': [],
          models: [],
          disabled: false,
          headers: { 'X-Team': 'a' },
        },
      ],
    });
    expect(h.read()).toBe(before);
  });

  it.each(['/claude-api-key', '/openai-compatibility'])(
    '%s: [] when absent or null',
    async (path) => {
      const key = path.slice(1);
      await reset(MINIMAL);
      expect(await get(path)).toEqual({ [key]: [] });
      await reset(`${MINIMAL}${key}:\n`);
      expect(await get(path)).toEqual({ [key]: [] });
    },
  );
});

describe('PUT', () => {
  it.each([
    ['a raw array', (items: unknown[]) => items],
    ['{"items": [...]}', (items: unknown[]) => ({ items })],
  ])(
    'claude-api-key with %s replaces the list, unknown fields kept, nothing outside it touched',
    async (_what, wrap) => {
      const before = h.read();
      const items = [
        { 'api-key': 'k1' },
        {
          'api-key': 'k2',
          'base-url': 'https://c.example',
          'proxy-url': 'socks5://127.0.0.1:1080',
        },
      ];
      const res = await send(h.app, 'put', '/claude-api-key', wrap(items));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
      expect(h.onDisk()['claude-api-key']).toEqual(items);
      const after = h.read();
      expect(after.slice(0, after.indexOf('claude-api-key:'))).toBe(
        before.slice(0, before.indexOf('claude-api-key:')),
      );
      expect(after.slice(after.indexOf('# OpenAI compatibility'))).toBe(
        before.slice(before.indexOf('# OpenAI compatibility')),
      );
      expect(await get('/claude-api-key')).toEqual({
        'claude-api-key': [
          { 'api-key': 'k1', 'base-url': '', 'proxy-url': '', models: [] },
          {
            'api-key': 'k2',
            'base-url': 'https://c.example',
            'proxy-url': 'socks5://127.0.0.1:1080',
            models: [],
          },
        ],
      });
    },
  );

  it('openai-compatibility replaces the list', async () => {
    const items = [
      { name: 'a', 'base-url': 'https://a.example/v1' },
      { ...OPENROUTER, name: 'b', models: [] },
    ];
    expect((await send(h.app, 'put', '/openai-compatibility', items)).status).toBe(200);
    expect(h.onDisk()['openai-compatibility']).toEqual(items);
  });

  it.each(['/claude-api-key', '/openai-compatibility'])(
    '%s: [] clears the list, the comment above the key stays',
    async (path) => {
      const key = path.slice(1);
      expect((await send(h.app, 'put', path, [])).status).toBe(200);
      expect(h.onDisk()[key]).toEqual([]);
      expect(h.read()).toMatch(
        new RegExp(`# (Claude API keys|OpenAI compatibility providers)\\n${key}:`),
      );
    },
  );

  it('creates the list when absent', async () => {
    await reset(MINIMAL);
    expect((await send(h.app, 'put', '/claude-api-key', [{ 'api-key': 'k' }])).status).toBe(200);
    expect(h.read()).toBe(`${MINIMAL}claude-api-key:\n  - api-key: k\n`);
  });

  it('keeps the nodes and comments of the items it keeps (matched by api-key), in their new order', async () => {
    const before = h.read();
    const items = [
      { 'api-key': 'sk-atSM...2' },
      { 'api-key': 'sk-atSM...', 'base-url': 'https://www.example.com' },
    ];
    expect((await send(h.app, 'put', '/claude-api-key', items)).status).toBe(200);
    expect(h.onDisk()['claude-api-key']).toEqual(items);
    // A moved line keeps its comment; only the run of spaces before it takes the canonical single space.
    expect(h.read()).toBe(
      before.replace(
        CLAUDE_1 + CLAUDE_2,
        CLAUDE_2 + CLAUDE_1.replace('"sk-atSM..."   # personal', '"sk-atSM..." # personal'),
      ),
    );
  });

  it.each<[string, unknown, string[]]>([
    ['a missing api-key', [{ 'base-url': 'https://a.example' }], ['/0']],
    ['an empty api-key', [{ 'api-key': '' }], ['/0/api-key']],
    ['a blank api-key', [{ 'api-key': '   ' }], ['/0/api-key']],
    ['a number api-key', [{ 'api-key': 5 }], ['/0/api-key']],
    ['an ftp base-url', [{ 'api-key': 'k', 'base-url': 'ftp://a.example' }], ['/0/base-url']],
    ['a base-url without scheme', [{ 'api-key': 'k', 'base-url': 'a.example' }], ['/0/base-url']],
    ['a base-url without host', [{ 'api-key': 'k', 'base-url': 'https://' }], ['/0/base-url']],
    ['a string item', ['sk-1'], ['/0']],
    ['a null item', [null], ['/0']],
    [
      'one bad item among good ones',
      [{ 'api-key': 'ok' }, { 'api-key': 'ok2' }, { 'api-key': 1 }],
      ['/2/api-key'],
    ],
    [
      'two bad items',
      [{}, { 'api-key': 'ok' }, { 'api-key': 'k', 'base-url': 3 }],
      ['/0', '/2/base-url'],
    ],
  ])(
    'claude-api-key: 400 invalid body for %s (whole request rejected, file byte-identical)',
    async (_what, body, paths) => {
      await invalidItem('put', '/claude-api-key', body, paths);
    },
  );

  it('claude-api-key: the details name the property and the rule', async () => {
    await rejected('put', '/claude-api-key', [{ 'api-key': 'ok' }, { 'base-url': '' }], 400, {
      error: 'invalid body',
      details: [{ path: '/1', message: "must have required property 'api-key'" }],
    });
  });

  it.each<[string, unknown, string[]]>([
    ['a missing base-url', [{ name: 'x' }], ['/0']],
    ['an empty base-url', [{ name: 'x', 'base-url': '' }], ['/0/base-url']],
    ['a missing name', [{ 'base-url': 'https://a.example' }], ['/0']],
    [
      'api-keys of numbers',
      [{ name: 'x', 'base-url': 'https://a.example', 'api-keys': [1] }],
      ['/0/api-keys/0'],
    ],
    [
      'api-keys as a string',
      [{ name: 'x', 'base-url': 'https://a.example', 'api-keys': 'k' }],
      ['/0/api-keys'],
    ],
    [
      'a model without name',
      [{ name: 'x', 'base-url': 'https://a.example', models: [{ alias: 'm' }] }],
      ['/0/models/0'],
    ],
    [
      'models as an object',
      [{ name: 'x', 'base-url': 'https://a.example', models: { name: 'm', alias: 'a' } }],
      ['/0/models'],
    ],
  ])(
    'openai-compatibility: 400 invalid body for %s, file byte-identical',
    async (_what, body, paths) => {
      await invalidItem('put', '/openai-compatibility', body, paths);
    },
  );

  it.each<[string, unknown]>([
    ['an object without items', { 'claude-api-key': [] }],
    ['a string', 'k'],
    ['null', null],
  ])('400 invalid body for %s, file byte-identical', async (_what, body) => {
    await rejected('put', '/claude-api-key', body, 400, {
      error: 'invalid body',
      details: 'expected an array or {"items": [...]}',
    });
  });
});

describe('PATCH', () => {
  it('claude-api-key by index: only the lines of that item change, every comment stays', async () => {
    const before = h.read();
    const res = await send(h.app, 'patch', '/claude-api-key', {
      index: 1,
      value: { 'api-key': 'sk-new', 'base-url': 'https://b.example' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(h.read()).toBe(
      before.replace(
        CLAUDE_2,
        '  # second account, official endpoint\n  - api-key: "sk-new"\n    base-url: "https://b.example"\n',
      ),
    );
  });

  it('claude-api-key by {"match": api-key}: a null field removes it', async () => {
    const before = h.read();
    expect(
      (
        await send(h.app, 'patch', '/claude-api-key', {
          match: 'sk-atSM...',
          value: { 'base-url': null },
        })
      ).status,
    ).toBe(200);
    expect(h.onDisk()['claude-api-key']).toEqual([
      { 'api-key': 'sk-atSM...' },
      { 'api-key': 'sk-atSM...2' },
    ]);
    expect(h.read()).toBe(before.replace(CLAUDE_1, '  - api-key: "sk-atSM..."   # personal\n'));
  });

  it('openai-compatibility by {"name"}: changing base-url changes only that line', async () => {
    const before = h.read();
    const value = { ...OPENROUTER, 'base-url': 'https://openrouter.example/v2' };
    expect(
      (await send(h.app, 'patch', '/openai-compatibility', { name: 'openrouter', value })).status,
    ).toBe(200);
    expect(h.onDisk()['openai-compatibility']).toEqual([value]);
    expect(h.read()).toBe(
      before.replace(
        '    base-url: "https://openrouter.ai/api/v1" # The base URL of the provider.',
        '    base-url: "https://openrouter.example/v2" # The base URL of the provider.',
      ),
    );
  });

  it('openai-compatibility by index can rename the provider', async () => {
    expect(
      (
        await send(h.app, 'patch', '/openai-compatibility', {
          index: 0,
          value: { ...OPENROUTER, name: 'or2' },
        })
      ).status,
    ).toBe(200);
    expect((h.onDisk()['openai-compatibility'] as { name: string }[])[0]?.name).toBe('or2');
  });

  it('Decision: fields the schema does not name and the value does not mention are kept', async () => {
    await reset(
      `${MINIMAL}claude-api-key:\n  - api-key: k1\n    proxy-url: socks5://127.0.0.1:1080 # per-key proxy\n    priority: 2\n`,
    );
    expect(
      (
        await send(h.app, 'patch', '/claude-api-key', {
          match: 'k1',
          value: { 'api-key': 'k1', 'base-url': 'https://x.example', priority: 5 },
        })
      ).status,
    ).toBe(200);
    expect(h.onDisk()['claude-api-key']).toEqual([
      {
        'api-key': 'k1',
        'proxy-url': 'socks5://127.0.0.1:1080',
        priority: 5,
        'base-url': 'https://x.example',
      },
    ]);
    expect(h.read()).toBe(
      `${MINIMAL}claude-api-key:\n  - api-key: k1\n    proxy-url: socks5://127.0.0.1:1080 # per-key proxy\n    priority: 5\n    base-url: https://x.example\n`,
    );
  });

  it.each<[string, string, unknown]>([
    ['claude: index out of range', '/claude-api-key', { index: 2, value: { 'api-key': 'k' } }],
    ['claude: no such api-key', '/claude-api-key', { match: 'nobody', value: { 'api-key': 'k' } }],
    ['openai: index out of range', '/openai-compatibility', { index: 1, value: OPENROUTER }],
    ['openai: no such name', '/openai-compatibility', { name: 'nobody', value: OPENROUTER }],
  ])('404 item not found for %s, file byte-identical', async (_what, path, body) => {
    await rejected('patch', path, body, 404, { error: 'item not found' });
  });

  it('404 item not found when the list is absent', async () => {
    await reset(MINIMAL);
    await rejected('patch', '/claude-api-key', { index: 0, value: { 'api-key': 'k' } }, 404, {
      error: 'item not found',
    });
  });

  it.each<[string, string, unknown, unknown]>([
    ['no value', '/claude-api-key', { index: 0 }, [{ path: '/value', message: 'is required' }]],
    [
      'a null value',
      '/claude-api-key',
      { match: 'sk-atSM...', value: null },
      [{ path: '/value', message: 'is required' }],
    ],
    [
      'a value removing api-key',
      '/claude-api-key',
      { index: 0, value: { 'api-key': null } },
      [{ path: '/value', message: "must have required property 'api-key'" }],
    ],
    [
      'a string value',
      '/claude-api-key',
      { index: 0, value: 'sk-1' },
      [{ path: '/value', message: 'must be object' }],
    ],
    [
      'a value removing base-url',
      '/openai-compatibility',
      { name: 'openrouter', value: { 'base-url': null } },
      [{ path: '/value', message: "must have required property 'base-url'" }],
    ],
    [
      'no selector',
      '/claude-api-key',
      { value: { 'api-key': 'k' } },
      'expected "index" or "match" to select the item',
    ],
    [
      'no selector (openai)',
      '/openai-compatibility',
      { value: OPENROUTER },
      'expected "index" or "name" to select the item',
    ],
    [
      'a negative index',
      '/claude-api-key',
      { index: -1, value: { 'api-key': 'k' } },
      [{ path: '/index', message: 'must be a non-negative integer' }],
    ],
    [
      'a string index',
      '/claude-api-key',
      { index: '0', value: { 'api-key': 'k' } },
      [{ path: '/index', message: 'must be a non-negative integer' }],
    ],
    [
      'a number match',
      '/claude-api-key',
      { match: 1, value: { 'api-key': 'k' } },
      [{ path: '/match', message: 'must be a string' }],
    ],
    [
      'an array body',
      '/claude-api-key',
      [{ index: 0, value: { 'api-key': 'k' } }],
      'expected a JSON object',
    ],
  ])('400 invalid body for %s, file byte-identical', async (_what, path, body, details) => {
    await rejected('patch', path, body, 400, { error: 'invalid body', details });
  });

  it('an invalid base-url in value is 400 with its details, file byte-identical', async () => {
    await invalidItem(
      'patch',
      '/claude-api-key',
      { index: 0, value: { 'api-key': 'k', 'base-url': 'gopher://x' } },
      ['/value/base-url'],
    );
  });

  it('index wins over match', async () => {
    expect(
      (
        await send(h.app, 'patch', '/claude-api-key', {
          index: 1,
          match: 'sk-atSM...',
          value: { 'api-key': 'by-index' },
        })
      ).status,
    ).toBe(200);
    expect(h.onDisk()['claude-api-key']).toEqual([
      { 'api-key': 'sk-atSM...', 'base-url': 'https://www.example.com' },
      { 'api-key': 'by-index' },
    ]);
  });

  it('20 concurrent PATCHes of different items: none lost', async () => {
    const items = Array.from({ length: 20 }, (_, i) => ({ 'api-key': `k${i}` }));
    await reset(
      `${MINIMAL}claude-api-key:\n${items.map((it) => `  - api-key: ${it['api-key']}\n`).join('')}`,
    );
    const results = await Promise.all(
      items.map((it, i) =>
        send(h.app, 'patch', '/claude-api-key', {
          match: it['api-key'],
          value: { 'api-key': `rotated-${i}` },
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(items.map(() => 200));
    expect(h.onDisk()['claude-api-key']).toEqual(
      items.map((_, i) => ({ 'api-key': `rotated-${i}` })),
    );
  });
});

describe('DELETE', () => {
  it('claude-api-key ?index= removes that item; the comments of the other stay', async () => {
    const before = h.read();
    const res = await send(h.app, 'delete', '/claude-api-key?index=0');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(h.read()).toBe(before.replace(CLAUDE_1, ''));
  });

  it('claude-api-key ?api-key= removes every item with that key', async () => {
    await reset(
      `${MINIMAL}claude-api-key:\n  - api-key: a # one\n  - api-key: b # two\n  - api-key: a\n    base-url: https://x.example\n`,
    );
    expect((await send(h.app, 'delete', '/claude-api-key?api-key=a')).body).toEqual({
      status: 'ok',
    });
    expect(h.read()).toBe(`${MINIMAL}claude-api-key:\n  - api-key: b # two\n`);
  });

  it('openai-compatibility ?name= removes the provider', async () => {
    expect((await send(h.app, 'delete', '/openai-compatibility?name=openrouter')).status).toBe(200);
    expect(h.onDisk()['openai-compatibility']).toEqual([]);
  });

  it('openai-compatibility ?index= removes the provider', async () => {
    expect((await send(h.app, 'delete', '/openai-compatibility?index=0')).status).toBe(200);
    expect(h.onDisk()['openai-compatibility']).toEqual([]);
  });

  it.each(['/claude-api-key?api-key=nobody', '/openai-compatibility?name=nobody'])(
    '%s: none equal is still 200, file not rewritten',
    async (url) => {
      const before = h.read();
      const res = await send(h.app, 'delete', url);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
      expect(h.read()).toBe(before);
    },
  );

  it.each(['/claude-api-key?index=2', '/openai-compatibility?index=1'])(
    '%s: 404 item not found, file byte-identical',
    async (url) => {
      await rejected('delete', url, undefined, 404, { error: 'item not found' });
    },
  );

  it.each(['?index=x', '?index=-0', '?index=1e0', '?index=%201'])(
    '400 invalid index for %s, file byte-identical',
    async (query) => {
      await rejected('delete', `/claude-api-key${query}`, undefined, 400, {
        error: 'invalid index',
      });
    },
  );

  it.each(['', '?api-key=', '?name=sk-atSM...', '?match=sk-atSM...'])(
    'claude-api-key "%s": 400 missing api-key or index',
    async (query) => {
      await rejected('delete', `/claude-api-key${query}`, undefined, 400, {
        error: 'missing api-key or index',
      });
    },
  );

  it.each(['', '?name=', '?api-key=openrouter'])(
    'openai-compatibility "%s": 400 missing name or index',
    async (query) => {
      await rejected('delete', `/openai-compatibility${query}`, undefined, 400, {
        error: 'missing name or index',
      });
    },
  );

  it('405 with Allow for OPTIONS (POST appends, see below)', async () => {
    const res = await request(h.app).options(api('/claude-api-key')).set(auth);
    expect(res.status).toBe(405);
    expect(res.body).toEqual({ error: 'method not allowed' });
    expect(res.headers.allow).toBe('GET, HEAD, PUT, PATCH, POST, DELETE');
  });
});

describe('POST appends one item (beyond the contract)', () => {
  it('appends after the last item, keeping every other line', async () => {
    const before = h.read();
    const res = await send(h.app, 'post', '/claude-api-key', {
      'api-key': 'sk-new',
      'base-url': 'https://api.example',
    });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { status: 'ok' } });
    const after = h.read();
    const added = '  - api-key: "sk-new"\n    base-url: "https://api.example"\n';
    expect(after).toBe(before.replace(CLAUDE_2, `${CLAUDE_2}${added}`));
    expect((h.onDisk()['claude-api-key'] as unknown[]).at(-1)).toEqual({
      'api-key': 'sk-new',
      'base-url': 'https://api.example',
    });
  });

  it('creates the list when absent', async () => {
    await reset(MINIMAL);
    expect(
      (
        await send(h.app, 'post', '/openai-compatibility', {
          name: 'p',
          'base-url': 'https://p.example/v1',
        })
      ).status,
    ).toBe(200);
    expect(h.onDisk()['openai-compatibility']).toEqual([
      { name: 'p', 'base-url': 'https://p.example/v1' },
    ]);
  });

  it('loses none of 20 concurrent appends (where read-then-PUT would)', async () => {
    await reset(MINIMAL);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        send(h.app, 'post', '/claude-api-key', { 'api-key': `sk-${i}` }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    const keys = (h.onDisk()['claude-api-key'] as { 'api-key': string }[])
      .map((k) => k['api-key'])
      .sort();
    expect(keys).toEqual(Array.from({ length: 20 }, (_, i) => `sk-${i}`).sort());
  });

  it.each([
    ['an invalid item', { 'base-url': 'https://x.example' }, 400],
    ['an array', [{ 'api-key': 'k' }], 400],
  ])('rejects %s with 400 invalid body, file untouched', async (_name, body, status) => {
    const before = h.read();
    const res = await send(h.app, 'post', '/claude-api-key', body);
    expect(res.status).toBe(status);
    expect(res.body.error).toBe('invalid body');
    expect(res.body.details).toBeDefined();
    expect(h.read()).toBe(before);
  });

  it('409 config conflict when the key holds something that is not a list, file untouched', async () => {
    await reset(`${MINIMAL}claude-api-key: oops\n`);
    await (async () => {
      const before = h.read();
      const res = await send(h.app, 'post', '/claude-api-key', { 'api-key': 'k' });
      expect({ status: res.status, body: res.body }).toEqual({
        status: 409,
        body: {
          error: 'config conflict',
          details: '"claude-api-key" in the config file is not a list',
        },
      });
      expect(h.read()).toBe(before);
    })();
  });
});

describe('comments of a three-item list', () => {
  const THREE = [
    '# Claude API keys',
    'claude-api-key:',
    '  - api-key: "sk-one"   # personal',
    '    base-url: "https://one.example" # custom endpoint',
    '  # second account',
    '  - api-key: "sk-two"   # work',
    '    base-url: "https://two.example"',
    '  # third account, official endpoint',
    '  - api-key: "sk-three" # spare',
    '',
  ].join('\n');
  const text = fixtureWith().replace(
    `# Claude API keys\nclaude-api-key:\n${CLAUDE_1}${CLAUDE_2}`,
    THREE,
  );

  beforeEach(() => reset(text));

  it('PATCH of item 2 keeps the comments on items 1 and 3 (exact lines)', async () => {
    expect(text).toContain(THREE);
    expect(
      (
        await send(h.app, 'patch', '/claude-api-key', {
          index: 1,
          value: { 'api-key': 'sk-two-b', 'base-url': 'https://two.example' },
        })
      ).status,
    ).toBe(200);
    expect(h.read()).toBe(
      text.replace('  - api-key: "sk-two"   # work', '  - api-key: "sk-two-b" # work'),
    );
    expect(h.read()).toContain(
      [
        'claude-api-key:',
        '  - api-key: "sk-one"   # personal',
        '    base-url: "https://one.example" # custom endpoint',
        '  # second account',
        '  - api-key: "sk-two-b" # work',
        '    base-url: "https://two.example"',
        '  # third account, official endpoint',
        '  - api-key: "sk-three" # spare',
      ].join('\n'),
    );
  });

  it('DELETE of item 2 keeps items 1 and 3 with their comments', async () => {
    expect((await send(h.app, 'delete', '/claude-api-key?api-key=sk-two')).status).toBe(200);
    expect(h.read()).toBe(
      text.replace(
        '  # second account\n  - api-key: "sk-two"   # work\n    base-url: "https://two.example"\n',
        '',
      ),
    );
  });
});

describe('odd files', () => {
  it('a non-list value: PATCH and DELETE are 409 config conflict, file untouched', async () => {
    await reset(`${MINIMAL}claude-api-key: sk-single\n`);
    const conflict = {
      error: 'config conflict',
      details: '"claude-api-key" in the config file is not a list',
    };
    await rejected(
      'patch',
      '/claude-api-key',
      { index: 0, value: { 'api-key': 'k' } },
      409,
      conflict,
    );
    await rejected('delete', '/claude-api-key?api-key=sk-single', undefined, 409, conflict);
    expect(await get('/claude-api-key')).toEqual({ 'claude-api-key': [] });
  });

  it('a hand-written item that is not a mapping is returned as is and can be replaced by PATCH', async () => {
    await reset(`${MINIMAL}claude-api-key:\n  - sk-bare\n`);
    expect(await get('/claude-api-key')).toEqual({ 'claude-api-key': ['sk-bare'] });
    expect(
      (await send(h.app, 'patch', '/claude-api-key', { index: 0, value: { 'api-key': 'sk-bare' } }))
        .status,
    ).toBe(200);
    expect(h.read()).toBe(`${MINIMAL}claude-api-key:\n  - api-key: sk-bare\n`);
  });
});

describe('query details', () => {
  it('a repeated match parameter is 400 invalid query, file byte-identical', async () => {
    await rejected('delete', '/claude-api-key?api-key=a&api-key=b', undefined, 400, {
      error: 'invalid query',
    });
  });

  it('a match field a person wrote as a number matches its digits', async () => {
    await reset(`${MINIMAL}claude-api-key:\n  - api-key: 12345\n  - api-key: k\n`);
    expect((await send(h.app, 'delete', '/claude-api-key?api-key=12345')).status).toBe(200);
    expect(h.read()).toBe(`${MINIMAL}claude-api-key:\n  - api-key: k\n`);
  });
});
