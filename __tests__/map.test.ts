import request from 'supertest';
import { createManagementRouter, ManagementError, type MapDescriptor } from '../lib';
import { api, auth, type Harness, harness, KEY_HASH, send } from './helpers';

/** Contract section 10.6: the `map` kind and its three built-in rows. */
let h: Harness;
afterEach(() => h.close());

const MINIMAL = `remote-management:\n  secret-key: "${KEY_HASH}"\n`;

const get = async (p: string): Promise<unknown> => {
  const res = await request(h.app).get(api(p)).set(auth);
  expect(res.status).toBe(200);
  return res.body;
};
async function answer(
  method: 'put' | 'patch' | 'delete',
  p: string,
  body: unknown,
  status: number,
  expected: unknown,
  unchanged = status !== 200,
): Promise<void> {
  const before = h.read();
  const res = await send(h.app, method, p, body);
  expect({ status: res.status, body: res.body }).toEqual({ status, body: expected });
  if (unchanged) expect(h.read()).toBe(before);
}
const OK = { status: 'ok' };

describe('oauth-excluded-models', () => {
  it('GET is {} when absent (never null), in /config too', async () => {
    h = harness(MINIMAL);
    expect(await get('/oauth-excluded-models')).toEqual({ 'oauth-excluded-models': {} });
    const config = (await get('/config')) as Record<string, unknown>;
    expect(config['oauth-excluded-models']).toEqual({});
    expect(config['oauth-model-alias']).toEqual({});
  });

  it('GET normalises what a person wrote: names and models trimmed, lower-cased, blanks and repeats dropped, empty names gone', async () => {
    h = harness(
      `${MINIMAL}oauth-excluded-models:\n  " Codex ": [GPT-5, " gpt-5 ", "", o3]\n  codex: [other]\n  gemini: []\n  "  ": [x]\n`,
    );
    const before = h.read();
    expect(await get('/oauth-excluded-models')).toEqual({
      'oauth-excluded-models': { codex: ['gpt-5', 'o3'] },
    });
    expect(h.read()).toBe(before);
  });

  it('PUT replaces the map (raw or {"items": map}), normalised; an empty map removes the key', async () => {
    h = harness(
      `${MINIMAL}# excluded per provider\noauth-excluded-models:\n  codex: [gpt-5] # keep this one\n`,
    );
    await answer(
      'put',
      '/oauth-excluded-models',
      { codex: ['gpt-5'], Gemini: [' Gemini-2.5-Pro '] },
      200,
      OK,
    );
    expect(h.read()).toBe(
      `${MINIMAL}# excluded per provider\noauth-excluded-models:\n  codex: [gpt-5] # keep this one\n  gemini:\n    - gemini-2.5-pro\n`,
    );
    await answer('put', '/oauth-excluded-models', { items: { claude: ['c1'] } }, 200, OK);
    expect(h.onDisk()['oauth-excluded-models']).toEqual({ claude: ['c1'] });
    await answer('put', '/oauth-excluded-models', {}, 200, OK);
    expect(h.onDisk()).not.toHaveProperty('oauth-excluded-models');
  });

  it.each<[string, unknown, unknown]>([
    ['a list', ['gpt-5'], 'expected a map of names to lists, or {"items": {...}}'],
    ['a string list value', { codex: 'gpt-5' }, [{ path: '/codex', message: 'must be array' }]],
    ['a string', 'codex', 'expected a map of names to lists, or {"items": {...}}'],
  ])('PUT of %s is 400 invalid body, file untouched', async (_what, body, details) => {
    h = harness(MINIMAL);
    await answer('put', '/oauth-excluded-models', body, 400, { error: 'invalid body', details });
  });

  it('PATCH sets one provider; an empty list removes it; 404 when removing one that is absent', async () => {
    h = harness(MINIMAL);
    await answer(
      'patch',
      '/oauth-excluded-models',
      { provider: 'Codex', models: ['GPT-5', 'gpt-5'] },
      200,
      OK,
    );
    expect(h.onDisk()['oauth-excluded-models']).toEqual({ codex: ['gpt-5'] });
    await answer(
      'patch',
      '/oauth-excluded-models',
      { provider: 'gemini', models: ['g1'] },
      200,
      OK,
    );
    await answer('patch', '/oauth-excluded-models', { provider: 'codex', models: [] }, 200, OK);
    expect(h.onDisk()['oauth-excluded-models']).toEqual({ gemini: ['g1'] });
    await answer('patch', '/oauth-excluded-models', { provider: 'codex', models: [' '] }, 404, {
      error: 'provider not found',
    });
  });

  it.each<[string, unknown, number, unknown]>([
    [
      'no provider',
      { models: ['a'] },
      400,
      { error: 'invalid body', details: 'expected "provider" and "models"' },
    ],
    ['a blank provider', { provider: '  ', models: ['a'] }, 400, { error: 'invalid provider' }],
    [
      'a number provider',
      { provider: 5, models: ['a'] },
      400,
      { error: 'invalid body', details: [{ path: '/provider', message: 'must be string' }] },
    ],
    [
      'no models',
      { provider: 'codex' },
      400,
      { error: 'invalid body', details: [{ path: '/models', message: 'must be array' }] },
    ],
    [
      'an array body',
      [{ provider: 'codex' }],
      400,
      { error: 'invalid body', details: 'expected a JSON object' },
    ],
  ])('PATCH with %s', async (_what, body, status, expected) => {
    h = harness(MINIMAL);
    await answer('patch', '/oauth-excluded-models', body, status, expected);
  });

  it('DELETE ?provider= removes one; missing is 400, absent is 404', async () => {
    h = harness(`${MINIMAL}oauth-excluded-models:\n  codex: [gpt-5]\n  gemini: [g1]\n`);
    await answer('delete', '/oauth-excluded-models?provider=CODEX', undefined, 200, OK);
    expect(h.onDisk()['oauth-excluded-models']).toEqual({ gemini: ['g1'] });
    await answer('delete', '/oauth-excluded-models', undefined, 400, { error: 'missing provider' });
    await answer('delete', '/oauth-excluded-models?provider=%20', undefined, 400, {
      error: 'missing provider',
    });
    await answer('delete', '/oauth-excluded-models?provider=codex', undefined, 404, {
      error: 'provider not found',
    });
    await answer('delete', '/oauth-excluded-models?provider=gemini', undefined, 200, OK);
    expect(h.onDisk()).not.toHaveProperty('oauth-excluded-models');
  });
});

