import bcrypt from 'bcrypt';
import type { Server } from 'node:http';
import request from 'supertest';
import { MAX_CONCURRENT_BCRYPT } from '../lib/config/secret';
import { lockoutKey } from '../lib/http/access';
import {
  createManagementRouter,
  ManagementError,
  MemoryLockoutStore,
  type LockoutRecord,
  type LockoutStore,
} from '../lib';
import { api, auth, FIXTURE, fixtureWith, harness, KEY, KEY_HASH, type Harness } from './helpers';

/** Issue 11, items 1, 3-6 and 10: what an attacker found in access control. Real bcrypt, real HTTP. */
jest.setTimeout(60_000);

let h: Harness | undefined;
let server: Server | undefined;
afterEach(async () => {
  jest.restoreAllMocks();
  if (server) await new Promise((resolve) => server!.close(resolve));
  server = undefined;
  await h?.close();
  h = undefined;
});

/** Counts real bcrypt compares (the real function runs) and the most running at once. */
function countCompares(): { calls: number; max: number } {
  const seen = { calls: 0, max: 0 };
  let active = 0;
  const real = bcrypt.compare.bind(bcrypt) as (data: string, hash: string) => Promise<boolean>;
  jest.spyOn(bcrypt, 'compare').mockImplementation((async (data: string, hash: string) => {
    seen.calls++;
    seen.max = Math.max(seen.max, ++active);
    try {
      return await real(data, hash);
    } finally {
      active--;
    }
  }) as never);
  return seen;
}

const remoteFixture = fixtureWith().replace('allow-remote: false', 'allow-remote: true');
const from = (app: Harness['app'] | Server, ip: string, key?: string) => {
  const req = request(app).get(api('/debug')).set('X-Forwarded-For', ip);
  return key === undefined ? req : req.set('Authorization', `Bearer ${key}`);
};

describe('item 1: parallel guesses', () => {
  it('60 simultaneous wrong keys from one address: at most 5 bcrypt compares, >= 55 answers 429, then the right key is refused', async () => {
    // The cost real keys have (10): a compare takes long enough for the burst to overlap it.
    h = harness(fixtureWith(bcrypt.hashSync(KEY, 10)));
    server = h.app.listen(0, '127.0.0.1');
    const seen = countCompares();
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        request(server!).get(api('/debug')).set('Authorization', `Bearer wrong-${i}`),
      ),
    );
    const statuses = answers.map((r) => r.status);
    expect(seen.calls).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(55);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    for (const r of answers)
      expect(r.body).toEqual(
        r.status === 429
          ? { error: 'too many failed attempts' }
          : { error: 'invalid management key' },
      );
    const right = await request(server).get(api('/debug')).set(auth);
    expect(right.status).toBe(429);
    expect(right.body).toEqual({ error: 'too many failed attempts' });
  });

  it(`bcrypt compares run at most ${MAX_CONCURRENT_BCRYPT} at a time, whatever the number of addresses`, async () => {
    h = harness(remoteFixture);
    h.app.set('trust proxy', true);
    server = h.app.listen(0, '127.0.0.1');
    const seen = countCompares();
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => from(server!, `198.51.100.${i + 1}`, `wrong-${i}`)),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(24).fill(401));
    expect(seen.calls).toBe(24);
    expect(seen.max).toBeLessThanOrEqual(MAX_CONCURRENT_BCRYPT);
    expect(MAX_CONCURRENT_BCRYPT).toBeGreaterThanOrEqual(1);
  });

  it('20 parallel first requests with the right key are one guess: all 200, one bcrypt compare', async () => {
    h = harness(fixtureWith(bcrypt.hashSync(KEY, 10)));
    server = h.app.listen(0, '127.0.0.1');
    const seen = countCompares();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => request(server!).get(api('/debug')).set(auth)),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(seen.calls).toBe(1);
  });

  it('a wrong key then the right one still works (the arrival count is reset by a success)', async () => {
    h = harness();
    for (let i = 0; i < 4; i++)
      expect(
        (await request(h.app).get(api('/debug')).set('Authorization', 'Bearer nope')).status,
      ).toBe(401);
    expect((await request(h.app).get(api('/debug')).set(auth)).status).toBe(200);
    for (let i = 0; i < 4; i++)
      expect(
        (await request(h.app).get(api('/debug')).set('Authorization', 'Bearer nope')).status,
      ).toBe(401);
    expect((await request(h.app).get(api('/debug')).set(auth)).status).toBe(200);
  });
});

