import bcrypt from 'bcrypt';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { parse } from 'yaml';
import { api, auth, FIXTURE, fixtureWith, harness, KEY, KEY_HASH, type Harness } from './helpers';

/** Issue 11, items 7-9 and 11-12: configs as real users and the Go server have them. */
jest.setTimeout(60_000);

let h: Harness | undefined;
const fifos: string[] = [];
afterEach(async () => {
  // A reader stuck on a FIFO (a regression) gets its end of file, so no thread outlives the test.
  for (const f of fifos.splice(0)) {
    try {
      closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader: nothing is stuck
    }
  }
  await h?.close();
  h = undefined;
});

const secretOf = (text: string): string =>
  (parse(text) as { 'remote-management': { 'secret-key': string } })['remote-management'][
    'secret-key'
  ];

describe('item 7: a plaintext key behind a YAML alias', () => {
  it('is hashed where its anchor stands; the alias stays and the key works', async () => {
    const text = `keys:\n  admin: &k "${KEY}" # the admin key\nremote-management:\n  allow-remote: false\n  secret-key: *k\ndebug: false\n`;
    h = harness(text);
    await h.router.ready();
    const now = h.read();
    expect(now).not.toContain(KEY);
    expect(now).toMatch(
      /^keys:\n {2}admin: &k "\$2b\$04\$[./A-Za-z0-9]{53}" # the admin key\nremote-management:\n {2}allow-remote: false\n {2}secret-key: \*k\ndebug: false\n$/,
    );
    expect(await bcrypt.compare(KEY, secretOf(now))).toBe(true);
    expect((await request(h.app).get(api('/debug')).set(auth)).status).toBe(200);
  });

  it('when other values use the anchor too, it is left alone with a warning at every start', async () => {
    const text = `shared: &k "${KEY}"\napi-keys: [*k]\nremote-management:\n  secret-key: *k\n`;
    for (let start = 0; start < 2; start++) {
      const logs: string[] = [];
      h = harness(text, { logger: { warn: (m) => logs.push(m) } });
      await h.router.ready();
      expect(h.read()).toBe(text);
      expect(logs.some((m) => m.includes('YAML alias'))).toBe(true);
      expect(logs.join('\n')).not.toContain(KEY);
      expect((await request(h.app).get(api('/debug')).set(auth)).status).toBe(200); // compared in memory
      await h.close();
      h = undefined;
    }
  });
});

describe('item 8: bytes that are not UTF-8 are never rewritten', () => {
  const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

  it('a write is refused with 500 not UTF-8 and the bytes stay; reads still work', async () => {
    h = harness();
    const bytes = latin1(`# Café\n${fixtureWith()}`);
    writeFileSync(h.configPath, bytes);
    await h.router.reload();
    const res = await request(h.app).put(api('/debug')).set(auth).send({ value: true });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'failed to save config: not UTF-8' });
    expect(readFileSync(h.configPath).equals(bytes)).toBe(true);
    expect((await request(h.app).get(api('/debug')).set(auth)).body).toEqual({ debug: false });
    // Made UTF-8 again: writes work.
    writeFileSync(h.configPath, `# Café\n${fixtureWith()}`);
    await h.router.reload();
    expect((await request(h.app).put(api('/debug')).set(auth).send({ value: true })).status).toBe(
      200,
    );
    expect(h.read().startsWith('# Café\n')).toBe(true);
  });

  it('the start-up hashing is skipped with a log line; the key works from memory', async () => {
    const bytes = latin1(`# Café\n${FIXTURE.replace('KEY_PLACEHOLDER', KEY)}`);
    const logs: string[] = [];
    h = harness(bytes, { logger: { warn: (m) => logs.push(m) } });
    await h.router.ready();
    expect(readFileSync(h.configPath).equals(bytes)).toBe(true);
    expect(logs.some((m) => m.includes('not UTF-8'))).toBe(true);
    expect(logs.join('\n')).not.toContain(KEY);
    expect((await request(h.app).get(api('/debug')).set(auth)).status).toBe(200);
  });
});

