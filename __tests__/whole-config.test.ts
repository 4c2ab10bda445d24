import bcrypt from 'bcrypt';
import { chmodSync, statSync } from 'node:fs';
import request from 'supertest';
import { parse } from 'yaml';
import { createManagementRouter, ManagementError } from '../lib';
import { api, auth, FIXTURE, fixtureWith, harness, KEY_HASH, type Harness } from './helpers';

/** Contract section 10.3 (whole-config endpoints) and 10.2 (X-CPA-* headers). */
let h: Harness;
afterEach(() => h?.close());

const YAML_TYPE = 'application/yaml; charset=utf-8';
const hiddenText = (): string => fixtureWith('<hidden>');

function putYaml(text: string | Buffer, headers: Record<string, string> = auth) {
  return request(h.app)
    .put(api('/config.yaml'))
    .set(headers)
    .set('Content-Type', 'application/yaml')
    .send(text);
}

/** Expect `status` and exactly `body`, the file byte-identical to what it was before. */
async function refused(text: string | Buffer, status: number, body: unknown): Promise<void> {
  const before = h.read();
  const res = await putYaml(text);
  expect({ status: res.status, body: res.body }).toEqual({ status, body });
  expect(h.read()).toBe(before);
}

const OK = { status: 'ok', ok: true, changed: ['config'] };

describe('GET /config', () => {
  it('is the top-level mapping as JSON: merges resolved, host and key settings left out, rows with their GET values', async () => {
    h = harness();
    const res = await request(h.app).get(api('/config')).set(auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.body as Record<string, unknown>;
    for (const gone of ['remote-management', 'port', 'auth-dir', 'host', 'home'])
      expect(body).not.toHaveProperty(gone);
    expect(res.text).not.toContain(KEY_HASH);
    expect(body.debug).toBe(false);
    expect(body['api-keys']).toEqual(['your-api-key-1', 'your-api-key-2']);
    // Object-list items exactly as stored: no base-url filled on the second claude key.
    expect(body['claude-api-key']).toEqual([
      { 'api-key': 'sk-atSM...', 'base-url': 'https://www.example.com' },
      { 'api-key': 'sk-atSM...2' },
    ]);
    // `<<` merged as the proxy reads it.
    expect(body.anchors).toEqual({ base: { timeout: 30 }, derived: { timeout: 30, extra: true } });
    expect(body['flow-list']).toEqual(['a', 'b', 'c']);
    // Absent scalar rows with their defaults, nested ones inside their parent; absent lists [].
    expect(body['ws-auth']).toBe(true);
    expect(body['error-logs-max-files']).toBe(10);
    expect(body['logs-max-total-size-mb']).toBe(0);
    expect(body.routing).toEqual({ strategy: 'round-robin' });
    expect(body['allow-localhost-unauthenticated']).toBe(false);
    expect(body['quota-exceeded']).toEqual({
      'switch-project': true,
      'switch-preview-model': true,
    });
  });

  it('hides the key aliases and relay credentials, shows .inf/.nan as null and a stored strategy by its canonical name', async () => {
    h = harness(
      `remote-management-key: "${KEY_HASH}"\nallow-remote-management: false\nhome: /root\nhost: 0.0.0.0\n` +
        'routing:\n  strategy: " RR "\n  other: 1\nlimit: .inf\nratio: .nan\n' +
        'codex:\n  live-media-relay:\n    ice-servers:\n      - urls: [stun:x]\n        username: u\n        credential: c\n',
    );
    const res = await request(h.app).get(api('/config')).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      routing: { strategy: 'round-robin', other: 1 },
      limit: null,
      ratio: null,
      codex: { 'live-media-relay': { 'ice-servers': [{ urls: ['stun:x'] }] } },
      'api-keys': [],
      'claude-api-key': [],
      'generative-language-api-key': [],
      'openai-compatibility': [],
    });
    for (const gone of ['remote-management-key', 'allow-remote-management', 'home', 'host'])
      expect(res.body).not.toHaveProperty(gone);
    expect(res.text).not.toContain(KEY_HASH);
  });

  it('never sends the key, even when the file reaches it through an alias elsewhere', async () => {
    h = harness(`k: &k "${KEY_HASH}"\nremote-management:\n  secret-key: *k\nplain: 1\n`);
    const res = await request(h.app).get(api('/config')).set(auth);
    expect(res.status).toBe(200);
    expect(res.body.k).toBe('<hidden>');
    expect(res.text).not.toContain(KEY_HASH);
  });

  it('follows an edit on disk', async () => {
    h = harness();
    await request(h.app).get(api('/config')).set(auth);
    h.write(h.read().replace('debug: false', 'debug: true'));
    await h.router.reload();
    const res = await request(h.app).get(api('/config')).set(auth);
    expect(res.body.debug).toBe(true);
  });

  it('answers 405 with Allow for other methods', async () => {
    h = harness();
    const res = await request(h.app).put(api('/config')).set(auth).send({});
    expect({ status: res.status, body: res.body, allow: res.headers.allow }).toEqual({
      status: 405,
      body: { error: 'method not allowed' },
      allow: 'GET, HEAD',
    });
  });
});

