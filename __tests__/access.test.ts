import bcrypt from 'bcrypt';
import request from 'supertest';
import { isLocal } from '../lib/http/access';
import { buildLocalList } from '../lib/settings/local-addresses';
import { MemoryLockoutStore } from '../lib';
import { auth, FIXTURE, fixtureWith, harness, KEY, KEY_HASH, type Harness } from './helpers';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const hostNotFound = (x: Harness): void => {
  x.app.use((_req, res) => {
    res.status(404).type('text').send('host 404');
  });
};

describe('disabled API (no management key)', () => {
  it.each([
    ['empty secret-key', fixtureWith('')],
    ['no remote-management block at all', 'debug: true\n'],
    ['whitespace-only key', fixtureWith('   ')],
  ])('is invisible with %s: the host answers', async (_name, text) => {
    h = harness(text);
    hostNotFound(h);
    const res = await request(h.app).get('/v0/management/debug').set(auth);
    expect(res.status).toBe(404);
    expect(res.text).toBe('host 404');
    expect(res.headers['cache-control']).toBeUndefined();
  });

  it('is enabled without restart when a key is written to the file', async () => {
    h = harness(fixtureWith(''));
    hostNotFound(h);
    expect((await request(h.app).get('/v0/management/debug').set(auth)).text).toBe('host 404');
    const changed = h.nextChange();
    h.write(fixtureWith(KEY_HASH));
    await changed;
    const res = await request(h.app).get('/v0/management/debug').set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ debug: false });
  });
});

describe('key', () => {
  beforeEach(() => {
    h = harness();
  });
  it.each([
    ['Bearer', { Authorization: `Bearer ${KEY}` }],
    ['lower-case bearer', { Authorization: `bearer ${KEY}` }],
    ['BEARER with extra spaces', { Authorization: `BEARER    ${KEY}` }],
    ['bare Authorization', { Authorization: KEY }],
    ['X-Management-Key', { 'X-Management-Key': KEY }],
  ])('accepts the key in %s', async (_name, headers) => {
    const res = await request(h!.app).get('/v0/management/debug').set(headers);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ debug: false });
  });

  it.each([
    ['a word before Bearer', `xBearer ${KEY}`],
    ['Bearer glued to the key', `Bearer${KEY}`],
  ])(
    'reads the whole bare Authorization value as the key when it is not a Bearer scheme: %s is 401 invalid',
    async (_name, value) => {
      const res = await request(h!.app).get('/v0/management/debug').set('Authorization', value);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid management key' });
    },
  );

  it('401 missing management key', async () => {
    const res = await request(h!.app).get('/v0/management/debug');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'missing management key' });
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it('401 invalid management key', async () => {
    const res = await request(h!.app)
      .get('/v0/management/debug')
      .set('Authorization', 'Bearer nope');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid management key' });
  });

  it('never answers with the key or its hash, on any GET of the table', async () => {
    const paths = [...h!.router.resources.map((r) => r.path), '/nonexistent'];
    for (const p of paths) {
      const res = await request(h!.app).get(`/v0/management${p}`).set(auth);
      expect(res.status).toBe(p === '/nonexistent' ? 404 : 200);
      expect(res.text).not.toContain(KEY_HASH);
      expect(res.text).not.toContain(KEY);
    }
    expect(paths.length).toBeGreaterThan(8);
  });

  it('sets Cache-Control: no-store and nosniff on every answer', async () => {
    for (const res of [
      await request(h!.app).get('/v0/management/debug').set(auth),
      await request(h!.app).get('/v0/management/debug'),
      await request(h!.app).get('/v0/management/nope').set(auth),
    ]) {
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });
});

