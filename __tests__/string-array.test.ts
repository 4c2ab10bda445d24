import request from 'supertest';
import { api, auth, fixtureWith, type Harness, harness, KEY_HASH, send } from './helpers';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(() => h.close());

const MINIMAL = `remote-management:\n  secret-key: "${KEY_HASH}"\n`;

/** Replace the config with `text` (a fresh router over it). */
async function reset(text: string): Promise<void> {
  await h.close();
  h = harness(text);
}

/** Send `body` (JSON) with `method`; `undefined` sends no body. */
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

const API_KEYS = '- "your-api-key-1"   # laptop\n- "your-api-key-2"   # CI\n';
const GEMINI = '  - "AIzaSy...01"\n  - "AIzaSy...02"\n';

describe.each([
  {
    path: '/api-keys',
    key: 'api-keys',
    initial: ['your-api-key-1', 'your-api-key-2'],
    block: API_KEYS,
  },
  {
    path: '/generative-language-api-key',
    key: 'generative-language-api-key',
    initial: ['AIzaSy...01', 'AIzaSy...02'],
    block: GEMINI,
  },
])('string array $path', ({ path, key, initial, block }) => {
  it('GET answers the list under its key', async () => {
    const res = await request(h.app).get(api(path)).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ [key]: initial });
  });

  it.each([
    ['absent', MINIMAL],
    ['null', `${MINIMAL}${key}:\n`],
    ['explicit null', `${MINIMAL}${key}: null\n`],
  ])('GET answers [] when the key is %s', async (_what, text) => {
    await reset(text);
    expect((await request(h.app).get(api(path)).set(auth)).body).toEqual({ [key]: [] });
  });

  it('PUT with a raw array replaces the list, trimmed, and touches nothing outside it', async () => {
    const before = h.read();
    const res = await send(h.app, 'put', path, ['  alpha ', 'beta\t']);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(h.onDisk()[key]).toEqual(['alpha', 'beta']);
    const indent = block.startsWith('  ') ? '  ' : '';
    expect(h.read()).toBe(before.replace(block, `${indent}- "alpha"\n${indent}- "beta"\n`));
    expect((await request(h.app).get(api(path)).set(auth)).body).toEqual({
      [key]: ['alpha', 'beta'],
    });
  });

  it('PUT {"items": [...]} replaces the list', async () => {
    expect((await send(h.app, 'put', path, { items: ['x', 'y', 'z'] })).status).toBe(200);
    expect(h.onDisk()[key]).toEqual(['x', 'y', 'z']);
  });

  it('PUT [] clears the list and keeps the comment above the key', async () => {
    const before = h.read();
    expect((await send(h.app, 'put', path, [])).body).toEqual({ status: 'ok' });
    expect(h.onDisk()[key]).toEqual([]);
    expect(h.read()).toBe(before.replace(`${key}:\n${block}`, `${key}: []\n`));
  });

  it('PUT creates the list when the key is absent', async () => {
    await reset(MINIMAL);
    expect((await send(h.app, 'put', path, ['a'])).status).toBe(200);
    expect(h.read()).toBe(`${MINIMAL}${key}:\n  - a\n`);
  });

  it('PATCH {index, value} replaces one item, trimmed', async () => {
    const res = await send(h.app, 'patch', path, { index: 1, value: ' replaced ' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(h.onDisk()[key]).toEqual([initial[0], 'replaced']);
  });

  it('PATCH {old, new} replaces the first equal item', async () => {
    expect((await send(h.app, 'patch', path, { old: initial[0], new: 'first' })).status).toBe(200);
    expect(h.onDisk()[key]).toEqual(['first', initial[1]]);
  });

  it('PATCH {old, new} appends when no item equals old', async () => {
    expect((await send(h.app, 'patch', path, { old: 'not-there', new: 'added' })).status).toBe(200);
    expect(h.onDisk()[key]).toEqual([...initial, 'added']);
  });

  it('PATCH with an index out of range: 404 item not found, file byte-identical', async () => {
    await rejected('patch', path, { index: 2, value: 'x' }, 404, { error: 'item not found' });
  });

  it('DELETE ?index= removes one item', async () => {
    const res = await send(h.app, 'delete', `${path}?index=0`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(h.onDisk()[key]).toEqual([initial[1]]);
  });

  it('DELETE ?value= removes the equal items', async () => {
    expect(
      (await send(h.app, 'delete', `${path}?value=${encodeURIComponent(initial[1] as string)}`))
        .status,
    ).toBe(200);
    expect(h.onDisk()[key]).toEqual([initial[0]]);
  });

  it('DELETE with an index out of range: 404 item not found, file byte-identical', async () => {
    await rejected('delete', `${path}?index=2`, undefined, 404, { error: 'item not found' });
  });

  it('405 with Allow for POST', async () => {
    const res = await send(h.app, 'post', path, ['a']);
    expect(res.status).toBe(405);
    expect(res.body).toEqual({ error: 'method not allowed' });
    expect(res.headers.allow).toBe('GET, HEAD, PUT, PATCH, DELETE');
  });
});

describe('string array PUT validation', () => {
  it.each<[string, unknown, unknown]>([
    ['an empty item', ['a', ''], [{ path: '/1', message: 'must be a non-empty string' }]],
    ['a blank item', ['  \t'], [{ path: '/0', message: 'must be a non-empty string' }]],
    ['a number', ['a', 5], [{ path: '/1', message: 'must be a non-empty string' }]],
    ['null', [null], [{ path: '/0', message: 'must be a non-empty string' }]],
    ['a nested array', [['a']], [{ path: '/0', message: 'must be a non-empty string' }]],
    ['items that is not an array', { items: 'a' }, 'expected an array or {"items": [...]}'],
    ['an object without items', { 'api-keys': ['a'] }, 'expected an array or {"items": [...]}'],
    ['a string', 'a', 'expected an array or {"items": [...]}'],
    ['null body', null, 'expected an array or {"items": [...]}'],
  ])('400 invalid body for %s, file byte-identical', async (_what, body, details) => {
    await rejected('put', '/api-keys', body, 400, { error: 'invalid body', details });
  });

  it('400 invalid body for malformed JSON, file byte-identical', async () => {
    const before = h.read();
    const res = await request(h.app)
      .put(api('/api-keys'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('["a",');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid body', details: 'malformed JSON' });
    expect(h.read()).toBe(before);
  });
});

describe('string array PATCH', () => {
  it.each<[string, unknown]>([
    ['an empty body', {}],
    ['index without value', { index: 0 }],
    ['value without index', { value: 'x' }],
    ['old without new', { old: 'your-api-key-1' }],
    ['new without old', { new: 'x' }],
    ['null index', { index: null, value: 'x' }],
    ['null new', { old: 'a', new: null }],
    ['unknown fields', { item: 'x' }],
  ])('400 missing fields for %s, file byte-identical', async (_what, body) => {
    await rejected('patch', '/api-keys', body, 400, { error: 'missing fields' });
  });

  it.each<[string, unknown, unknown]>([
    [
      'a negative index',
      { index: -1, value: 'x' },
      [{ path: '/index', message: 'must be a non-negative integer' }],
    ],
    [
      'a fractional index',
      { index: 0.5, value: 'x' },
      [{ path: '/index', message: 'must be a non-negative integer' }],
    ],
    [
      'a string index',
      { index: '0', value: 'x' },
      [{ path: '/index', message: 'must be a non-negative integer' }],
    ],
    [
      'an empty value',
      { index: 0, value: '' },
      [{ path: '/value', message: 'must be a non-empty string' }],
    ],
    [
      'a blank value',
      { index: 0, value: '   ' },
      [{ path: '/value', message: 'must be a non-empty string' }],
    ],
    [
      'a number value',
      { index: 0, value: 7 },
      [{ path: '/value', message: 'must be a non-empty string' }],
    ],
    [
      'a blank new',
      { old: 'a', new: ' ' },
      [{ path: '/new', message: 'must be a non-empty string' }],
    ],
    ['a number old', { old: 1, new: 'b' }, [{ path: '/old', message: 'must be a string' }]],
    ['an array body', [{ index: 0, value: 'x' }], 'expected a JSON object'],
  ])('400 invalid body for %s, file byte-identical', async (_what, body, details) => {
    await rejected('patch', '/api-keys', body, 400, { error: 'invalid body', details });
  });

  it('404 item not found for an index when the list is absent, file byte-identical', async () => {
    await reset(MINIMAL);
    await rejected('patch', '/api-keys', { index: 0, value: 'x' }, 404, {
      error: 'item not found',
    });
  });

  it('index wins when both forms are sent', async () => {
    expect(
      (
        await send(h.app, 'patch', '/api-keys', {
          index: 0,
          value: 'by-index',
          old: 'your-api-key-2',
          new: 'by-old',
        })
      ).status,
    ).toBe(200);
    expect(h.onDisk()['api-keys']).toEqual(['by-index', 'your-api-key-2']);
  });

  it('{old, new} replaces only the first equal item, comparing trimmed', async () => {
    await reset(`${MINIMAL}api-keys: [a, " b ", b]\n`);
    expect((await send(h.app, 'patch', '/api-keys', { old: ' b', new: 'c' })).status).toBe(200);
    expect(h.onDisk()['api-keys']).toEqual(['a', 'c', 'b']);
  });

  it('the append creates the list when it is absent', async () => {
    await reset(MINIMAL);
    expect((await send(h.app, 'patch', '/api-keys', { old: '', new: 'first' })).status).toBe(200);
    expect(h.read()).toBe(`${MINIMAL}api-keys:\n  - first\n`);
  });

  it('the append adds one line, quoted like its siblings, and keeps every comment', async () => {
    const before = h.read();
    expect((await send(h.app, 'patch', '/api-keys', { old: 'nope', new: 'k3' })).status).toBe(200);
    expect(h.read()).toBe(before.replace(API_KEYS, `${API_KEYS}- "k3"\n`));
  });

  it('replacing an item changes only its line and keeps its comment', async () => {
    const before = h.read();
    expect((await send(h.app, 'patch', '/api-keys', { index: 1, value: 'rotated' })).status).toBe(
      200,
    );
    expect(h.read()).toBe(before.replace('- "your-api-key-2"   # CI', '- "rotated" # CI'));
  });

  it('30 concurrent appends: none lost, the rest of the file untouched', async () => {
    const before = h.read();
    const values = Array.from({ length: 30 }, (_, i) => `concurrent-${i}`);
    const results = await Promise.all(
      values.map((v) => send(h.app, 'patch', '/api-keys', { old: `absent-${v}`, new: v })),
    );
    expect(results.map((r) => r.status)).toEqual(values.map(() => 200));
    const list = h.onDisk()['api-keys'] as string[];
    expect(list.slice(0, 2)).toEqual(['your-api-key-1', 'your-api-key-2']);
    expect([...list.slice(2)].sort()).toEqual([...values].sort());
    const added = list
      .slice(2)
      .map((v) => `- "${v}"\n`)
      .join('');
    expect(h.read()).toBe(before.replace(API_KEYS, API_KEYS + added));
  });
});

describe('string array DELETE', () => {
  it.each(['?index=-1', '?index=1.0', '?index=abc', '?index=', '?index=0x1', '?index=1&index=0'])(
    '400 invalid index for %s, file byte-identical',
    async (query) => {
      await rejected('delete', `/api-keys${query}`, undefined, 400, { error: 'invalid index' });
    },
  );

  it.each(['', '?value=', '?value=%20%20', '?other=1'])(
    '400 missing index or value for "%s", file byte-identical',
    async (query) => {
      await rejected('delete', `/api-keys${query}`, undefined, 400, {
        error: 'missing index or value',
      });
    },
  );

  it('?value= removes every item equal after trimming', async () => {
    await reset(`${MINIMAL}api-keys:\n  - " a "\n  - b\n  - a\n`);
    expect((await send(h.app, 'delete', '/api-keys?value=a%20')).body).toEqual({ status: 'ok' });
    expect(h.read()).toBe(`${MINIMAL}api-keys:\n  - b\n`);
  });

  it('?value= with no equal item is still 200, and the file is not rewritten', async () => {
    const before = h.read();
    const res = await send(h.app, 'delete', '/api-keys?value=nobody');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(h.read()).toBe(before);
  });

  it('?value= on an absent list is 200', async () => {
    await reset(MINIMAL);
    expect((await send(h.app, 'delete', '/api-keys?value=x')).status).toBe(200);
    expect(h.read()).toBe(MINIMAL);
  });

  it('?index= on an absent list is 404 item not found', async () => {
    await reset(MINIMAL);
    await rejected('delete', '/api-keys?index=0', undefined, 404, { error: 'item not found' });
  });

  it('index wins when both are sent', async () => {
    expect((await send(h.app, 'delete', '/api-keys?index=1&value=your-api-key-1')).status).toBe(
      200,
    );
    expect(h.onDisk()['api-keys']).toEqual(['your-api-key-1']);
  });

  it('deleting one item removes exactly its line', async () => {
    const before = h.read();
    expect((await send(h.app, 'delete', '/api-keys?index=0')).status).toBe(200);
    expect(h.read()).toBe(before.replace('- "your-api-key-1"   # laptop\n', ''));
  });
});

describe('string array comments and layout', () => {
  const THREE = [
    "# API keys for the proxy's own clients",
    'api-keys:',
    '  - "key-1"   # laptop',
    '  # the build server',
    '  - "key-2"   # CI',
    '  # the phone, rotated monthly',
    '  - "key-3"   # phone',
    '',
  ].join('\n');
  const text = fixtureWith().replace(
    `# API keys for the proxy's own clients\napi-keys:\n${API_KEYS}`,
    THREE,
  );

  beforeEach(() => reset(text));

  it('PATCH of item 2 keeps the comments on items 1 and 3 and every other line', async () => {
    expect((await send(h.app, 'patch', '/api-keys', { index: 1, value: 'key-2b' })).status).toBe(
      200,
    );
    expect(h.read()).toBe(text.replace('  - "key-2"   # CI', '  - "key-2b" # CI'));
    expect(h.read()).toContain(
      '  - "key-1"   # laptop\n  # the build server\n  - "key-2b" # CI\n  # the phone, rotated monthly\n  - "key-3"   # phone\n',
    );
  });

  it('PATCH {old, new} of item 2 does the same', async () => {
    expect((await send(h.app, 'patch', '/api-keys', { old: 'key-2', new: 'key-2c' })).status).toBe(
      200,
    );
    expect(h.read()).toBe(text.replace('  - "key-2"   # CI', '  - "key-2c" # CI'));
  });

  it('DELETE of item 2 removes it with its own comment and keeps items 1 and 3', async () => {
    expect((await send(h.app, 'delete', '/api-keys?index=1')).status).toBe(200);
    expect(h.read()).toBe(text.replace('  # the build server\n  - "key-2"   # CI\n', ''));
  });

  it('DELETE by value of items 1 and 3 (from the end) keeps item 2 and its comment', async () => {
    await reset(text.replace('"key-3"', '"key-1"'));
    expect((await send(h.app, 'delete', '/api-keys?value=key-1')).status).toBe(200);
    const list = h.onDisk()['api-keys'];
    expect(list).toEqual(['key-2']);
    expect(h.read()).toContain('api-keys:\n  # the build server\n  - "key-2"   # CI\n');
  });

  it('PUT keeps the nodes (and comments) of the items that stay', async () => {
    expect((await send(h.app, 'put', '/api-keys', ['key-3', 'key-1', 'key-4'])).status).toBe(200);
    expect(h.onDisk()['api-keys']).toEqual(['key-3', 'key-1', 'key-4']);
    const after = h.read();
    // Each kept item moves with its own comments; the removed item's comments go with it.
    expect(after).toContain(
      'api-keys:\n  # the phone, rotated monthly\n  - "key-3"   # phone\n  - "key-1" # laptop\n  - "key-4"\n\n',
    );
    expect(after).not.toContain('# CI');
    expect(after).not.toContain('# the build server');
    expect(after.slice(after.indexOf('# Gemini API keys'))).toBe(
      text.slice(text.indexOf('# Gemini API keys')),
    );
    expect(after.slice(0, after.indexOf('api-keys:'))).toBe(
      text.slice(0, text.indexOf('api-keys:')),
    );
  });

  it('a flow list stays a flow list', async () => {
    await reset(`${MINIMAL}api-keys: [ "a", b ]  # inline\n`);
    expect((await send(h.app, 'patch', '/api-keys', { old: 'x', new: 'c' })).status).toBe(200);
    expect(h.onDisk()['api-keys']).toEqual(['a', 'b', 'c']);
    expect(h.read()).toMatch(/^api-keys: \[ *"a", b, "c" *\] *# inline$/m);
  });
});

describe('string array odd files', () => {
  it('GET shows numbers and booleans a person wrote as strings', async () => {
    await reset(`${MINIMAL}api-keys:\n  - 12345\n  - true\n  - k\n`);
    expect((await request(h.app).get(api('/api-keys')).set(auth)).body).toEqual({
      'api-keys': ['12345', 'true', 'k'],
    });
  });

  it('a non-list value: GET is [], PATCH and DELETE are 409 config conflict (file untouched), PUT replaces it', async () => {
    const text = `${MINIMAL}api-keys: oops\n`;
    await reset(text);
    expect((await request(h.app).get(api('/api-keys')).set(auth)).body).toEqual({ 'api-keys': [] });
    const conflict = {
      error: 'config conflict',
      details: '"api-keys" in the config file is not a list',
    };
    await rejected('patch', '/api-keys', { old: 'a', new: 'b' }, 409, conflict);
    await rejected('delete', '/api-keys?index=0', undefined, 409, conflict);
    await rejected('delete', '/api-keys?value=oops', undefined, 409, conflict);
    expect((await send(h.app, 'put', '/api-keys', ['k'])).status).toBe(200);
    expect(h.onDisk()['api-keys']).toEqual(['k']);
  });

  it('the host sees the new list through getConfig() and onChange', async () => {
    const changed = h.nextChange();
    expect((await send(h.app, 'patch', '/api-keys', { old: 'x', new: 'hot' })).status).toBe(200);
    expect((await changed)['api-keys']).toEqual(['your-api-key-1', 'your-api-key-2', 'hot']);
    expect(h.router.getConfig()['api-keys']).toEqual(['your-api-key-1', 'your-api-key-2', 'hot']);
  });
});

describe('string array query details', () => {
  it('a repeated value parameter is 400 invalid query, file byte-identical', async () => {
    await rejected('delete', '/api-keys?value=a&value=b', undefined, 400, {
      error: 'invalid query',
    });
  });
});
