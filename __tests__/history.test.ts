/**
 * History and revert: every rule against both engines (the file engine on a temp folder, the
 * PostgreSQL engine on the real server). Engine-specific rules (the journal file, a damaged
 * journal, replicas reading one history) follow.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Express } from 'express';
import type { ConfigChange, ManagementOptions, ManagementRouter } from '../lib';
import { api, auth, eventually, fixtureWith, harness, KEY, KEY_HASH } from './helpers';
import { dropNamespace, replica, sql, stopDatabase, uniqueNamespace } from './pg';

jest.setTimeout(60_000);

interface Host {
  readonly app: Express;
  readonly router: ManagementRouter;
  readonly warnings: string[];
  /** The config text as stored (the file, or the database row). */
  stored(): Promise<string>;
  /** Everything the history keeps, raw (the journal file, or the table's rows). */
  raw(): Promise<string>;
  close(): Promise<void>;
}

const hosts: Host[] = [];
const namespaces: string[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
  for (const n of namespaces.splice(0)) await dropNamespace(n);
});
afterAll(stopDatabase);

async function fileHost(
  text = fixtureWith(),
  options: ManagementOptions = {},
): Promise<Host & { configPath: string }> {
  const warnings: string[] = [];
  const h = harness(text, { logger: { warn: (m) => warnings.push(m) }, ...options });
  await h.router.ready();
  const journal = `${h.configPath}.history`;
  const host = {
    app: h.app,
    router: h.router,
    warnings,
    configPath: h.configPath,
    stored: async () => h.read(),
    raw: async () => (existsSync(journal) ? readFileSync(journal, 'utf8') : ''),
    close: h.close,
  };
  hosts.push(host);
  return host;
}

async function pgHost(
  text = fixtureWith(),
  options: ManagementOptions = {},
  namespace?: string,
): Promise<Host & { configPath: string; ns: string }> {
  const ns = namespace ?? uniqueNamespace('history');
  if (!namespace) namespaces.push(ns);
  const r = await replica(ns, { seed: text, router: options });
  await r.router.ready();
  const host = {
    app: r.app,
    router: r.router,
    warnings: r.warnings,
    configPath: r.configPath,
    ns,
    stored: async () =>
      (await sql<{ text: string }>('SELECT text FROM cpm_config WHERE namespace = $1', [ns]))[0]
        ?.text ?? '',
    raw: async () =>
      JSON.stringify(await sql('SELECT * FROM cpm_history WHERE namespace = $1 ORDER BY id', [ns])),
    close: r.close,
  };
  hosts.push(host);
  return host;
}

const ENGINES = [
  ['file', fileHost],
  ['postgres', pgHost],
] as const;

type Auth = Record<string, string>;
const list = async (h: Host, query = '', as: Auth = auth) =>
  request(h.app)
    .get(api(`/config/history${query}`))
    .set(as);
const entry = async (h: Host, id: string, as: Auth = auth) =>
  request(h.app)
    .get(api(`/config/history/${id}`))
    .set(as);
const revert = async (h: Host, id: string, as: Auth = auth) =>
  request(h.app)
    .post(api(`/config/history/${id}/revert`))
    .set(as);
const put = async (h: Host, p: string, value: unknown) => {
  const res = await request(h.app).put(api(p)).set(auth).send({ value });
  expect(res.status).toBe(200);
};
const newest = async (h: Host) => (await list(h)).body.entries[0] as Record<string, unknown>;

