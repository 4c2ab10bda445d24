/**
 * The PostgreSQL engine (contract section 11) against a real server: several replicas (routers
 * with their own mirror folders) in this process on one namespace. The outage and the
 * multi-process cases have their own files.
 */
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import request from 'supertest';
import {
  COMMIT_CHANNEL,
  type CommitMessage,
  type LockoutRecord,
  type LockoutStore,
  type ProxyConfig,
  type ScalarDescriptor,
} from '../lib';
import { postgresStorage } from '../lib/postgres';
import { openStores } from '../lib/config/open';
import { channel } from 'node:diagnostics_channel';
import { api, auth, eventually, fixtureWith, KEY, KEY_HASH } from './helpers';
import {
  databaseUrl,
  dropNamespace,
  replica,
  sql,
  stopDatabase,
  uniqueNamespace,
  type Replica,
  type ReplicaOptions,
} from './pg';

jest.setTimeout(60_000);

const open: Replica[] = [];
const namespaces: string[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
  for (const ns of namespaces.splice(0)) await dropNamespace(ns);
});
afterAll(stopDatabase);

function ns(label: string): string {
  const n = uniqueNamespace(label);
  namespaces.push(n);
  return n;
}

async function replicas(
  namespace: string,
  count: number,
  options: ReplicaOptions = { seed: fixtureWith() },
): Promise<Replica[]> {
  const made = await Promise.all(Array.from({ length: count }, () => replica(namespace, options)));
  open.push(...made);
  await Promise.all(made.map((r) => r.router.ready()));
  return made;
}

const row = async (namespace: string) =>
  (
    await sql<{ text: string; version: string }>(
      'SELECT text, version FROM cpm_config WHERE namespace = $1',
      [namespace],
    )
  )[0];