describe('item 9: a FIFO at the config path', () => {
  const mkfifo = (p: string): void => {
    execFileSync('mkfifo', ['-m', '600', p]);
    fifos.push(p);
  };

  it('is refused at construction with a ManagementError, without blocking', async () => {
    h = harness();
    const fifo = path.join(h.dir, 'fifo.yaml');
    mkfifo(fifo);
    // In a child with a deadline: a blocking open would hang this process for good.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `
      const { createManagementRouter } = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
      try { createManagementRouter(${JSON.stringify(fifo)}, '/tmp/unused-auths'); console.log('built'); }
      catch (e) { console.log(e.name, e.code, e.message.includes('not a regular file')); }
    `,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const deadline = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      expect(await exited).toBe(0);
    } finally {
      clearTimeout(deadline);
    }
    expect(out.trim()).toBe('ManagementError ERR_CONFIG_UNREADABLE true');
  });

  it('swapped in at runtime: writes fail at once with 500, reads keep the last config, a regular file put back works', async () => {
    h = harness();
    unlinkSync(h.configPath);
    mkfifo(h.configPath);
    await h.router.reload(); // must return, not wait for a writer
    const res = await request(h.app).put(api('/debug')).set(auth).send({ value: true });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'failed to save config: config file is not a regular file' });
    expect((await request(h.app).get(api('/debug')).set(auth)).body).toEqual({ debug: false });
    unlinkSync(h.configPath);
    writeFileSync(h.configPath, fixtureWith());
    const ok = await request(h.app).put(api('/debug')).set(auth).send({ value: true });
    expect(ok.status).toBe(200);
    expect(h.read()).toContain('debug: true');
  });
});

describe('items 10-12: values read as the Go server reads them', () => {
  it('secret-key: 123456 (unquoted number) is the key "123456", hashed like any other', async () => {
    h = harness(FIXTURE.replace('"KEY_PLACEHOLDER"', '0123456'));
    await h.router.ready();
    const secret = secretOf(h.read());
    expect(typeof secret).toBe('string');
    expect(await bcrypt.compare('0123456', secret)).toBe(true);
    expect(
      (await request(h.app).get(api('/debug')).set('Authorization', 'Bearer 0123456')).status,
    ).toBe(200);
  });

  it.each([
    ['yes', true],
    ['Yes', true],
    ['YES', true],
    ['on', true],
    ['ON', true],
    ['y', true],
    ['Y', true],
    ['true', true],
    ['True', true],
    ['no', false],
    ['No', false],
    ['off', false],
    ['OFF', false],
    ['n', false],
    ['N', false],
    ['false', false],
    ['FALSE', false],
  ])('debug: %s answers %s', async (word, value) => {
    h = harness(fixtureWith().replace('debug: false', `debug: ${word}`));
    const res = await request(h.app).get(api('/debug')).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ debug: value });
  });

  it('booleans in nested keys and strings: switch-project: on, proxy-url: 8080', async () => {
    h = harness(
      fixtureWith()
        .replace('switch-project: true', 'switch-project: off')
        .replace('proxy-url: ""', 'proxy-url: 8080'),
    );
    expect(
      (await request(h.app).get(api('/quota-exceeded/switch-project')).set(auth)).body,
    ).toEqual({ 'switch-project': false });
    expect((await request(h.app).get(api('/proxy-url')).set(auth)).body).toEqual({
      'proxy-url': '8080',
    });
  });

  it('string-array items keep their text (0123, 1.10, yes)', async () => {
    h = harness(
      `api-keys: [0123, 1.10, yes, "q"]\nremote-management:\n  secret-key: "${KEY_HASH}"\n`,
    );
    const res = await request(h.app).get(api('/api-keys')).set(auth);
    expect(res.body).toEqual({ 'api-keys': ['0123', '1.10', 'yes', 'q'] });
  });

  describe('object-list items are read with their schema types too', () => {
    // An item as people write it: unquoted numbers where the Go server expects strings, a YAML 1.1 boolean.
    const ITEM_CONFIG = `gemini-api-key:
  - api-key: 0123
    prefix: 2024
    headers:
      X-Team: 42
    excluded-models: [7, "m"]
    models:
      - name: 1.10
    disable-cooling: yes
    priority: 5
remote-management:
  secret-key: "${KEY_HASH}"
`;
    const TYPED = {
      'api-key': '0123',
      prefix: '2024',
      headers: { 'X-Team': '42' },
      'excluded-models': ['7', 'm'],
      models: [{ name: '1.10' }],
      'disable-cooling': true,
      priority: 5,
    };

    it('GET of the row and GET /config show the text as written and the boolean', async () => {
      h = harness(ITEM_CONFIG);
      const res = await request(h.app).get(api('/gemini-api-key')).set(auth);
      expect(res.status).toBe(200);
      expect(res.body['gemini-api-key']).toHaveLength(1);
      expect(res.body['gemini-api-key'][0]).toMatchObject(TYPED);
      const whole = await request(h.app).get(api('/config')).set(auth);
      expect(whole.body['gemini-api-key'][0]).toMatchObject(TYPED);
    });

    it('PATCH of another field is accepted (the stored fields are valid as read) and leaves the other lines as written', async () => {
      h = harness(ITEM_CONFIG);
      const res = await request(h.app)
        .patch(api('/gemini-api-key'))
        .set(auth)
        .send({ index: 0, value: { priority: 6 } });
      expect({ status: res.status, body: res.body }).toEqual({
        status: 200,
        body: { status: 'ok' },
      });
      expect(h.read()).toBe(ITEM_CONFIG.replace('priority: 5', 'priority: 6'));
    });

    it('PUT /config.yaml accepts the same item (422 only for what the Go server refuses too)', async () => {
      h = harness(ITEM_CONFIG);
      const ok = await request(h.app)
        .put(api('/config.yaml'))
        .set(auth)
        .set('Content-Type', 'application/yaml')
        .send(ITEM_CONFIG.replace('priority: 5', 'priority: 9'));
      expect({ status: ok.status, body: ok.body }).toEqual({
        status: 200,
        body: { status: 'ok', ok: true, changed: ['config'] },
      });
      const bad = await request(h.app)
        .put(api('/config.yaml'))
        .set(auth)
        .set('Content-Type', 'application/yaml')
        .send(ITEM_CONFIG.replace('priority: 5', 'priority: [1]'));
      expect(bad.status).toBe(422);
      expect(bad.body).toMatchObject({ error: 'invalid_config' });
      expect(h.read()).toBe(ITEM_CONFIG.replace('priority: 5', 'priority: 9'));
    });
  });

  it('allow-remote: yes lets a remote client in', async () => {
    h = harness(fixtureWith().replace('allow-remote: false', 'allow-remote: yes'));
    h.app.set('trust proxy', true);
    const res = await request(h.app)
      .get(api('/debug'))
      .set(auth)
      .set('X-Forwarded-For', '203.0.113.9');
    expect(res.status).toBe(200);
  });

  it('<< merge keys apply when reading', async () => {
    h = harness(
      `defaults: &d\n  debug: true\n  request-retry: 7\n<<: *d\nremote-management:\n  secret-key: "${KEY_HASH}"\n`,
    );
    expect((await request(h.app).get(api('/debug')).set(auth)).body).toEqual({ debug: true });
    expect((await request(h.app).get(api('/request-retry')).set(auth)).body).toEqual({
      'request-retry': 7,
    });
    expect(h.router.getConfig().debug).toBe(true);
  });

  it('a value that cannot mean the documented type answers the zero value, logged once', async () => {
    const logs: string[] = [];
    h = harness(
      fixtureWith()
        .replace('debug: false', 'debug: maybe')
        .replace('request-retry: 3', 'request-retry: "three"'),
      { logger: { warn: (m) => logs.push(m) } },
    );
    for (let i = 0; i < 3; i++) {
      expect((await request(h.app).get(api('/debug')).set(auth)).body).toEqual({ debug: false });
      expect((await request(h.app).get(api('/request-retry')).set(auth)).body).toEqual({
        'request-retry': 0,
      });
    }
    expect(logs.filter((m) => m.includes('debug'))).toHaveLength(1);
    expect(logs.filter((m) => m.includes('request-retry'))).toHaveLength(1);
  });

  it('writes keep the user spelling where the value did not change', async () => {
    h = harness(
      fixtureWith()
        .replace('debug: false', 'debug: yes')
        .replace('proxy-url: ""', 'proxy-url: 8080'),
    );
    const before = h.read();
    expect((await request(h.app).put(api('/debug')).set(auth).send({ value: true })).status).toBe(
      200,
    );
    expect(
      (await request(h.app).put(api('/proxy-url')).set(auth).send({ value: '8080' })).status,
    ).toBe(400); // not a URL: refused anyway
    expect(h.read()).toBe(before);
    expect((await request(h.app).put(api('/debug')).set(auth).send({ value: false })).status).toBe(
      200,
    );
    const after = h.read();
    expect(after).toMatch(/^debug: false +# flip me$/m);
    const withoutDebug = (t: string): string => t.replace(/^debug:.*$/m, '');
    expect(withoutDebug(after)).toBe(withoutDebug(before));
  });
});