describe('oauth-model-alias', () => {
  it('drops aliases without name or alias, with name = alias, and repeated aliases (ignoring case; first kept)', async () => {
    h = harness(MINIMAL);
    const aliases = [
      { name: ' gemini-2.5-pro ', alias: 'pro', fork: true },
      { name: 'gemini-2.5-flash', alias: 'PRO' },
      { name: 'same', alias: 'Same' },
      { name: '', alias: 'x' },
      { alias: 'y' },
      { name: 'gemini-2.5-flash', alias: 'flash', 'display-name': 'Flash' },
    ];
    await answer('patch', '/oauth-model-alias', { channel: 'Gemini-CLI', aliases }, 200, OK);
    expect(await get('/oauth-model-alias')).toEqual({
      'oauth-model-alias': {
        'gemini-cli': [
          { name: 'gemini-2.5-pro', alias: 'pro', fork: true },
          { name: 'gemini-2.5-flash', alias: 'flash', 'display-name': 'Flash' },
        ],
      },
    });
  });

  it('takes provider for channel; the panel deletes a channel with an empty list; errors say channel', async () => {
    h = harness(MINIMAL);
    await answer(
      'patch',
      '/oauth-model-alias',
      { provider: 'codex', aliases: [{ name: 'gpt-5', alias: 'g5' }] },
      200,
      OK,
    );
    expect(h.onDisk()['oauth-model-alias']).toEqual({ codex: [{ name: 'gpt-5', alias: 'g5' }] });
    await answer('patch', '/oauth-model-alias', { channel: 'codex', aliases: [] }, 200, OK);
    expect(h.onDisk()).not.toHaveProperty('oauth-model-alias');
    await answer('patch', '/oauth-model-alias', { channel: 'codex', aliases: [] }, 404, {
      error: 'channel not found',
    });
    await answer('patch', '/oauth-model-alias', { channel: '', aliases: [] }, 400, {
      error: 'invalid channel',
    });
    await answer('delete', '/oauth-model-alias', undefined, 400, { error: 'missing channel' });
    await answer('delete', '/oauth-model-alias?provider=codex', undefined, 404, {
      error: 'channel not found',
    });
  });
});