describe('rule 1: the database holds the text and the files', () => {
  it('stores the YAML text exactly as written (comments, layout) with a version, and each file with bytes, size and mtime', async () => {
    const n = ns('truth');
    const [a] = await replicas(n, 1, { seed: fixtureWith(), files: { 'one.json': '{"a":1}' } });
    const before = await row(n);
    expect(before?.text).toBe(fixtureWith());
    const res = await request(a!.app).put(api('/debug')).set(auth).send({ value: true });
    expect(res.status).toBe(200);
    const after = await row(n);
    expect(Number(after?.version)).toBe(Number(before?.version) + 1);
    expect(after?.text.replace(/debug: true +# flip me/, 'FLIPPED')).toBe(
      fixtureWith().replace('debug: false   # flip me', 'FLIPPED'),
    );
    const files = await sql<{ name: string; data: Buffer; size: number; mtime: Date }>(
      'SELECT name, data, size, mtime FROM cpm_token_files WHERE namespace = $1',
      [n],
    );
    expect(files.map((f) => [f.name, f.data.toString(), f.size])).toEqual([
      ['one.json', '{"a":1}', 7],
    ]);
    expect(files[0]?.mtime).toBeInstanceOf(Date);
  });
});

describe('rule 2: bootstrap', () => {
  it('replicas starting together seed the namespace once, from one of them, with its auth files only', async () => {
    const n = ns('race');
    const seeds = Array.from({ length: 5 }, (_, i) => ({
      seed: fixtureWith().replace('request-retry: 3', `request-retry: ${10 + i}`),
      files: { [`r${i}.json`]: `{"r":${i}}` },
    }));
    const made = await Promise.all(seeds.map((s) => replica(n, s)));
    open.push(...made);
    await Promise.all(made.map((r) => r.router.ready()));
    const stored = await row(n);
    expect(stored?.version).toBe('1');
    const winner = seeds.findIndex((s) => s.seed === stored?.text);
    expect(winner).toBeGreaterThanOrEqual(0);
    const names = (
      await sql<{ name: string }>('SELECT name FROM cpm_token_files WHERE namespace = $1', [n])
    ).map((r) => r.name);
    expect(names).toEqual([`r${winner}.json`]);
    // Every replica serves and mirrors the winner, its own local copy overwritten.
    for (const r of made) {
      expect(r.router.getConfig()['request-retry']).toBe(10 + winner);
      expect(r.readMirror()).toBe(stored?.text);
      expect(readdirSync(r.authDir)).toEqual([`r${winner}.json`]);
    }
  });

  it('a namespace that has a config ignores the local copies at start and overwrites them', async () => {
    const n = ns('existing');
    await replicas(n, 1, { seed: fixtureWith(), files: { 'kept.json': '{}' } });
    const late = await replica(n, {
      seed: 'debug: true\nlocal-only: 1\n',
      files: { 'local.json': '{"x":1}' },
    });
    open.push(late);
    await late.router.ready();
    expect(late.router.getConfig()['local-only']).toBeUndefined();
    expect(late.readMirror()).toBe(fixtureWith());
    expect(readdirSync(late.authDir)).toEqual(['kept.json']);
    const res = await request(late.app).get(api('/auth-files')).set(auth);
    expect(res.body.files.map((f: { name: string }) => f.name)).toEqual(['kept.json']);
  });

  it('a replica without a local config joins a namespace that has one', async () => {
    const n = ns('nolocal');
    await replicas(n, 1);
    const late = await replica(n, {});
    open.push(late);
    await late.router.ready();
    expect(late.readMirror()).toBe(fixtureWith());
  });

  it('no config in the database and none on disk: the replica waits (one warning) and starts once another seeds', async () => {
    const n = ns('nothing');
    const waiting = await replica(n, {});
    open.push(waiting);
    let started = false;
    void waiting.router.ready().then(() => (started = true));
    await eventually(() =>
      waiting.warnings.some(
        (w) => w.includes('has no config for namespace') && w.includes('waiting for a replica'),
      ),
    );
    expect(await row(n)).toBeUndefined();
    expect(started).toBe(false);
    const put = await request(waiting.app).put(api('/debug')).set(auth).send({ value: true });
    expect(put.status).toBe(404); // no config yet: the API is not there
    await replicas(n, 1);
    await waiting.router.ready();
    expect(waiting.readMirror()).toBe(fixtureWith());
    expect(waiting.warnings.filter((w) => w.includes('waiting for a replica'))).toHaveLength(1);
  });

  it('an invalid seed is refused (ERR_CONFIG_INVALID) and nothing is stored', async () => {
    const n = ns('badseed');
    const r = await replica(n, { seed: 'a: [unclosed\n' });
    open.push(r);
    await expect(r.router.ready()).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect(await row(n)).toBeUndefined();
  });
});

describe('rule 3: mirrors', () => {
  it('the config mirror is replaced atomically (a new inode, no temp file left, mode 0600 for a new file)', async () => {
    const n = ns('mirror');
    const [a, b] = await replicas(n, 2);
    const fresh = await replica(n, {});
    open.push(fresh);
    await fresh.router.ready();
    expect(statSync(fresh.configPath).mode & 0o777).toBe(0o600);
    const inode = statSync(b!.configPath).ino;
    await request(a!.app).put(api('/debug')).set(auth).send({ value: true }).expect(200);
    await eventually(() => b!.readMirror().includes('debug: true'));
    expect(statSync(b!.configPath).ino).not.toBe(inode);
    expect(readdirSync(b!.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('rule 4: propagation', () => {
  it('a change through one replica reaches every other replica: GET, getConfig, onChange and the mirror', async () => {
    const n = ns('prop');
    const [a, b, c] = await replicas(n, 3);
    const heard = [b!, c!].map(
      (r) =>
        new Promise<{ config: ProxyConfig; source: string }>((resolve) => {
          const off = r.router.onChange((config, change) => {
            if (config['request-retry'] !== 7) return;
            off();
            resolve({ config, source: change.source });
          });
        }),
    );
    await request(a!.app).put(api('/request-retry')).set(auth).send({ value: 7 }).expect(200);
    const changes = await Promise.all(heard);
    for (const ch of changes)
      expect(ch).toEqual({
        config: expect.objectContaining({ 'request-retry': 7 }),
        source: 'replica',
      });
    for (const r of [b!, c!]) {
      expect(r.router.getConfig()['request-retry']).toBe(7);
      await eventually(() => r.readMirror().includes('request-retry: 7'));
      const res = await request(r.app).get(api('/request-retry')).set(auth);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ 'request-retry': 7 });
    }
  });
});

const ROWS: ScalarDescriptor[] = Array.from({ length: 90 }, (_, i) => ({
  kind: 'scalar',
  path: `/extra/k${i}`,
  key: ['extra', `k${i}`],
  schema: { type: 'integer' },
}));

describe('rule 5: no lost updates', () => {
  it('3 replicas x 30 concurrent mutations: 90 of 90 in the database and on every replica', async () => {
    const n = ns('lost');
    const made = await replicas(n, 3, { seed: fixtureWith(), router: { resources: ROWS } });
    const results = await Promise.all(
      Array.from({ length: 90 }, (_, i) =>
        request(made[Math.floor(i / 30)]!.app)
          .put(api(`/extra/k${i}`))
          .set(auth)
          .send({ value: 1000 + i }),
      ),
    );
    expect(results.filter((r) => r.status !== 200).map((r) => [r.status, r.body])).toEqual([]);
    const stored = await row(n);
    const doc = (await import('yaml')).parse(stored!.text) as { extra: Record<string, number> };
    expect(Object.keys(doc.extra)).toHaveLength(90);
    for (let i = 0; i < 90; i++) expect(doc.extra[`k${i}`]).toBe(1000 + i);
    expect(stored!.text.startsWith(fixtureWith())).toBe(true); // the user's text untouched above the additions
    for (const r of made)
      await eventually(
        () => Object.keys((r.router.getConfig().extra as object | undefined) ?? {}).length === 90,
      );
  });

  it('the acknowledgement comes after the commit: once a PUT answered 200 the row holds it', async () => {
    const n = ns('ack');
    const [a] = await replicas(n, 1);
    for (let i = 0; i < 5; i++) {
      await request(a!.app)
        .put(api('/request-retry'))
        .set(auth)
        .send({ value: 20 + i })
        .expect(200);
      expect((await row(n))?.text).toContain(`request-retry: ${20 + i}`);
    }
  });
});

describe('rule 6: hand edits of a mirror', () => {
  it('an edit of a mirror is pushed, merged with a change made meanwhile, and reaches every replica', async () => {
    const n = ns('hand');
    const [a, b] = await replicas(n, 2);
    // A change through b that a has not written to its mirror yet when the person saves: the
    // edit is made on the old text, and the push must keep both.
    const edited = a!
      .readMirror()
      .replace('proxy-url: ""', 'proxy-url: "socks5://hand.example:1080"  # by hand');
    await request(b!.app).put(api('/request-retry')).set(auth).send({ value: 9 }).expect(200);
    // Save after a's mirror took b's change (a save racing the mirror's own rename is a window
    // no file can close without the editor's cooperation: see lib/store/postgres/README.md).
    await eventually(() => a!.readMirror().includes('request-retry: 9'), 15_000);
    writeFileSync(a!.configPath, edited);
    for (const r of [a!, b!]) {
      // A deadline, not a threshold: a busy machine may take seconds (watcher, commit, notice).
      await eventually(
        () =>
          r.router.getConfig()['proxy-url'] === 'socks5://hand.example:1080' &&
          r.router.getConfig()['request-retry'] === 9,
        15_000,
      );
    }
    const stored = await row(n);
    expect(stored?.text).toContain('proxy-url: "socks5://hand.example:1080"  # by hand');
    expect(stored?.text).toContain('request-retry: 9');
    await eventually(() => b!.readMirror() === stored?.text);
  });

  it('an invalid edit is not pushed; the last good config keeps serving everywhere', async () => {
    const n = ns('handbad');
    const [a, b] = await replicas(n, 2);
    const before = await row(n);
    writeFileSync(a!.configPath, 'debug: [unclosed\n');
    await eventually(() => a!.warnings.some((w) => w.includes('not valid, not pushed')));
    expect(await row(n)).toEqual(before);
    for (const r of [a!, b!]) {
      const res = await request(r.app).get(api('/debug')).set(auth);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ debug: false });
    }
  });

  it('an emptied mirror (an editor mid-save) is never pushed', async () => {
    const n = ns('handempty');
    const [a] = await replicas(n, 1);
    const before = await row(n);
    writeFileSync(a!.configPath, '');
    await a!.router.reload(); // the check the watcher runs, made now (a push would be queued by it)
    await request(a!.app).put(api('/request-retry')).set(auth).send({ value: 5 }).expect(200); // commits after any such push
    expect((await row(n))?.text).toBe(before!.text.replace('request-retry: 3', 'request-retry: 5'));
    await eventually(
      () => a!.readMirror() === before!.text.replace('request-retry: 3', 'request-retry: 5'),
    );
  });

  it('a plaintext key written into a mirror by hand is hashed before it reaches the database', async () => {
    const n = ns('handkey');
    const [a] = await replicas(n, 1);
    writeFileSync(a!.configPath, a!.readMirror().replace(KEY_HASH, 'hand-typed-new-key'));
    await eventually(async () => !(await row(n))?.text.includes(KEY_HASH), 15_000);
    const stored = (await row(n))!.text;
    expect(stored).not.toContain('hand-typed-new-key');
    expect(stored).toMatch(/secret-key: "\$2b\$04\$/);
    await eventually(() => !a!.readMirror().includes('hand-typed-new-key'));
  });
});

describe('rule 7: auth files', () => {
  it('upload, delete and delete-all through any replica change the table and every mirror; downloads return the newest bytes', async () => {
    const n = ns('files');
    const [a, b, c] = await replicas(n, 3);
    const upload = (r: Replica, name: string, body: string) =>
      request(r.app)
        .post(api(`/auth-files?name=${encodeURIComponent(name)}`))
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(body);
    expect((await upload(a!, 'one.json', '{"v":1}')).status).toBe(200);
    expect((await upload(b!, 'two.json', '{"v":2}')).status).toBe(200);
    for (const r of [a!, b!, c!]) {
      await eventually(
        () =>
          existsSync(path.join(r.authDir, 'one.json')) &&
          existsSync(path.join(r.authDir, 'two.json')),
      );
      const list = await request(r.app).get(api('/auth-files')).set(auth);
      expect(list.body.files.map((f: { name: string; size: number }) => [f.name, f.size])).toEqual([
        ['one.json', 7],
        ['two.json', 7],
      ]);
    }
    expect((await upload(c!, 'one.json', '{"v":"newer"}')).status).toBe(200);
    for (const r of [a!, b!]) {
      await eventually(
        async () =>
          (await request(r.app).get(api('/auth-files/download?name=one.json')).set(auth)).text ===
          '{"v":"newer"}',
      );
      await eventually(
        () => readFileSync(path.join(r.authDir, 'one.json'), 'utf8') === '{"v":"newer"}',
      );
    }
    const del = await request(b!.app).delete(api('/auth-files?name=two.json')).set(auth);
    expect(del.status).toBe(200);
    for (const r of [a!, c!]) await eventually(() => !existsSync(path.join(r.authDir, 'two.json')));
    const bad = await upload(a!, '../evil.json', '{}');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: expect.any(String) });
    const all = await request(a!.app).delete(api('/auth-files?all=true')).set(auth);
    expect(all.status).toBe(200);
    expect(await sql('SELECT name FROM cpm_token_files WHERE namespace = $1', [n])).toEqual([]);
    for (const r of [a!, b!, c!]) await eventually(() => readdirSync(r.authDir).length === 0);
  });
});

describe('the token store directly', () => {
  it('update() is a read-modify-write in one transaction; an edit that throws changes nothing and is not an outage', async () => {
    const n = ns('update');
    const [a] = await replicas(n, 1, { seed: fixtureWith(), files: { 'u.json': '{"n":1}' } });
    const dir = mkdtempSync(path.join(tmpdir(), 'cpm-pg-tokens-'));
    const opened = openStores(
      postgresStorage({ connectionString: await databaseUrl(), namespace: n }),
      {
        configPath: path.join(dir, 'config.yaml'),
        authDir: path.join(dir, 'auths'),
        watch: false,
        logger: { warn: () => undefined },
      },
      4,
    );
    try {
      await opened.config.ready();
      const bump = (data: Buffer) =>
        Buffer.from(JSON.stringify({ n: (JSON.parse(data.toString()) as { n: number }).n + 1 }));
      await Promise.all(Array.from({ length: 10 }, () => opened.tokens.update('u.json', bump)));
      expect((await opened.tokens.read('u.json'))?.data.toString()).toBe('{"n":11}');
      await expect(opened.tokens.update('missing.json', bump)).resolves.toBe(false);
      const boom = new Error('edit refused');
      await expect(
        opened.tokens.update('u.json', () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(
        (
          await sql<{ data: Buffer }>('SELECT data FROM cpm_token_files WHERE namespace = $1', [n])
        )[0]?.data.toString(),
      ).toBe('{"n":11}');
      await opened.tokens.write('after.json', Buffer.from('{}')); // still up
      await eventually(() => existsSync(path.join(a!.authDir, 'after.json')));
      await expect(opened.tokens.write('../x.json', Buffer.from('{}'))).rejects.toMatchObject({
        code: 'INVALID_NAME',
      });
    } finally {
      await Promise.all([opened.config.close(), opened.tokens.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rule 8: shared lock-out', () => {
  it('5 wrong keys spread over 3 replicas lock the address out on all of them', async () => {
    const n = ns('lockout');
    const made = await replicas(n, 3);
    for (let i = 0; i < 5; i++) {
      const res = await request(made[i % 3]!.app)
        .get(api('/debug'))
        .set('Authorization', 'Bearer wrong');
      expect(res.status).toBe(401);
    }
    const rows = await sql<{ failures: number }>(
      'SELECT failures FROM cpm_lockout WHERE namespace = $1',
      [n],
    );
    expect(rows.map((r) => r.failures)).toEqual([5]);
    // A wrong key once locked answers 429 without counting; wait until each replica has heard.
    for (const r of made)
      await eventually(
        async () =>
          (await request(r.app).get(api('/debug')).set('Authorization', 'Bearer wrong')).status ===
          429,
      );
    for (const r of made) {
      const res = await request(r.app).get(api('/debug')).set(auth);
      expect(res.status).toBe(429);
      expect(res.body).toEqual({ error: 'too many failed attempts' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
  });

  it("a replica hears of another's failures without counting any itself (notices), and of a reset", async () => {
    const n = ns('locknotice');
    await replicas(n, 1);
    const dirs = [
      mkdtempSync(path.join(tmpdir(), 'cpm-pg-lock-')),
      mkdtempSync(path.join(tmpdir(), 'cpm-pg-lock-')),
    ];
    const connectionString = await databaseUrl();
    const opened = dirs.map((dir) =>
      openStores(
        postgresStorage({ namespace: n, connectionString }),
        {
          configPath: path.join(dir, 'config.yaml'),
          authDir: path.join(dir, 'auths'),
          watch: false,
          logger: { warn: () => undefined },
        },
        4,
      ),
    );
    try {
      await Promise.all(opened.map((o) => o.config.ready()));
      const [a, b] = opened.map((o) => o.lockout!) as [LockoutStore, LockoutStore];
      a.init?.({ windowMs: 60_000 });
      b.init?.({ windowMs: 60_000 });
      for (let i = 0; i < 5; i++) await a.increment('203.0.113.9');
      await eventually(() => (b.get('203.0.113.9') as LockoutRecord | undefined)?.failures === 5);
      await b.reset('203.0.113.9');
      await eventually(() => a.get('203.0.113.9') === undefined);
    } finally {
      await Promise.all(opened.flatMap((o) => [o.config.close(), o.tokens.close()]));
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a correct key resets the shared count for every replica', async () => {
    const n = ns('lockreset');
    const [a, b] = await replicas(n, 2);
    for (let i = 0; i < 3; i++)
      await request(a!.app).get(api('/debug')).set('Authorization', 'Bearer wrong').expect(401);
    await request(b!.app).get(api('/debug')).set(auth).expect(200);
    await eventually(
      async () => (await sql('SELECT 1 FROM cpm_lockout WHERE namespace = $1', [n])).length === 0,
    );
    // Now 4 more wrong keys are not enough anywhere (the count restarted at 0).
    for (let i = 0; i < 4; i++)
      await request(i % 2 ? a!.app : b!.app)
        .get(api('/debug'))
        .set('Authorization', 'Bearer wrong')
        .expect(401);
    await request(a!.app).get(api('/debug')).set(auth).expect(200);
  });
});

describe('rule 10: secrets', () => {
  it('a plaintext key in the seed is hashed before it reaches the database', async () => {
    const n = ns('seedkey');
    const [a] = await replicas(n, 1, { seed: fixtureWith('plain-seed-key') });
    const stored = (await row(n))!.text;
    expect(stored).not.toContain('plain-seed-key');
    expect(stored).toMatch(/secret-key: "\$2b\$04\$/);
    expect(stored.replace(/"\$2b\$04\$[^"]+"/, '"X"')).toBe(fixtureWith('X'));
    await request(a!.app)
      .get(api('/debug'))
      .set('Authorization', 'Bearer plain-seed-key')
      .expect(200);
  });

  it('a seed whose key cannot be hashed (over 72 bytes) is refused: no plaintext key reaches the database', async () => {
    const n = ns('longkey');
    const long = 'k'.repeat(100);
    const r = await replica(n, { seed: fixtureWith(long) });
    open.push(r);
    await expect(r.router.ready()).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect(await row(n)).toBeUndefined();
    expect(JSON.stringify(r.warnings)).not.toContain(long);
  });

  it('a plaintext key in a whole-text write is stored hashed, in the same transaction (one version)', async () => {
    const n = ns('textkey');
    await replicas(n, 1);
    const dir = mkdtempSync(path.join(tmpdir(), 'cpm-pg-engine-'));
    const opened = openStores(
      postgresStorage({ connectionString: await databaseUrl(), namespace: n }),
      {
        configPath: path.join(dir, 'config.yaml'),
        authDir: path.join(dir, 'auths'),
        watch: false,
        logger: { warn: () => undefined },
      },
      4,
    );
    try {
      await opened.config.ready();
      const before = Number((await row(n))!.version);
      await opened.config.mutateText((text) => text.replace(KEY_HASH, 'text-plain-key'));
      const after = (await row(n))!;
      expect(Number(after.version)).toBe(before + 1);
      expect(after.text).not.toContain('text-plain-key');
      expect(after.text).toMatch(/secret-key: "\$2b\$04\$/);
      expect(readFileSync(path.join(dir, 'config.yaml'), 'utf8')).toBe(after.text);
    } finally {
      await Promise.all([opened.config.close(), opened.tokens.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rule 11: cost', () => {
  it('GETs never touch the database; a group of concurrent mutations shares one transaction', async () => {
    const n = ns('cost');
    const seen = { connect: 0, query: 0 };
    class CountingPool extends pg.Pool {
      override connect(...args: unknown[]): never {
        seen.connect++;
        return (super.connect as (...a: unknown[]) => never)(...args);
      }
      override query(...args: unknown[]): never {
        seen.query++;
        return (super.query as (...a: unknown[]) => never)(...args);
      }
    }
    const pool = new CountingPool({ connectionString: await databaseUrl(), max: 4 });
    try {
      const r = await replica(n, {
        seed: fixtureWith(),
        storage: { pool, connectionString: undefined },
      });
      open.push(r);
      await r.router.ready();
      // The first check of a key on a replica is a guess, counted in the shared lock-out on
      // arrival and reset once it verified (two statements); after that the key is cached.
      await request(r.app).get(api('/debug')).set(auth).expect(200);
      // The notices of the seed's own writes may still be on their way (a busy machine delivers
      // them late) and each costs one sync: wait for a round of GETs that touches nothing. A GET
      // that reached the database every time would never get there, and fails here.
      const round = async (): Promise<void> => {
        await request(r.app).get(api('/debug')).set(auth).expect(200);
        await request(r.app).get(api('/auth-files')).set(auth).expect(200);
      };
      let settled = false;
      for (let tries = 0; tries < 10 && !settled; tries++) {
        const mark = { ...seen };
        await round();
        settled = seen.connect === mark.connect && seen.query === mark.query;
      }
      expect(settled).toBe(true);
      const before = { ...seen };
      for (let i = 0; i < 20; i++) {
        await request(r.app).get(api('/debug')).set(auth).expect(200);
        await request(r.app).get(api('/auth-files')).set(auth).expect(200);
      }
      expect(seen).toEqual(before);

      const groups: CommitMessage[] = [];
      const onCommit = (m: unknown) => groups.push(m as CommitMessage);
      channel(COMMIT_CHANNEL).subscribe(onCommit);
      try {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            request(r.app).put(api('/request-retry')).set(auth).send({ value: i }),
          ),
        );
        expect(results.every((x) => x.status === 200)).toBe(true);
      } finally {
        channel(COMMIT_CHANNEL).unsubscribe(onCommit);
      }
      expect(groups.reduce((s, g) => s + g.mutations, 0)).toBe(20);
      expect(groups.length).toBeLessThan(20); // grouped
      // pg's Pool.query checks a client out through connect() too: transactions = connects - queries.
      expect(seen.query).toBe(before.query); // no re-read: our own notices are recognised
      expect(seen.connect - before.connect).toBe(groups.length); // one transaction per group
    } finally {
      await Promise.all(open.splice(0).map((x) => x.close()));
      await pool.end();
    }
  });
});

describe('postgresStorage options and close', () => {
  it('refuses bad options at once with ERR_INVALID_OPTION', () => {
    expect(() => postgresStorage({})).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
    expect(() =>
      postgresStorage({ connectionString: 'postgres://x', pool: new pg.Pool() }),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => postgresStorage({ connectionString: 'postgres://x', namespace: '' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
    expect(() => postgresStorage({ connectionString: 'postgres://x', minRetryMs: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
  });

  it('close() releases every connection of the replica', async () => {
    const n = ns('close');
    const [a] = await replicas(n, 1);
    const appName = (
      await sql<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE query ILIKE 'LISTEN cli_proxy_management%'`,
      )
    )[0]!.n;
    await a!.close();
    open.splice(open.indexOf(a!), 1);
    await eventually(
      async () =>
        Number(
          (
            await sql<{ n: string }>(
              `SELECT count(*) AS n FROM pg_stat_activity WHERE query ILIKE 'LISTEN cli_proxy_management%'`,
            )
          )[0]!.n,
        ) < Number(appName),
    );
  });

  it('namespaces are isolated', async () => {
    const [a] = await replicas(ns('iso-a'), 1);
    const [b] = await replicas(ns('iso-b'), 1);
    await request(a!.app).put(api('/debug')).set(auth).send({ value: true }).expect(200);
    await request(b!.app).put(api('/request-retry')).set(auth).send({ value: 1 }).expect(200); // b's own commit after a's
    expect(b!.router.getConfig().debug).toBe(false);
    expect(KEY).toBeTruthy();
  });
});