describe('item 1 with an asynchronous shared store', () => {
  /** A shared store whose increment is atomic (a Redis INCR), answering after a turn of the event loop. */
  class AtomicAsyncStore implements LockoutStore {
    private readonly memory = new MemoryLockoutStore();
    init(settings: { readonly windowMs: number }): void {
      this.memory.init(settings);
    }
    async get(key: string): Promise<LockoutRecord | undefined> {
      await new Promise((r) => setImmediate(r));
      return this.memory.get(key);
    }
    increment(key: string): Promise<LockoutRecord> {
      const record = this.memory.increment(key);
      return new Promise((r) => setImmediate(() => r(record)));
    }
    async reset(key: string): Promise<void> {
      await new Promise((r) => setImmediate(r));
      this.memory.reset(key);
    }
  }

  it('30 simultaneous wrong keys: at most maxAttempts are checked (401), the rest answer 429, even when the store answers late', async () => {
    h = harness(fixtureWith(bcrypt.hashSync(KEY, 10)), {
      lockoutStore: new AtomicAsyncStore(),
      maxAttempts: 3,
    });
    server = h.app.listen(0, '127.0.0.1');
    const seen = countCompares();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        request(server!).get(api('/debug')).set('Authorization', `Bearer wrong-${i}`),
      ),
    );
    expect(seen.calls).toBeLessThanOrEqual(3);
    expect(answers.filter((r) => r.status === 401).length).toBeLessThanOrEqual(3);
    for (const r of answers)
      expect(r.body).toEqual(
        r.status === 429
          ? { error: 'too many failed attempts' }
          : { error: 'invalid management key' },
      );
    expect(answers.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(27);
    const right = await request(server).get(api('/debug')).set(auth);
    expect(right.status).toBe(429);
    expect(right.body).toEqual({ error: 'too many failed attempts' });
  });

  it('a store whose get() lags behind (it never sees a record): the count increment returns still locks, and then even the right key is 429', async () => {
    /** The worst replica of a shared store: reads are always stale, only the atomic increment is current. */
    class LaggingStore extends AtomicAsyncStore {
      override async get(): Promise<LockoutRecord | undefined> {
        await new Promise((r) => setImmediate(r));
        return undefined;
      }
    }
    h = harness(fixtureWith(bcrypt.hashSync(KEY, 4)), {
      lockoutStore: new LaggingStore(),
      maxAttempts: 3,
    });
    const seen = countCompares();
    const answers: [number, unknown, boolean][] = [];
    for (let i = 0; i < 6; i++) {
      const r = await request(h.app).get(api('/debug')).set('Authorization', `Bearer wrong-${i}`);
      answers.push([r.status, r.body, r.headers['retry-after'] !== undefined]);
    }
    const wrong: [number, unknown, boolean] = [401, { error: 'invalid management key' }, false];
    const locked: [number, unknown, boolean] = [429, { error: 'too many failed attempts' }, true];
    expect(answers).toEqual([wrong, wrong, wrong, locked, locked, locked]);
    expect(seen.calls).toBe(3); // the guesses over the limit never reach bcrypt
    const right = await request(h.app).get(api('/debug')).set(auth);
    expect([right.status, right.body]).toEqual([429, { error: 'too many failed attempts' }]);
  });
});

describe('item 3: an empty Bearer is no key', () => {
  it.each([['Bearer '], ['Bearer'], ['bearer    '], ['BEARER\t']])(
    '%j is 401 missing management key and never counted',
    async (value) => {
      h = harness();
      for (let i = 0; i < 8; i++) {
        const res = await request(h.app).get(api('/debug')).set('Authorization', value);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: 'missing management key' });
      }
      expect((await request(h.app).get(api('/debug')).set(auth)).status).toBe(200);
    },
  );

  it('an empty Bearer falls through to X-Management-Key', async () => {
    h = harness();
    const res = await request(h.app)
      .get(api('/debug'))
      .set('Authorization', 'Bearer ')
      .set('X-Management-Key', KEY);
    expect(res.status).toBe(200);
  });
});

