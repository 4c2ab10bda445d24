import request from 'supertest';
import { api, auth, harness, KEY_HASH, type Harness } from './helpers';

/**
 * A plain (unquoted) scalar read where a string is expected is its text as written, as the Go
 * server reads it: `0000000000000005332` stays that text (not "5332"), `0x1F` is not "31", `1e3`
 * is not "1000". One rule for every string-typed value: scalars, list items, object fields, map
 * rows, in their own GET and in `GET /config`.
 */
let h: Harness;
afterEach(() => h?.close());

const CONFIG =
  `remote-management:\n  secret-key: "${KEY_HASH}"\n` +
  'proxy-url: 0x1F\n' +
  'api-keys:\n  - 0000000000000005332\n  - 1e3\n' +
  'claude-api-key:\n  - api-key: 0x1F\n    prefix: 1e3\n' +
  'oauth-excluded-models:\n  codex:\n    - 0x1F\n    - 1e3\n' +
  'oauth-model-alias:\n  gemini:\n    - name: 0o17\n      alias: 1_000\n';

const get = async (path: string): Promise<Record<string, unknown>> => {
  const res = await request(h.app).get(api(path)).set(auth);
  expect(res.status).toBe(200);
  return res.body as Record<string, unknown>;
};

describe('unquoted numbers are read as their text wherever a string is expected', () => {
  it("in each row's GET", async () => {
    h = harness(CONFIG);
    expect(await get('/proxy-url')).toEqual({ 'proxy-url': '0x1F' });
    expect(await get('/api-keys')).toEqual({ 'api-keys': ['0000000000000005332', '1e3'] });
    expect((await get('/claude-api-key'))['claude-api-key']).toEqual([
      expect.objectContaining({ 'api-key': '0x1F', prefix: '1e3' }),
    ]);
    expect(await get('/oauth-excluded-models')).toEqual({
      'oauth-excluded-models': { codex: ['0x1f', '1e3'] },
    });
    expect(await get('/oauth-model-alias')).toEqual({
      'oauth-model-alias': { gemini: [{ name: '0o17', alias: '1_000' }] },
    });
  });

  it('in GET /config', async () => {
    h = harness(CONFIG);
    const body = await get('/config');
    expect(body['proxy-url']).toBe('0x1F');
    expect(body['api-keys']).toEqual(['0000000000000005332', '1e3']);
    expect(body['claude-api-key']).toEqual([{ 'api-key': '0x1F', prefix: '1e3' }]);
    expect(body['oauth-excluded-models']).toEqual({ codex: ['0x1F', '1e3'] });
    expect(body['oauth-model-alias']).toEqual({ gemini: [{ name: '0o17', alias: '1_000' }] });
  });

  it('a map row edited through PATCH keeps the other entries as their text', async () => {
    h = harness(CONFIG);
    const res = await request(h.app)
      .patch(api('/oauth-excluded-models'))
      .set(auth)
      .send({ provider: 'claude', models: ['m1'] });
    expect(res.status).toBe(200);
    expect(await get('/oauth-excluded-models')).toEqual({
      'oauth-excluded-models': { codex: ['0x1f', '1e3'], claude: ['m1'] },
    });
    // Stored quoted: the text a string needs to stay a string.
    expect(h.read()).toContain('oauth-excluded-models:\n  codex:\n    - "0x1f"\n    - "1e3"\n');
  });
});