describe.each(ENGINES)('%s engine', (_name, make) => {
  it('records an accepted change: time, source, method, path, client, lines changed; the diff with headers and 3 lines of context', async () => {
    const h = await make();
    const before = Date.now();
    await put(h, '/debug', true);
    const res = await list(h);
    expect(res.status).toBe(200);
    expect(res.body.next).toBeNull();
    expect(res.body.entries).toHaveLength(1);
    const e = res.body.entries[0];
    expect(Object.keys(e)).toEqual([
      'id',
      'time',
      'source',
      'method',
      'path',
      'client',
      'added',
      'removed',
    ]);
    expect(e).toMatchObject({
      id: '1',
      source: 'api',
      method: 'PUT',
      path: '/debug',
      added: 1,
      removed: 1,
    });
    expect(e.client).toMatch(/127\.0\.0\.1|::1/);
    expect(Date.parse(e.time)).toBeGreaterThanOrEqual(before - 1000);
    const one = await entry(h, '1');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject(e);
    expect(one.body.diff).toBe(
      [
        '--- config.yaml',
        '+++ config.yaml',
        '@@ -19,7 +19,7 @@',
        ' auth-dir: "~/.cli-proxy-api"',
        ' ',
        ' # Enable debug logging',
        '-debug: false   # flip me',
        '+debug: true # flip me',
        ' ',
        ' # Proxy URL. Supports socks5/http/https protocols. Example: socks5://user:pass@192.168.1.1:1080/',
        ' proxy-url: ""',
        '',
      ].join('\n'),
    );
  });

  it('a request that changes nothing makes no entry; each request of one group commit has its own entry and diff', async () => {
    const h = await make();
    await put(h, '/debug', false); // the value it has
    expect((await list(h)).body.entries).toEqual([]);
    const sent = await Promise.all([
      request(h.app).put(api('/debug')).set(auth).send({ value: true }),
      request(h.app).put(api('/request-retry')).set(auth).send({ value: 7 }),
      request(h.app).put(api('/request-log')).set(auth).send({ value: true }),
    ]);
    expect(sent.map((r) => r.status)).toEqual([200, 200, 200]);
    const { entries } = (await list(h)).body;
    expect(entries.map((e: { path: string }) => e.path).sort()).toEqual([
      '/debug',
      '/request-log',
      '/request-retry',
    ]);
    for (const e of entries) {
      expect(e).toMatchObject({ added: 1, removed: 1 });
      const { diff } = (await entry(h, e.id)).body;
      const changed = diff.split('\n').filter((l: string) => /^[-+][^-+]/.test(l));
      expect(changed).toHaveLength(2);
      expect(changed[0]).toContain(e.path.slice(1));
    }
  });

  it('pages newest first with limit and before; a bad limit is 400; an unknown id 404', async () => {
    const h = await make();
    for (const v of [1, 2, 3, 4, 5]) await put(h, '/request-retry', v);
    const first = await list(h, '?limit=2');
    expect(first.body.entries.map((e: { id: string }) => e.id)).toEqual(['5', '4']);
    expect(first.body.next).toBe('4');
    const second = await list(h, '?limit=2&before=4');
    expect(second.body.entries.map((e: { id: string }) => e.id)).toEqual(['3', '2']);
    const last = await list(h, '?limit=2&before=2');
    expect(last.body).toEqual({ entries: [expect.objectContaining({ id: '1' })], next: null });
    expect((await list(h)).body.entries).toHaveLength(5);
    for (const bad of ['0', '501', 'x', '-1', '1.5']) {
      const res = await list(h, `?limit=${bad}`);
      expect([res.status, res.body]).toEqual([400, { error: 'invalid limit' }]);
    }
    for (const id of ['6', '0', 'abc', '99999999999999999999']) {
      const res = await entry(h, id);
      expect([res.status, res.body]).toEqual([404, { error: 'entry not found' }]);
      const rev = await revert(h, id);
      expect([rev.status, rev.body]).toEqual([404, { error: 'entry not found' }]);
    }
  });

  it('revert undoes one entry on top of the current config, keeping later changes by others; the revert is an entry', async () => {
    const h = await make();
    await put(h, '/debug', true);
    await put(h, '/request-retry', 9);
    const res = await revert(h, '1');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', id: '3' });
    const text = await h.stored();
    expect(text).toContain('debug: false   # flip me');
    expect(text).toContain('request-retry: 9');
    expect(text).toBe(fixtureWith().replace('request-retry: 3', 'request-retry: 9'));
    const e = await newest(h);
    expect(e).toMatchObject({
      id: '3',
      source: 'revert',
      method: 'POST',
      path: '/config/history/1/revert',
      'revert-of': '1',
      added: 1,
      removed: 1,
    });
    expect(e.client).toBeDefined();
  });

  it('a region changed by the entry and since is a 409 conflict naming the line; nothing changes', async () => {
    const h = await make();
    await put(h, '/debug', true);
    await put(h, '/debug', false);
    const text = await h.stored();
    const res = await revert(h, '1');
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: 'revert conflict', details: [{ line: 22 }] }); // the line of `debug:`
    expect(await h.stored()).toBe(text);
    expect((await list(h)).body.entries).toHaveLength(2);
  });

  it('a revert whose result is not a valid config is 422 with details; nothing changes', async () => {
    const h = await make(fixtureWith().replace('request-retry: 3', 'request-retry: "often"'));
    await put(h, '/request-retry', 4);
    const text = await h.stored();
    const res = await revert(h, '1');
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('invalid_config');
    expect(res.body.details).toEqual([{ message: expect.stringContaining('request-retry') }]);
    expect(await h.stored()).toBe(text);
  });

  it('the key never appears: a rotation through PUT /config.yaml shows "<hidden>", and its revert leaves the key as it is now', async () => {
    const h = await make();
    const upload = fixtureWith('a-brand-new-key').replace('debug: false', 'debug: true');
    const res = await request(h.app)
      .put(api('/config.yaml'))
      .set(auth)
      .set('Content-Type', 'application/yaml')
      .send(upload);
    expect(res.status).toBe(200);
    const rotated = await h.stored();
    const hash = /secret-key: "([^"]+)"/.exec(rotated)?.[1] as string;
    expect(hash).toMatch(/^\$2[aby]\$/);
    const as = { Authorization: 'Bearer a-brand-new-key' };
    const { diff } = (await entry(h, '1', as)).body;
    expect(diff).toContain('-  secret-key: "<hidden>"');
    expect(diff).toContain('+  secret-key: "<hidden>"');
    const everything = `${await h.raw()}${JSON.stringify((await list(h, '', as)).body)}${diff}${h.warnings.join('\n')}`;
    for (const secret of ['a-brand-new-key', hash, KEY, KEY_HASH, '$2'])
      expect(everything).not.toContain(secret);
    // Reverting the rotation undoes the debug change only: the new key stays.
    const back = await revert(h, '1', as);
    expect([back.status, back.body]).toEqual([200, { status: 'ok', id: '2' }]);
    const text = await h.stored();
    expect(text).toBe(rotated.replace('debug: true', 'debug: false'));
    expect((await request(h.app).get(api('/debug')).set(as)).status).toBe(200);
  });

  it('the start-up hashing write is a system entry; a key behind an alias or a << merge never appears either', async () => {
    const plain = 'plain-start-key';
    for (const label of ['plain', 'alias', 'merge'] as const) {
      // The PostgreSQL engine hashes a seed before storing it and refuses a plaintext key it cannot
      // hash in place (behind an alias or a merge): there the key behind them is a hash already.
      const secret = make === pgHost && label !== 'plain' ? KEY_HASH : plain;
      const as = { Authorization: `Bearer ${secret === KEY_HASH ? KEY : plain}` };
      const config = {
        plain: fixtureWith(plain),
        alias: fixtureWith('x')
          .replace('secret-key: "x"', 'secret-key: *k')
          .replace(
            '# Management API settings',
            `key-anchor:\n  the-key: &k "${secret}"\n\n# Management API settings`,
          ),
        merge: fixtureWith('x')
          .replace(
            'remote-management:\n',
            `key-base: &b\n  secret-key: "${secret}"\nremote-management:\n  <<: *b\n`,
          )
          .replace('\n  secret-key: "x"\n', '\n'),
      }[label];
      const h = await make(config);
      if (label !== 'merge')
        await eventually(async () => !(await h.stored()).includes(plain), 15_000);
      // An edit next to the key's line: the key is in the diff's context.
      const edited = (await h.stored()).replace(
        /^( *(?:secret-key|the-key): .*)$/m,
        '$1\n  # edited next to the key',
      );
      expect(edited).toContain('# edited next to the key');
      writeFileSync(h.configPath, edited);
      await eventually(
        async () =>
          ((await list(h, '', as)).body.entries ?? []).some(
            (e: { source: string }) => e.source === 'file',
          ),
        10_000,
      );
      const { entries } = (await list(h, '', as)).body;
      // The file engine's start-up hash is a system entry (PostgreSQL hashes a seed before the database holds it: no change, no entry).
      if (label !== 'merge' && make === fileHost)
        expect(entries.map((e: { source: string }) => e.source)).toEqual(['file', 'system']);
      const diffs = await Promise.all(
        entries.map(async (e: { id: string }) => (await entry(h, e.id, as)).body.diff as string),
      );
      expect(diffs[0]).toContain('"<hidden>"');
      const everything = `${await h.raw()}${diffs.join('')}${h.warnings.join('\n')}`;
      expect(everything).not.toContain(plain);
      expect(everything).not.toContain('$2');
      await Promise.all(hosts.splice(0).map((x) => x.close()));
    }
  });

  it('bounded: maxEntries and maxBytes drop the oldest entries (their ids answer 404)', async () => {
    const h = await make(fixtureWith(), { history: { maxEntries: 3 } });
    for (const v of [1, 2, 3, 4, 5]) await put(h, '/request-retry', v);
    expect((await list(h)).body.entries.map((e: { id: string }) => e.id)).toEqual(['5', '4', '3']);
    expect((await entry(h, '2')).status).toBe(404);
    expect((await entry(h, '3')).status).toBe(200);
    const small = await make(fixtureWith(), { history: { maxBytes: 1024 } });
    for (const v of [1, 2, 3, 4, 5]) await put(small, '/request-retry', v);
    const kept = (await list(small)).body.entries.map((e: { id: string }) => e.id);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(5);
    expect(kept[0]).toBe('5');
    expect((await entry(small, '1')).status).toBe(404);
  });

  it('history: false keeps nothing and mounts no route', async () => {
    const h = await make(fixtureWith(), { history: false });
    await put(h, '/debug', true);
    for (const res of [await list(h), await entry(h, '1'), await revert(h, '1')])
      expect([res.status, res.body]).toEqual([404, { error: 'not found' }]);
    expect(await h.raw()).toMatch(/^(|\[\])$/);
  });

  it('onChange listeners get the entry id; the revert answers with its own', async () => {
    const h = await make();
    const seen: ConfigChange[] = [];
    h.router.onChange((_c, change) => seen.push(change));
    await put(h, '/debug', true);
    await eventually(() => seen.length === 1);
    expect(seen[0]).toEqual({ source: 'api', id: '1', ids: ['1'] });
    const res = await revert(h, '1');
    await eventually(() => seen.length === 2);
    expect(seen[1]).toEqual({ source: 'api', id: res.body.id, ids: [res.body.id] });
  });

  it('an edit made outside the API is a file entry without a client', async () => {
    const h = await make();
    const edited = fixtureWith().replace('request-log: false', 'request-log: true');
    writeFileSync(h.configPath, edited);
    await eventually(async () => (await list(h)).body.entries?.length === 1, 10_000);
    const e = await newest(h);
    expect(e).toEqual({ id: '1', time: expect.any(String), source: 'file', added: 1, removed: 1 });
    expect((await entry(h, '1')).body.diff).toContain('+request-log: true');
  });

  it('auth-file changes are entries with their names, never their contents, and cannot be reverted', async () => {
    const h = await make();
    const up = await request(h.app)
      .post(api('/auth-files?name=a.json'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{"token":"tok-secret-123"}');
    expect(up.status).toBe(200);
    expect(await newest(h)).toEqual({
      id: '1',
      time: expect.any(String),
      source: 'api',
      method: 'POST',
      path: '/auth-files',
      client: expect.any(String),
      added: 0,
      removed: 0,
      files: ['a.json'],
    });
    expect((await entry(h, '1')).body.diff).toBe('--- config.yaml\n+++ config.yaml\n');
    expect([(await revert(h, '1')).status, (await revert(h, '1')).body]).toEqual([
      409,
      { error: 'not revertible' },
    ]);
    expect((await request(h.app).delete(api('/auth-files?name=a.json')).set(auth)).status).toBe(
      200,
    );
    expect(await newest(h)).toMatchObject({ id: '2', method: 'DELETE', files: ['a.json'] });
    expect(await h.raw()).not.toContain('tok-secret-123');
  });

  it('the OpenAPI document lists the three routes', async () => {
    const h = await make(fixtureWith(), { openapi: true });
    const doc = (await request(h.app).get(api('/openapi.json')).set(auth)).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/config/history',
        '/config/history/{id}',
        '/config/history/{id}/revert',
      ]),
    );
    expect(Object.keys(doc.paths['/config/history/{id}/revert'])).toContain('post');
    const off = await make(fixtureWith(), { openapi: true, history: false });
    const none = (await request(off.app).get(api('/openapi.json')).set(auth)).body;
    expect(Object.keys(none.paths).filter((p) => p.startsWith('/config/history'))).toEqual([]);
  });
});