describe('item 4: bcrypt reads 72 bytes', () => {
  it('a configured plaintext key over 72 bytes (UTF-8) is refused with a logged error; the API stays disabled', async () => {
    const long = `${'L'.repeat(72)}-the-rest`;
    const logs: string[] = [];
    h = harness(fixtureWith(long), {
      logger: { warn: (m) => logs.push(m), error: (m) => logs.push(`error: ${m}`) },
    });
    await h.router.ready();
    h.app.use((_req, res) => {
      res.status(404).json({ host: true });
    });
    for (const key of [long, `${'L'.repeat(72)}WRONG`]) {
      const res = await request(h.app).get(api('/debug')).set('Authorization', `Bearer ${key}`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ host: true });
    }
    expect(h.read()).toBe(fixtureWith(long)); // never hashed (a hash would check 72 bytes only)
    expect(logs.some((m) => m.startsWith('error: ') && m.includes('72 bytes'))).toBe(true);
    expect(logs.join('\n')).not.toContain('LLLL');
  });

  it('counts bytes, not characters: 25 three-byte characters (75 bytes) are refused, 24 (72 bytes) work', async () => {
    const logs: string[] = [];
    h = harness(fixtureWith('€'.repeat(25)), { logger: { warn: (m) => logs.push(m) } });
    await h.router.ready();
    h.app.use((_req, res) => {
      res.status(404).json({ host: true });
    });
    expect(
      (
        await request(h.app)
          .get(api('/debug'))
          .set('Authorization', `Bearer ${Buffer.from('€'.repeat(25)).toString('latin1')}`)
      ).status,
    ).toBe(404);
    expect(logs.some((m) => m.includes('72 bytes'))).toBe(true);
    await h.close();
    h = harness(fixtureWith('€'.repeat(24)));
    await h.router.ready();
    expect(h.read()).not.toContain('€');
    expect(
      (
        await request(h.app)
          .get(api('/debug'))
          .set('Authorization', `Bearer ${Buffer.from('€'.repeat(24)).toString('latin1')}`)
      ).status,
    ).toBe(200);
  });

  it('a presented key over 72 bytes never matches a hash of its first 72 bytes', async () => {
    const key72 = 'L'.repeat(72);
    h = harness(fixtureWith(bcrypt.hashSync(key72, 4)));
    expect(
      (await request(h.app).get(api('/debug')).set('Authorization', `Bearer ${key72}`)).status,
    ).toBe(200);
    const res = await request(h.app)
      .get(api('/debug'))
      .set('Authorization', `Bearer ${key72}WRONG`);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid management key' });
  });
});

describe('item 5: header bytes are UTF-8', () => {
  const key = 'clé-schlüssel-鍵-🔑';
  /** What the wire carries: the key's UTF-8 bytes (Node's client writes a string's chars as Latin-1 bytes). */
  const wire = Buffer.from(key, 'utf8').toString('latin1');

  it.each([
    ['Authorization: Bearer', 'Authorization', `Bearer ${wire}`],
    ['X-Management-Key', 'X-Management-Key', wire],
  ])(
    'a non-ASCII key works as sent in %s, hashed or plaintext in memory',
    async (_n, header, value) => {
      h = harness(FIXTURE.replace('KEY_PLACEHOLDER', key));
      await h.router.ready();
      expect(h.read()).not.toContain(key);
      const res = await request(h.app).get(api('/debug')).set(header, value);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ debug: false });
      const wrong = await request(h.app).get(api('/debug')).set(header, value.replace('l', 'x'));
      expect(wrong.status).toBe(401);
    },
  );
});