describe('oauth-request-scoped-errors', () => {
  it('keeps valid rules only', async () => {
    h = harness(MINIMAL);
    const rules = [
      { status: 400, match: ['quota'], action: 'stop' },
      { status: 0, match: ['x'], action: 'stop' },
      { status: 429, match: [' '], action: 'continue' },
      { status: 429, 'match-regexr': ['rate.*'], action: 'continue-and-cooldown' },
      { status: 500, match: ['x'], action: 'explode' },
    ];
    await answer('patch', '/oauth-request-scoped-errors', { channel: 'claude', rules }, 200, OK);
    expect(h.onDisk()['oauth-request-scoped-errors']).toEqual({
      claude: [
        { status: 400, match: ['quota'], action: 'stop' },
        { status: 429, 'match-regexr': ['rate.*'], action: 'continue-and-cooldown' },
      ],
    });
  });
});

describe('map rows of a host', () => {
  const TEAMS: MapDescriptor = {
    kind: 'map',
    path: '/team-models',
    key: ['teams', 'models'],
    nameField: 'team',
    listField: 'models',
    itemSchema: { type: 'string', maxLength: 20 },
  };

  it('a host map row gets the same routes, under a nested key', async () => {
    h = harness(MINIMAL, { resources: [TEAMS] });
    await answer('patch', '/team-models', { team: 'Blue', models: ['a', 'b'.repeat(30)] }, 200, OK);
    expect(h.read()).toBe(`${MINIMAL}teams:\n  models:\n    blue:\n      - a\n`);
    expect(await get('/team-models')).toEqual({ models: { blue: ['a'] } });
    await answer('delete', '/team-models?team=blue', undefined, 200, OK);
    await answer('delete', '/team-models?team=blue', undefined, 404, { error: 'team not found' });
  });

  it.each<[string, Partial<MapDescriptor>, RegExp]>([
    ['a bad nameField', { nameField: '' }, /nameField must be a field name/],
    [
      'listField = nameField',
      { listField: 'team' },
      /listField must be a field name other than the name fields/,
    ],
    [
      'an array item schema',
      { itemSchema: { type: 'array' } },
      /itemSchema must be a string or object schema/,
    ],
    ['uniqueBy on strings', { uniqueBy: 'x' }, /uniqueBy must name a field of object items/],
  ])('refuses %s at construction', (_what, change, message) => {
    h = harness(MINIMAL);
    const make = () =>
      createManagementRouter(h.configPath, h.authDir, {
        watch: false,
        resources: [{ ...TEAMS, ...change } as MapDescriptor],
      });
    expect(make).toThrow(ManagementError);
    expect(make).toThrow(message);
  });

  it('PUT /config.yaml refuses a map row that is not a mapping of lists', async () => {
    h = harness(MINIMAL);
    const res = await request(h.app)
      .put(api('/config.yaml'))
      .set(auth)
      .send('oauth-excluded-models:\n  codex: gpt-5\n');
    expect({ status: res.status, body: res.body }).toEqual({
      status: 422,
      body: { error: 'invalid_config', message: 'oauth-excluded-models.codex: must be a list' },
    });
  });
});
