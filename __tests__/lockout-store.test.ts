import request from 'supertest';
import {
  createManagementRouter,
  ManagementError,
  MemoryLockoutStore,
  type LockoutRecord,
  type LockoutStore,
} from '../lib';
import { fixtureWith, harness, KEY, type Harness } from './helpers';

/**
 * The LockoutStore interface, driven through the router with a fake clock (only `Date` is faked,
 * so the router's Retry-After and the stores agree), by a custom asynchronous store that keeps
 * its records the way a shared store (Redis, a database) would: serialised, behind a promise.
 */
class SharedAsyncStore implements LockoutStore {
  readonly calls: string[] = [];
  windowMs = 0;
  private readonly data = new Map<string, string>();

  init(settings: { readonly windowMs: number }): void {
    this.calls.push(`init ${settings.windowMs}`);
    this.windowMs = settings.windowMs;
  }

  async get(key: string): Promise<LockoutRecord | undefined> {
    await new Promise((r) => setImmediate(r));
    this.calls.push(`get ${key}`);
    const raw = this.data.get(key);
    if (!raw) return undefined;
    const record = JSON.parse(raw) as LockoutRecord;
    if (record.resetTime <= Date.now()) {
      this.data.delete(key);
      return undefined;
    }
    return record;
  }

  async increment(key: string): Promise<LockoutRecord> {
    const failures = ((await this.get(key))?.failures ?? 0) + 1;
    this.calls.push(`increment ${key}`);
    const record = { failures, resetTime: Date.now() + this.windowMs };
    this.data.set(key, JSON.stringify(record));
    return record;
  }

  async reset(key: string): Promise<void> {
    await new Promise((r) => setImmediate(r));
    this.calls.push(`reset ${key}`);
    this.data.delete(key);
  }
}

const remoteFixture = fixtureWith().replace('allow-remote: false', 'allow-remote: true');
const START = Date.UTC(2030, 0, 1);
let hs: Harness[] = [];
beforeEach(() => {
  jest.useFakeTimers({
    doNotFake: [
      'nextTick',
      'setImmediate',
      'clearImmediate',
      'setTimeout',
      'clearTimeout',
      'setInterval',
      'clearInterval',
      'queueMicrotask',
      'hrtime',
      'performance',
    ],
  });
  jest.setSystemTime(START);
});
afterEach(async () => {
  jest.useRealTimers();
  await Promise.all(hs.map((h) => h.close()));
  hs = [];
});

const advance = (ms: number): void => {
  jest.setSystemTime(Date.now() + ms);
};
function host(
  store: LockoutStore,
  options: { maxAttempts?: number; lockoutMs?: number } = {},
): Harness {
  const h = harness(remoteFixture, {
    lockoutStore: store,
    maxAttempts: 3,
    lockoutMs: 60_000,
    ...options,
  });
  h.app.set('trust proxy', true);
  hs.push(h);
  return h;
}
const from = (h: Harness, ip: string, key?: string) => {
  const req = request(h.app).get('/v0/management/debug').set('X-Forwarded-For', ip);
  return key === undefined ? req : req.set('Authorization', `Bearer ${key}`);
};