describe('GET /config.yaml', () => {
  it('is the file\'s bytes with the key\'s value replaced by "<hidden>", nothing else changed', async () => {
    h = harness();
    const res = await request(h.app)
      .get(api('/config.yaml'))
      .set(auth)
      .buffer(true)
      .parse((r, cb) => {
        let data = '';
        r.on('data', (c: Buffer) => (data += c.toString('utf8')));
        r.on('end', () => cb(null, data));
      });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(YAML_TYPE);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toBe(hiddenText());
    expect(res.body).not.toContain(KEY_HASH);
  });

  it('hides the alias key and the anchor a key alias points to', async () => {
    const text = `x: &k '${KEY_HASH}' # anchored\nremote-management-key: *k\nother: "${KEY_HASH.slice(0, 10)}"\n`;
    h = harness(text);
    const res = await request(h.app).get(api('/config.yaml')).set(auth);
    expect(res.status).toBe(200);
    expect(res.text).toBe(
      `x: &k "<hidden>" # anchored\nremote-management-key: *k\nother: "${KEY_HASH.slice(0, 10)}"\n`,
    );
  });

  it('500 read_failed while the file on disk is not valid YAML (nothing stale to save over)', async () => {
    h = harness();
    h.write('debug: [\n');
    await h.router.reload();
    const res = await request(h.app).get(api('/config.yaml')).set(auth);
    expect({ status: res.status, body: res.body }).toEqual({
      status: 500,
      body: { error: 'read_failed', message: 'Bad indentation at line 2, column 1' },
    });
  });
});