describe('file engine: the journal', () => {
  it('lives next to the config, mode 0600, under its own name when given', async () => {
    const h = await fileHost();
    await put(h, '/debug', true);
    const journal = `${h.configPath}.history`;
    expect(statSync(journal).mode & 0o777).toBe(0o600);
    const named = await fileHost(fixtureWith(), { history: { file: 'elsewhere.jsonl' } });
    await put(named, '/debug', true);
    expect(existsSync(path.resolve('elsewhere.jsonl'))).toBe(true);
    rmSync(path.resolve('elsewhere.jsonl'));
  });

  it('a journal that cannot be written fails the config write (500) and changes nothing', async () => {
    const h = await fileHost();
    mkdirSync(`${h.configPath}.history`); // not a file: every append fails
    const before = readFileSync(h.configPath, 'utf8');
    const res = await request(h.app).put(api('/debug')).set(auth).send({ value: true });
    expect(res.status).toBe(500);
    expect(res.body.error).toMatch(/^failed to save config: /);
    expect(readFileSync(h.configPath, 'utf8')).toBe(before);
    expect(h.router.getConfig().debug).toBe(false);
  });

  it('a damaged journal is skipped line by line with a warning, never blocks a write and is not truncated', async () => {
    const h = await fileHost();
    await put(h, '/debug', true);
    const journal = `${h.configPath}.history`;
    appendFileSync(journal, '{"id": "2", broken\nnot json at all\n');
    await put(h, '/request-retry', 5);
    const { entries } = (await list(h)).body;
    expect(entries.map((e: { path: string }) => e.path)).toEqual(['/request-retry', '/debug']);
    expect(h.warnings.some((w) => /damaged line\(s\) of the history journal skipped/.test(w))).toBe(
      true,
    );
    expect(readFileSync(journal, 'utf8')).toContain('not json at all');
  });

  it('a group written to the journal whose config write never happened is not shown', async () => {
    const h = await fileHost();
    await put(h, '/debug', true);
    const journal = `${h.configPath}.history`;
    // What a crash between the journal's fsync and the config's rename leaves: an unmarked group.
    appendFileSync(
      journal,
      `${JSON.stringify({ id: '2', time: new Date().toISOString(), source: 'api', added: 1, removed: 1, hunks: '', g: '2', b: 'x', a: 'never' })}\n`,
    );
    expect((await list(h)).body.entries.map((e: { id: string }) => e.id)).toEqual(['1']);
    await put(h, '/request-retry', 5);
    expect((await list(h)).body.entries.map((e: { id: string }) => e.id)).toEqual(['3', '1']);
  });
});

describe('postgres engine: one history for every replica', () => {
  it('an entry written through one replica is read through another, ids in commit order', async () => {
    const a = await pgHost();
    const b = await pgHost(fixtureWith(), {}, a.ns);
    await put(a, '/debug', true);
    await put(b, '/request-retry', 8);
    for (const h of [a, b])
      expect(
        (await list(h)).body.entries.map((e: { id: string; path: string }) => `${e.id}${e.path}`),
      ).toEqual(['2/request-retry', '1/debug']);
    const res = await revert(b, '1');
    expect(res.status).toBe(200);
    await eventually(() => a.router.getConfig().debug === false);
  });
});