describe('a custom asynchronous LockoutStore', () => {
  it('is initialised once with the window, before any other call', () => {
    const store = new SharedAsyncStore();
    host(store, { lockoutMs: 45_000 });
    expect(store.calls).toEqual(['init 45000']);
  });

  it('locks out after maxAttempts wrong keys, refuses the correct key while locked with an exact Retry-After, and lets it in after the window', async () => {
    const store = new SharedAsyncStore();
    const h = host(store);
    for (let i = 0; i < 3; i++)
      expect((await from(h, '198.51.100.1', `wrong-${i}`)).status).toBe(401);
    const locked = await from(h, '198.51.100.1', KEY);
    expect(locked.status).toBe(429);
    expect(locked.body).toEqual({ error: 'too many failed attempts' });
    expect(locked.headers['retry-after']).toBe('60');
    advance(45_000);
    const later = await from(h, '198.51.100.1', KEY);
    expect(later.status).toBe(429);
    expect(later.headers['retry-after']).toBe('15');
    // A wrong key while locked is not even checked: the answer stays 429 and the lock is not extended.
    expect((await from(h, '198.51.100.1', 'wrong')).status).toBe(429);
    advance(15_000);
    expect((await from(h, '198.51.100.1', KEY)).status).toBe(200);
  });

  it('counts failures in a window that restarts at each failure; older failures are forgotten', async () => {
    const store = new SharedAsyncStore();
    const h = host(store);
    await from(h, '198.51.100.2', 'a');
    advance(40_000);
    await from(h, '198.51.100.2', 'b');
    advance(40_000); // 80 s after the first failure, 40 s after the second: the window restarted at each
    expect((await from(h, '198.51.100.2', 'c')).status).toBe(401); // third failure: now locked
    expect((await from(h, '198.51.100.2', KEY)).status).toBe(429);
    advance(60_000);
    // Expired: a fresh count.
    await from(h, '198.51.100.2', 'd');
    await from(h, '198.51.100.2', 'e');
    expect((await from(h, '198.51.100.2', KEY)).status).toBe(200);
  });

  it('a success resets the count (reset is called), and a request with a key that never failed does not call reset', async () => {
    const store = new SharedAsyncStore();
    const h = host(store);
    await from(h, '198.51.100.3', 'a');
    await from(h, '198.51.100.3', 'b');
    expect((await from(h, '198.51.100.3', KEY)).status).toBe(200);
    expect(store.calls.filter((c) => c.startsWith('reset'))).toEqual(['reset 198.51.100.3']);
    await from(h, '198.51.100.3', 'c');
    await from(h, '198.51.100.3', 'd');
    expect((await from(h, '198.51.100.3', KEY)).status).toBe(200);
    expect((await from(h, '198.51.100.4', KEY)).status).toBe(200);
    expect(store.calls.filter((c) => c.startsWith('reset'))).toEqual([
      'reset 198.51.100.3',
      'reset 198.51.100.3',
    ]);
  });

  it('requests without a key are not counted: the store is never incremented for them', async () => {
    const store = new SharedAsyncStore();
    const h = host(store);
    for (let i = 0; i < 10; i++) expect((await from(h, '198.51.100.5')).status).toBe(401);
    expect(store.calls.filter((c) => c.startsWith('increment'))).toEqual([]);
    expect((await from(h, '198.51.100.5', KEY)).status).toBe(200);
  });

  it('shared by two routers (two processes of a cluster): failures add up and a lock holds on both', async () => {
    const store = new SharedAsyncStore();
    const a = host(store);
    const b = host(store);
    expect((await from(a, '198.51.100.6', 'x')).status).toBe(401);
    expect((await from(b, '198.51.100.6', 'y')).status).toBe(401);
    expect((await from(a, '198.51.100.6', 'z')).status).toBe(401);
    expect((await from(b, '198.51.100.6', KEY)).status).toBe(429);
    expect((await from(a, '198.51.100.6', KEY)).status).toBe(429);
    // Other clients are not affected.
    expect((await from(b, '198.51.100.7', KEY)).status).toBe(200);
  });

  it('a store that fails answers a JSON 500 and lets nobody in', async () => {
    const failing: LockoutStore = {
      get: () => Promise.reject(new Error('store down at redis://secret@10.0.0.1')),
      increment: () => Promise.reject(new Error('store down')),
      reset: () => Promise.reject(new Error('store down')),
    };
    const logs: string[] = [];
    const h = harness(remoteFixture, {
      lockoutStore: failing,
      logger: { warn: (m) => logs.push(m) },
    });
    hs.push(h);
    h.app.set('trust proxy', true);
    const res = await from(h, '198.51.100.8', KEY);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'internal error' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(logs.join('\n')).not.toContain('redis://');
  });
});

describe('a store that fails at one step', () => {
  it.each([
    [
      'get throws synchronously',
      {
        get: () => {
          throw new Error('store down');
        },
      },
    ],
    [
      'increment rejects (a guess cannot be counted)',
      { increment: () => Promise.reject(new Error('store down')) },
    ],
    [
      'increment throws synchronously',
      {
        increment: () => {
          throw new Error('store down');
        },
      },
    ],
  ])('%s: a JSON 500 for a key not seen before, and nobody gets in', async (_name, failing) => {
    const memory = new MemoryLockoutStore();
    const store: LockoutStore = {
      get: (key) => memory.get(key),
      increment: (key) => memory.increment(key),
      reset: (key) => memory.reset(key),
      ...(failing as Partial<LockoutStore>),
    };
    const h = host(store);
    for (const key of [KEY, 'wrong']) {
      const res = await from(h, '198.51.100.50', key);
      expect({ status: res.status, body: res.body }).toEqual({
        status: 500,
        body: { error: 'internal error' },
      });
    }
  });
});

describe('a store whose reset fails', () => {
  it('the right key answers a JSON 500 while there is a count the store cannot clear (the fast path for a key seen before too)', async () => {
    const memory = new MemoryLockoutStore();
    const store: LockoutStore = {
      get: async (key) => memory.get(key),
      increment: async (key) => memory.increment(key),
      reset: () => Promise.reject(new Error('store down')),
    };
    const h = host(store);
    // The first right key is a guess: counted, verified, then the reset fails.
    for (let i = 0; i < 2; i++) {
      const res = await from(h, '198.51.100.51', KEY);
      expect({ status: res.status, body: res.body }).toEqual({
        status: 500,
        body: { error: 'internal error' },
      });
    }
    const wrong = await from(h, '198.51.100.51', 'wrong');
    expect({ status: wrong.status, body: wrong.body }).toEqual({
      status: 401,
      body: { error: 'invalid management key' },
    });
    // Another client with the key (verified before) and no count needs no reset: in at once.
    const other = await from(h, '198.51.100.52', KEY);
    expect({ status: other.status, body: other.body }).toEqual({
      status: 200,
      body: { debug: false },
    });
  });
});