describe('item 6: IPv6 guessers are counted by network', () => {
  it('rotating addresses inside one /56 is still one client; another /56 and IPv4 are separate', async () => {
    h = harness(remoteFixture);
    h.app.set('trust proxy', true);
    for (let i = 0; i < 5; i++)
      expect(
        (await from(h.app, `2001:db8:1:ab${i.toString(16).padStart(2, '0')}::${i + 1}`, 'wrong'))
          .status,
      ).toBe(401);
    const locked = await from(h.app, '2001:db8:1:abff:ffff:ffff:ffff:fffe', KEY);
    expect(locked.status).toBe(429);
    expect(locked.body).toEqual({ error: 'too many failed attempts' });
    expect((await from(h.app, '2001:db8:1:ac00::1', KEY)).status).toBe(200);
    expect((await from(h.app, '198.51.100.20', KEY)).status).toBe(200);
  });

  it('IPv4 and IPv4-mapped addresses count exactly (a mapped address is its IPv4 address)', async () => {
    h = harness(remoteFixture);
    h.app.set('trust proxy', true);
    for (let i = 0; i < 5; i++) await from(h.app, '::ffff:198.51.100.30', 'wrong');
    expect((await from(h.app, '198.51.100.30', KEY)).status).toBe(429);
    expect((await from(h.app, '198.51.100.31', KEY)).status).toBe(200);
    expect((await from(h.app, '::ffff:198.51.100.32', KEY)).status).toBe(200);
  });

  it('ipv6Subnet: 64 separates two /64s of one /56', async () => {
    h = harness(remoteFixture, { ipv6Subnet: 64 });
    h.app.set('trust proxy', true);
    for (let i = 0; i < 5; i++) await from(h.app, `2001:db8:1:ab01::${i + 1}`, 'wrong');
    expect((await from(h.app, '2001:db8:1:ab01:1:2:3:4', KEY)).status).toBe(429);
    expect((await from(h.app, '2001:db8:1:ab02::1', KEY)).status).toBe(200);
  });

  it.each([
    ['::1', 56, '0:0:0:0::/56'],
    ['2001:db8:1:abcd:1:2:3:4', 56, '2001:db8:1:ab00::/56'],
    ['2001:DB8:1:ABCD::', 64, '2001:db8:1:abcd::/64'],
    ['2001:db8::1', 128, '2001:db8:0:0:0:0:0:1/128'],
    ['fe80::1%eth0', 56, 'fe80:0:0:0::/56'],
    ['::ffff:198.51.100.7', 56, '198.51.100.7'],
    ['198.51.100.7', 56, '198.51.100.7'],
    ['64:ff9b::198.51.100.7', 128, '64:ff9b:0:0:0:0:c633:6407/128'],
    ['2001:db8:1:ab01:5:6:1.2.3.4', 56, '2001:db8:1:ab00::/56'], // a dotted tail without '::'
    ['::ffff:c633:6407', 56, '198.51.100.7'], // IPv4-mapped, written in hex
    ['::ff:c633:6407', 128, '0:0:0:0:0:ff:c633:6407/128'],
    ['::ff00:c633:6407', 128, '0:0:0:0:0:ff00:c633:6407/128'],
    ['1::ffff:c633:6407', 128, '1:0:0:0:0:ffff:c633:6407/128'],
    [undefined, 56, 'unknown'],
  ])('lockoutKey(%s, /%d) is %s', (ip, bits, expected) => {
    expect(lockoutKey(ip, bits)).toBe(expected);
  });

  it.each([[0], [31], [129], [56.5], ['56']])(
    'ipv6Subnet %j is refused at construction',
    (bits) => {
      expect(() =>
        createManagementRouter('/nonexistent.yaml', '/tmp/x', { ipv6Subnet: bits as number }),
      ).toThrow(ManagementError);
      expect(() =>
        createManagementRouter('/nonexistent.yaml', '/tmp/x', { ipv6Subnet: bits as number }),
      ).toThrow(/ipv6Subnet/);
    },
  );
});

describe('item 10: $2y$ hashes', () => {
  it('a $2y$ hash (htpasswd -B, PHP) verifies like $2b$; a wrong key is still 401', async () => {
    const y = KEY_HASH.replace(/^\$2[ab]\$/, '$2y$');
    expect(y.startsWith('$2y$')).toBe(true);
    h = harness(fixtureWith(y));
    await h.router.ready();
    expect(h.read()).toContain(y); // already a hash: left alone
    const res = await request(h.app).get(api('/debug')).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ debug: false });
    expect(
      (await request(h.app).get(api('/debug')).set('Authorization', 'Bearer nope')).status,
    ).toBe(401);
  });
});