describe('remote check', () => {
  it('403 for a non-loopback client while allow-remote is false', async () => {
    h = harness();
    h.app.set('trust proxy', true);
    const res = await request(h.app)
      .get('/v0/management/debug')
      .set(auth)
      .set('X-Forwarded-For', '203.0.113.7');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'remote management disabled' });
  });

  it('lets a remote client with the key in when allow-remote is true', async () => {
    h = harness(fixtureWith().replace('allow-remote: false', 'allow-remote: true'));
    h.app.set('trust proxy', true);
    const res = await request(h.app)
      .get('/v0/management/debug')
      .set(auth)
      .set('X-Forwarded-For', '203.0.113.7');
    expect(res.status).toBe(200);
  });

  it('ignores X-Forwarded-For under the default trust proxy (a client cannot claim to be remote or local)', async () => {
    // allow-remote false, so the remote check runs: with trust proxy off req.ip is the socket
    // address (loopback here), whatever the header says.
    h = harness();
    const res = await request(h.app)
      .get('/v0/management/debug')
      .set(auth)
      .set('X-Forwarded-For', '203.0.113.7');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ debug: false });
  });

  it('a remote client behind a trusted proxy cannot claim loopback by sending its own X-Forwarded-For', async () => {
    h = harness();
    h.app.set('trust proxy', 'loopback'); // the proxy on this machine appends the real peer
    const res = await request(h.app)
      .get('/v0/management/debug')
      .set(auth)
      .set('X-Forwarded-For', '127.0.0.1, 203.0.113.7');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'remote management disabled' });
  });

  it.each([['1::ffff:127.0.0.1'], ['::ffff:127.0.0.1.5']])(
    '403 for a forwarded address that only ends like a mapped loopback address: %s',
    async (ip) => {
      h = harness();
      h.app.set('trust proxy', true);
      const res = await request(h.app)
        .get('/v0/management/debug')
        .set(auth)
        .set('X-Forwarded-For', ip);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: 'remote management disabled' });
    },
  );

  it('treats options.localAddresses as local (a Docker bridge)', async () => {
    h = harness(fixtureWith(), { localAddresses: ['172.17.0.0/16'] });
    h.app.set('trust proxy', true);
    expect(
      (
        await request(h.app)
          .get('/v0/management/debug')
          .set(auth)
          .set('X-Forwarded-For', '172.17.0.5')
      ).status,
    ).toBe(200);
    expect(
      (
        await request(h.app)
          .get('/v0/management/debug')
          .set(auth)
          .set('X-Forwarded-For', '172.18.0.5')
      ).status,
    ).toBe(403);
  });

  it('reads the documented aliases when the canonical keys are absent', async () => {
    const text = `allow-remote-management: true\nremote-management-key: "${KEY_HASH}"\ndebug: true\n`;
    h = harness(text);
    h.app.set('trust proxy', true);
    const res = await request(h.app)
      .get('/v0/management/debug')
      .set(auth)
      .set('X-Forwarded-For', '198.51.100.1');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ debug: true });
  });

  it.each([
    ['127.0.0.1', true],
    ['127.200.3.4', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['::FFFF:127.0.0.9', true],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['::2', false],
    ['fe80::1', false],
    ['', false],
    ['not-an-ip', false],
    // Only a whole IPv4-mapped address is its IPv4 address (req.ip can be any text a trusted proxy forwards).
    ['1::ffff:127.0.0.1', false],
    ['::ffff:127.0.0.1.5', false],
    ['::ffff:127.0.0.1x', false],
  ])('isLocal(%s) is %s', (ip, expected) => {
    expect(isLocal(buildLocalList([]), ip)).toBe(expected);
  });
});