describe('the memory store (MemoryLockoutStore)', () => {
  it('a lock-out ends exactly when its window has passed, not a millisecond later', async () => {
    const h = host(new MemoryLockoutStore());
    for (let i = 0; i < 3; i++)
      expect((await from(h, '198.51.100.40', `wrong-${i}`)).status).toBe(401);
    advance(59_999);
    const locked = await from(h, '198.51.100.40', KEY);
    expect(locked.status).toBe(429);
    expect(locked.body).toEqual({ error: 'too many failed attempts' });
    expect(locked.headers['retry-after']).toBe('1');
    advance(1);
    const res = await from(h, '198.51.100.40', KEY);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ debug: false });
  });

  it('the sweep of a full map forgets only expired records: a live lock-out holds', async () => {
    const store = new MemoryLockoutStore({ sweepAbove: 2 });
    const h = host(store);
    for (let i = 0; i < 3; i++) await from(h, '198.51.100.41', `wrong-${i}`);
    advance(30_000);
    await from(h, '198.51.100.42', 'wrong');
    await from(h, '198.51.100.43', 'wrong'); // a third record: the map is swept
    expect(store.size).toBe(3);
    const locked = await from(h, '198.51.100.41', KEY);
    expect(locked.status).toBe(429);
    expect(locked.body).toEqual({ error: 'too many failed attempts' });
    advance(60_000); // every record has expired; the next failure sweeps them all but its own
    await from(h, '198.51.100.44', 'wrong');
    expect(store.size).toBe(1);
    expect((await from(h, '198.51.100.41', KEY)).status).toBe(200);
  });

  it('counts failures in a window that restarts at each failure (the store the router uses by default)', async () => {
    const h = host(new MemoryLockoutStore());
    await from(h, '198.51.100.45', 'a');
    advance(40_000);
    await from(h, '198.51.100.45', 'b');
    advance(40_000); // 80 s after the first failure (a fixed 60 s window would have ended), 40 s after the second
    expect((await from(h, '198.51.100.45', 'c')).status).toBe(401); // the third failure
    const locked = await from(h, '198.51.100.45', KEY);
    expect({ status: locked.status, body: locked.body }).toEqual({
      status: 429,
      body: { error: 'too many failed attempts' },
    });
    expect(locked.headers['retry-after']).toBe('60'); // counted from the last failure
    advance(59_999);
    expect((await from(h, '198.51.100.45', KEY)).status).toBe(429);
    advance(1);
    // Expired 60 s after the last failure: a fresh count.
    await from(h, '198.51.100.45', 'd');
    await from(h, '198.51.100.45', 'e');
    expect((await from(h, '198.51.100.45', KEY)).status).toBe(200);
  });

  it('the store on its own: each increment moves the end of the window, the count goes on while it has not passed', () => {
    let now = 1_000;
    const store = new MemoryLockoutStore({ now: () => now });
    store.init({ windowMs: 60_000 });
    expect(store.increment('k')).toEqual({ failures: 1, resetTime: 61_000 });
    now = 50_000;
    expect(store.increment('k')).toEqual({ failures: 2, resetTime: 110_000 });
    now = 100_000; // past the first window, inside the second
    expect(store.get('k')).toEqual({ failures: 2, resetTime: 110_000 });
    expect(store.increment('k')).toEqual({ failures: 3, resetTime: 160_000 });
    now = 160_000; // the window has passed: forgotten
    expect(store.get('k')).toBeUndefined();
    expect(store.increment('k')).toEqual({ failures: 1, resetTime: 220_000 });
  });

  it('sweeps only once the map holds more than sweepAbove records; until then an expired record is held (and answers as absent)', () => {
    let now = 0;
    const store = new MemoryLockoutStore({ now: () => now, sweepAbove: 2 });
    store.init({ windowMs: 1_000 });
    store.increment('a');
    now = 1_000; // a has expired
    store.increment('b');
    expect(store.size).toBe(2); // two records: not more than 2, no sweep yet
    store.increment('c');
    expect(store.size).toBe(2); // three: swept, the expired one is gone
    expect(store.get('a')).toBeUndefined();
    expect(store.get('b')).toEqual({ failures: 1, resetTime: 2_000 });
  });

  it('without init its window is 30 minutes', () => {
    const store = new MemoryLockoutStore({ now: () => 1_000 });
    expect(store.increment('a')).toEqual({ failures: 1, resetTime: 1_000 + 30 * 60_000 });
    expect(store.increment('a')).toEqual({ failures: 2, resetTime: 1_000 + 30 * 60_000 });
  });
});

describe('options around the store', () => {
  it.each([
    [
      'a store without increment',
      { lockoutStore: { get: () => undefined, reset: () => undefined } as unknown as LockoutStore },
    ],
    ['bcryptRounds above bcrypt’s 31', { bcryptRounds: 32 }],
    ['lockStaleMs below 2000', { lockStaleMs: 1000 }],
  ])('%s is refused at construction with ERR_INVALID_OPTION', (_name, options) => {
    const h = harness(remoteFixture);
    hs.push(h);
    let thrown: unknown;
    try {
      createManagementRouter(h.configPath, h.authDir, options);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ManagementError);
    expect((thrown as ManagementError).code).toBe('ERR_INVALID_OPTION');
  });
});