describe('PUT /config.yaml', () => {
  it('stores the upload, "<hidden>" swapped for the stored hash in place: a GET-edit-PUT round trip keeps every byte', async () => {
    h = harness();
    const before = h.read();
    const change = h.nextChange();
    const res = await putYaml(hiddenText());
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: OK });
    expect(h.read()).toBe(before);

    const edited = hiddenText()
      .replace('debug: false   # flip me', 'debug: true   # flipped in the panel')
      .replace('# Server port', '# the port (edited)');
    const res2 = await putYaml(edited);
    expect(res2.status).toBe(200);
    expect(h.read()).toBe(
      before
        .replace('debug: false   # flip me', 'debug: true   # flipped in the panel')
        .replace('# Server port', '# the port (edited)'),
    );
    expect((await change).debug).toBe(true);
    // The same key still works.
    const again = await request(h.app).get(api('/debug')).set(auth);
    expect(again.body).toEqual({ debug: true });
  });

  it('an upload without a key line keeps the stored key (its hash is set)', async () => {
    h = harness();
    const res = await putYaml('# from scratch\ndebug: true\n');
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: OK });
    expect(h.read()).toBe(
      `# from scratch\ndebug: true\nremote-management:\n  secret-key: ${KEY_HASH}\n`,
    );
    expect((await request(h.app).get(api('/debug')).set(auth)).body).toEqual({ debug: true });
  });

  it('an upload with the stored hash keeps it; other remote-management members may change', async () => {
    h = harness();
    const res = await putYaml(
      `remote-management:\n  allow-remote: true\n  secret-key: "${KEY_HASH}"\n`,
    );
    expect(res.status).toBe(200);
    expect(h.read()).toBe(
      `remote-management:\n  allow-remote: true\n  secret-key: "${KEY_HASH}"\n`,
    );
  });

  it('a new key rotates it: hashed before the write (never on disk in plaintext), the old key stops working at once', async () => {
    h = harness();
    const NEW = 'a-brand-new-management-key';
    const res = await putYaml(hiddenText().replace('"<hidden>"', `"${NEW}"`));
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: OK });
    const text = h.read();
    expect(text).not.toContain(NEW);
    const stored = (parse(text) as { 'remote-management': { 'secret-key': string } })[
      'remote-management'
    ]['secret-key'];
    expect(stored).toMatch(/^\$2[aby]\$04\$/);
    expect(await bcrypt.compare(NEW, stored)).toBe(true);
    // Only the key line changed.
    expect(text).toBe(FIXTURE.replace('KEY_PLACEHOLDER', stored));
    const old = await request(h.app).get(api('/debug')).set(auth);
    expect({ status: old.status, body: old.body }).toEqual({
      status: 401,
      body: { error: 'invalid management key' },
    });
    const fresh = await request(h.app).get(api('/debug')).set('Authorization', `Bearer ${NEW}`);
    expect(fresh.status).toBe(200);
  });

  it('a new plain (unquoted) key through the alias key is hashed too', async () => {
    h = harness(`remote-management-key: "${KEY_HASH}"\n`);
    const res = await putYaml('remote-management-key: other-key-123 # rotated\ndebug: true\n');
    expect(res.status).toBe(200);
    const text = h.read();
    expect(text).not.toContain('other-key-123');
    expect(text).toMatch(
      /^remote-management-key: "\$2b\$04\$[./A-Za-z0-9]{53}" # rotated\ndebug: true\n$/,
    );
    expect(
      (await request(h.app).get(api('/debug')).set('X-Management-Key', 'other-key-123')).status,
    ).toBe(200);
  });

  const EMPTIED = {
    error: 'invalid_config',
    message: 'the management key cannot be emptied through the API',
  };
  it.each([
    ['empty', 'remote-management:\n  secret-key: ""\n'],
    ['blank', 'remote-management:\n  secret-key: "   "\n'],
    ['null', 'remote-management:\n  secret-key:\n'],
    ['empty alias key', 'remote-management-key: ""\n'],
  ])('422 for an %s key: the API cannot be turned off through itself', async (_name, text) => {
    h = harness();
    await refused(text, 422, EMPTIED);
  });

  it('422 for a key that is not a string', async () => {
    h = harness();
    await refused('remote-management:\n  secret-key: [a]\n', 422, {
      error: 'invalid_config',
      message: 'remote-management.secret-key: must be a string',
    });
  });

  it.each([
    ['a syntax error', 'debug: [\n', 'Bad indentation at line 2, column 1'],
    [
      'a duplicate key',
      'debug: true\ndebug: false\n',
      'Map keys must be unique at line 2, column 1',
    ],
    ['a root list', '- a\n- b\n', 'config is not a YAML mapping'],
    ['a root scalar', 'just text\n', 'config is not a YAML mapping'],
    ['an empty text', '', 'the config is empty (it must be a YAML mapping)'],
    ['only comments', '# nothing\n', 'the config is empty (it must be a YAML mapping)'],
  ])('400 invalid_yaml for %s', async (_name, text, message) => {
    h = harness();
    await refused(text, 400, { error: 'invalid_yaml', message });
  });

  it('400 invalid_yaml for bytes that are not UTF-8', async () => {
    h = harness();
    await refused(Buffer.from([0x64, 0x65, 0x62, 0x75, 0x67, 0x3a, 0x20, 0xff, 0x0a]), 400, {
      error: 'invalid_yaml',
      message: 'not UTF-8',
    });
  });

  it.each([
    ['debug: maybe\n', 'debug: must be boolean'],
    ['request-retry: "3"\n', 'request-retry: must be integer'],
    ['request-retry: -1\n', 'request-retry: must be >= 0'],
    ['error-logs-max-files: 1.5\n', 'error-logs-max-files: must be integer'],
    [
      'routing:\n  strategy: fastest\n',
      'routing.strategy: must be one of round-robin, weighted-round-robin, fill-first',
    ],
    ['api-keys: a\n', 'api-keys: must be a list'],
    ['api-keys: [a, " "]\n', 'api-keys[1]: must be a non-empty string'],
    [
      'claude-api-key:\n  - api-key: k\n  - api-key: k2\n    base-url: ftp://x\n',
      'claude-api-key[1].base-url: must match pattern "^$|^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+(?:[/?#]\\S*)?$"',
    ],
    [
      'openai-compatibility:\n  - name: x\n',
      "openai-compatibility[0]: must have required property 'base-url'",
    ],
  ])('422 invalid_config with the YAML path of the first bad row: %j', async (text, message) => {
    h = harness();
    await refused(`remote-management:\n  secret-key: "<hidden>"\n${text}`, 422, {
      error: 'invalid_config',
      message,
    });
  });

  it('unknown keys and empty (null) rows pass', async () => {
    h = harness();
    const text = `remote-management:\n  secret-key: "<hidden>"\nmy-own: { a: [1, 2] }\napi-keys:\ndebug:\n`;
    const res = await putYaml(text);
    expect(res.status).toBe(200);
    expect(h.read()).toBe(text.replace('"<hidden>"', `"${KEY_HASH}"`));
  });

  it('keeps the file mode', async () => {
    h = harness();
    chmodSync(h.configPath, 0o640);
    expect((await putYaml(hiddenText().replace('debug: false', 'debug: true'))).status).toBe(200);
    expect(statSync(h.configPath).mode & 0o777).toBe(0o640);
  });

  it('413 for an upload over the body limit', async () => {
    h = harness(undefined, { bodyLimit: 1024 });
    await refused(`${hiddenText()}\n# ${'x'.repeat(2000)}\n`, 413, {
      error: 'request body too large',
    });
  });

  it('500 write_failed (the reason as message) when the file on disk is mid-edit', async () => {
    h = harness();
    h.write('debug: [\n');
    await refused(hiddenText(), 500, {
      error: 'write_failed',
      message: 'Bad indentation at line 2, column 1',
    });
  });

  it('needs the key like every route (and counts a wrong one)', async () => {
    h = harness();
    const res = await putYaml('debug: true\n', { Authorization: 'Bearer wrong' });
    expect({ status: res.status, body: res.body }).toEqual({
      status: 401,
      body: { error: 'invalid management key' },
    });
  });

  it('a host row cannot take the paths of the whole-config endpoints', () => {
    h = harness();
    const make = () =>
      createManagementRouter(h.configPath, h.authDir, {
        watch: false,
        resources: [{ kind: 'scalar', path: '/config', key: 'cfg', schema: { type: 'string' } }],
      });
    expect(make).toThrow(ManagementError);
    expect(make).toThrow(
      /ERR_INVALID_DESCRIPTOR: resource "\/config": path is taken by the whole-config endpoints/,
    );
  });
});