describe('brute-force lock-out', () => {
  const remoteFixture = fixtureWith().replace('allow-remote: false', 'allow-remote: true');
  const from = (x: Harness, ip: string, key?: string) => {
    const req = request(x.app).get('/v0/management/debug').set('X-Forwarded-For', ip);
    return key === undefined ? req : req.set('Authorization', `Bearer ${key}`);
  };

  it('locks an IP out after 5 wrong keys, even for the right key, with Retry-After', async () => {
    h = harness(remoteFixture);
    h.app.set('trust proxy', true);
    for (let i = 0; i < 5; i++)
      expect((await from(h, '198.51.100.9', `wrong-${i}`)).status).toBe(401);
    const locked = await from(h, '198.51.100.9', KEY);
    expect(locked.status).toBe(429);
    expect(locked.body).toEqual({ error: 'too many failed attempts' });
    const retry = Number(locked.headers['retry-after']);
    expect(retry).toBeGreaterThan(1790);
    expect(retry).toBeLessThanOrEqual(1800);
    // Another IP is not affected.
    expect((await from(h, '198.51.100.10', KEY)).status).toBe(200);
  });

  it('does not count requests without a key', async () => {
    h = harness(remoteFixture);
    h.app.set('trust proxy', true);
    for (let i = 0; i < 10; i++) expect((await from(h, '198.51.100.11')).status).toBe(401);
    expect((await from(h, '198.51.100.11', KEY)).status).toBe(200);
  });

  it('resets the count on success', async () => {
    h = harness(remoteFixture);
    h.app.set('trust proxy', true);
    for (let i = 0; i < 4; i++) await from(h, '198.51.100.12', 'wrong');
    expect((await from(h, '198.51.100.12', KEY)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await from(h, '198.51.100.12', 'wrong')).status).toBe(401);
    expect((await from(h, '198.51.100.12', KEY)).status).toBe(200);
  });

  it('locks out a client at exactly maxAttempts failures even when its key was verified before (the fast path)', async () => {
    h = harness(remoteFixture);
    h.app.set('trust proxy', true);
    expect((await from(h, '198.51.100.14', KEY)).status).toBe(200); // the key is now remembered
    for (let i = 0; i < 5; i++)
      expect((await from(h, '198.51.100.14', `wrong-${i}`)).status).toBe(401);
    const locked = await from(h, '198.51.100.14', KEY);
    expect(locked.status).toBe(429);
    expect(locked.body).toEqual({ error: 'too many failed attempts' });
  });

  it('a success on the fast path (a key verified before) resets the count too', async () => {
    h = harness(remoteFixture);
    h.app.set('trust proxy', true);
    expect((await from(h, '198.51.100.15', KEY)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await from(h, '198.51.100.15', 'wrong')).status).toBe(401);
    expect((await from(h, '198.51.100.15', KEY)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await from(h, '198.51.100.15', 'wrong')).status).toBe(401);
    const res = await from(h, '198.51.100.15', KEY);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ debug: false });
  });

  it('honours maxAttempts, lockoutMs and a store with a fake clock', async () => {
    let now = 1_000_000;
    const store = new MemoryLockoutStore({ now: () => now });
    h = harness(remoteFixture, { maxAttempts: 2, lockoutMs: 60_000, lockoutStore: store });
    h.app.set('trust proxy', true);
    await from(h, '198.51.100.13', 'a');
    await from(h, '198.51.100.13', 'b');
    expect((await from(h, '198.51.100.13', KEY)).status).toBe(429);
    now += 59_000;
    expect((await from(h, '198.51.100.13', KEY)).status).toBe(429);
    now += 1_001;
    expect((await from(h, '198.51.100.13', KEY)).status).toBe(200);
    expect(store.size).toBe(0);
  });
});

describe('key hashing', () => {
  it('replaces a plaintext key by its bcrypt hash at start, keeping every other byte', async () => {
    h = harness(FIXTURE.replace('KEY_PLACEHOLDER', KEY));
    await h.router.ready();
    const text = h.read();
    const hash = /secret-key: "(\$2[aby]\$[^"]+)"/.exec(text)?.[1];
    expect(hash).toBeDefined();
    expect(await bcrypt.compare(KEY, hash!)).toBe(true);
    expect(text.replace(hash!, 'KEY_PLACEHOLDER')).toBe(FIXTURE);
    expect((await request(h.app).get('/v0/management/debug').set(auth)).status).toBe(200);
  });

  it('hashes a plaintext key that an edit on disk puts in', async () => {
    h = harness();
    const hashed = new Promise<void>((resolve) => {
      const off = h!.router.onChange((config) => {
        const v = (config['remote-management'] as { 'secret-key': string })['secret-key'];
        if (v.startsWith('$2b$') && v !== KEY_HASH) {
          off();
          resolve();
        }
      });
    });
    h.write(FIXTURE.replace('KEY_PLACEHOLDER', 'new-plain-key'));
    await hashed;
    expect(h.read()).not.toContain('new-plain-key');
    const res = await request(h.app)
      .get('/v0/management/debug')
      .set('Authorization', 'Bearer new-plain-key');
    expect(res.status).toBe(200);
  });

  it('hashes the alias key in place', async () => {
    h = harness(`# top\nremote-management-key: ${KEY} # the key\ndebug: false\n`);
    await h.router.ready();
    expect(h.read()).toMatch(
      /^# top\nremote-management-key: \$2b\$04\$[./A-Za-z0-9]{53} # the key\ndebug: false\n$/,
    );
  });
});
