import request from 'supertest';
import { api, auth, harness, KEY_HASH, type Harness } from './helpers';

/**
 * A map row's entry names that would set or shadow an object's prototype (`__proto__`,
 * `constructor`, `prototype`, padded or in capitals too): `400`, nothing written, on every map
 * route; one already in the file is left out of every read.
 */
let h: Harness;
afterEach(() => h.close());

const CONFIG = `remote-management:\n  secret-key: "${KEY_HASH}"\noauth-excluded-models:\n  codex: [gpt-5]\n`;
const NAMES = [
  'constructor',
  'prototype',
  '__proto__',
  ' Constructor ',
  'PROTOTYPE',
  '  __PROTO__',
];
const ROWS = [
  { path: '/oauth-excluded-models', field: 'provider', list: 'models', item: 'm1' },
  {
    path: '/oauth-model-alias',
    field: 'channel',
    list: 'aliases',
    item: { name: 'a', alias: 'b' },
  },
  {
    path: '/oauth-request-scoped-errors',
    field: 'channel',
    list: 'rules',
    item: { status: 429, match: 'x', action: 'retry' },
  },
];

async function refused(req: () => request.Test, field: string): Promise<void> {
  const before = h.read();
  const res = await req();
  expect({ status: res.status, body: res.body }).toEqual({
    status: 400,
    body: { error: `invalid ${field}` },
  });
  expect(h.read()).toBe(before);
}

describe.each(ROWS)('$path', ({ path, field, list, item }) => {
  it.each(NAMES)('PATCH, PUT and DELETE naming %j: 400, nothing written', async (name) => {
    h = harness(CONFIG);
    await refused(
      () =>
        request(h.app)
          .patch(api(path))
          .set(auth)
          .send({ [field]: name, [list]: [item] }),
      field,
    );
    await refused(
      () =>
        request(h.app)
          .patch(api(path))
          .set(auth)
          .send({ [field]: name, [list]: [] }),
      field,
    );
    const put = (): request.Test =>
      request(h.app)
        .put(api(path))
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(
          `{${JSON.stringify(name)}: [${JSON.stringify(item)}], "other": [${JSON.stringify(item)}]}`,
        );
    if (['__proto__', 'constructor', 'prototype'].includes(name)) {
      // Exactly spelled, the JSON parser refuses the body key itself, as on every route.
      const before = h.read();
      const res = await put();
      expect({ status: res.status, body: res.body }).toEqual({
        status: 400,
        body: {
          error: 'invalid body',
          details: 'forbidden key (__proto__, constructor or prototype)',
        },
      });
      expect(h.read()).toBe(before);
    } else await refused(put, field);
    await refused(
      () =>
        request(h.app)
          .delete(api(path))
          .query({ [field]: name })
          .set(auth),
      field,
    );
  });
});

it('a prototype name already in the file is left out of every read, and writes keep it out', async () => {
  h = harness(`${CONFIG}  constructor: [m2]\n  " Prototype ": [m3]\n`);
  const res = await request(h.app).get(api('/oauth-excluded-models')).set(auth);
  expect(res.body).toEqual({ 'oauth-excluded-models': { codex: ['gpt-5'] } });
  expect(Object.getPrototypeOf(res.body['oauth-excluded-models'])).toBe(Object.prototype);
  const patch = await request(h.app)
    .patch(api('/oauth-excluded-models'))
    .set(auth)
    .send({ provider: 'claude', models: ['x'] });
  expect(patch.status).toBe(200);
  expect((await request(h.app).get(api('/oauth-excluded-models')).set(auth)).body).toEqual({
    'oauth-excluded-models': { codex: ['gpt-5'], claude: ['x'] },
  });
});