describe('X-CPA-* headers (section 10.2)', () => {
  const INFO = { version: '6.9.1', commit: 'abc1234', buildDate: '2026-11-27T10:00:00Z' };

  it('every answer carries the serverInfo headers and X-CPA-SUPPORT-PLUGIN: false, errors too', async () => {
    h = harness(undefined, { serverInfo: INFO });
    const answers = await Promise.all([
      request(h.app).get(api('/debug')).set(auth),
      request(h.app).get(api('/debug')),
      request(h.app).get(api('/nope')).set(auth),
      request(h.app).put(api('/debug')).set(auth).send({ value: 'x' }),
      request(h.app).get(api('/config.yaml')).set(auth),
    ]);
    expect(answers.map((r) => r.status)).toEqual([200, 401, 404, 400, 200]);
    for (const r of answers) {
      expect(r.headers['x-cpa-version']).toBe('6.9.1');
      expect(r.headers['x-cpa-commit']).toBe('abc1234');
      expect(r.headers['x-cpa-build-date']).toBe('2026-11-27T10:00:00Z');
      expect(r.headers['x-cpa-support-plugin']).toBe('false');
    }
  });

  it('unset ones are omitted; the plugin header is always sent', async () => {
    h = harness(undefined, { serverInfo: { version: '1.0.0' } });
    const r = await request(h.app).get(api('/debug')).set(auth);
    expect(r.headers['x-cpa-version']).toBe('1.0.0');
    expect(r.headers).not.toHaveProperty('x-cpa-commit');
    expect(r.headers).not.toHaveProperty('x-cpa-build-date');
    expect(r.headers['x-cpa-support-plugin']).toBe('false');
  });

  it('none while the API is invisible (no key configured)', async () => {
    h = harness('debug: true\n', { serverInfo: INFO });
    const r = await request(h.app).get(api('/debug')).set(auth);
    expect(r.status).toBe(404);
    expect(Object.keys(r.headers).filter((k) => k.startsWith('x-cpa-'))).toEqual([]);
  });

  it('cors exposes them to a cross-origin panel, with the headers exposed before', async () => {
    h = harness(undefined, { serverInfo: INFO, cors: true });
    const r = await request(h.app)
      .get(api('/debug'))
      .set(auth)
      .set('Origin', 'https://panel.example');
    expect(r.headers['access-control-expose-headers']).toBe(
      'X-CPA-VERSION, X-CPA-COMMIT, X-CPA-BUILD-DATE, X-CPA-SUPPORT-PLUGIN, Retry-After, Allow, Content-Disposition',
    );
  });

  it.each([
    [{ version: '' }],
    [{ commit: 'a\nb' }],
    [{ buildDate: 5 }],
    [{ version: ' 1' }],
    ['1.0'],
    [{ version: 'é' }],
  ])('refuses serverInfo %j at construction', (info) => {
    h = harness();
    const make = () =>
      createManagementRouter(h.configPath, h.authDir, { watch: false, serverInfo: info as never });
    expect(make).toThrow(ManagementError);
    expect(make).toThrow(/ERR_INVALID_OPTION: serverInfo/);
  });
});
