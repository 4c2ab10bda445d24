import request from 'supertest';
import { parse } from 'yaml';
import { auth, fixtureWith, harness, KEY_HASH, type Harness, api } from './helpers';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(() => h.close());

const onDisk = (): Record<string, unknown> => parse(h.read()) as Record<string, unknown>;

interface Row {
  path: string;
  field: string;
  read: (c: Record<string, unknown>) => unknown;
  initial: unknown;
  next: unknown;
  wrong: unknown[];
}

const rows: Row[] = [
  { path: '/debug', field: 'debug', read: (c) => c.debug, initial: false, next: true, wrong: ['true', 1, null, [], {}] },
  {
    path: '/proxy-url',
    field: 'proxy-url',
    read: (c) => c['proxy-url'],
    initial: '',
    next: 'socks5://user:pass@192.168.1.1:1080/',
    wrong: [true, 5, 'ftp://x.example', 'localhost:8080', 'http://', 'http://exa mple.com'],
  },
  {
    path: '/quota-exceeded/switch-project',
    field: 'switch-project',
    read: (c) => (c['quota-exceeded'] as Record<string, unknown>)['switch-project'],
    initial: true,
    next: false,
    wrong: ['false', 0],
  },
  {
    path: '/quota-exceeded/switch-preview-model',
    field: 'switch-preview-model',
    read: (c) => (c['quota-exceeded'] as Record<string, unknown>)['switch-preview-model'],
    initial: true,
    next: false,
    wrong: ['no'],
  },
  { path: '/request-log', field: 'request-log', read: (c) => c['request-log'], initial: false, next: true, wrong: [1] },
  { path: '/request-retry', field: 'request-retry', read: (c) => c['request-retry'], initial: 3, next: 7, wrong: [1.5, -1, '3', true, 1e300] },
  {
    path: '/allow-localhost-unauthenticated',
    field: 'allow-localhost-unauthenticated',
    read: (c) => c['allow-localhost-unauthenticated'],
    initial: false,
    next: true,
    wrong: ['yes'],
  },
];

describe.each(rows)('scalar $path', (row) => {
  it('GET answers the value under its field name', async () => {
    const res = await request(h.app).get(api(row.path)).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ [row.field]: row.initial });
  });

  it('PUT {"value": v} writes it to disk and GET reads it back', async () => {
    const res = await request(h.app).put(api(row.path)).set(auth).send({ value: row.next });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(row.read(onDisk())).toEqual(row.next);
    expect((await request(h.app).get(api(row.path)).set(auth)).body).toEqual({ [row.field]: row.next });
  });

  it('PATCH takes the GET shape {"<field>": v}', async () => {
    const res = await request(h.app).patch(api(row.path)).set(auth).send({ [row.field]: row.next });
    expect(res.status).toBe(200);
    expect(row.read(onDisk())).toEqual(row.next);
  });

  it('rejects wrongly typed values with 400 invalid body and leaves the file byte-identical', async () => {
    const before = h.read();
    for (const wrong of row.wrong) {
      const res = await request(h.app).put(api(row.path)).set(auth).send({ value: wrong });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid body');
      expect(res.body.details).toBeDefined();
    }
    expect(h.read()).toBe(before);
  });

  it('rejects a body without value or field', async () => {
    const res = await request(h.app).put(api(row.path)).set(auth).send({ other: row.next });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid body', details: `expected {"value": ...} or {"${row.field}": ...}` });
  });

  it('answers an absent key with its zero value', async () => {
    await h.close();
    h = harness(`remote-management:\n  secret-key: "${KEY_HASH}"\n`);
    const zero = typeof row.initial === 'boolean' ? false : typeof row.initial === 'number' ? 0 : '';
    expect((await request(h.app).get(api(row.path)).set(auth)).body).toEqual({ [row.field]: zero });
  });
});

describe('scalar details', () => {
  it('DELETE /proxy-url sets it to ""', async () => {
    await request(h.app).put(api('/proxy-url')).set(auth).send({ value: 'http://proxy.local:3128' });
    const res = await request(h.app).delete(api('/proxy-url')).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(onDisk()['proxy-url']).toBe('');
  });

  it.each(['http://proxy:8080', 'https://p.example/x', 'socks5h://10.0.0.1:1080', 'HTTP://UPPER.example', ''])(
    'accepts proxy-url %s',
    async (url) => {
      expect((await request(h.app).put(api('/proxy-url')).set(auth).send({ value: url })).status).toBe(200);
      expect(onDisk()['proxy-url']).toBe(url);
    },
  );

  it('405 with Allow for DELETE on a row without reset', async () => {
    const res = await request(h.app).delete(api('/debug')).set(auth);
    expect(res.status).toBe(405);
    expect(res.body).toEqual({ error: 'method not allowed' });
    expect(res.headers.allow).toBe('GET, HEAD, PUT, PATCH');
  });

  it('creates nested keys with their parent mapping when absent', async () => {
    await h.close();
    h = harness(`# mine\nremote-management:\n  secret-key: "${KEY_HASH}"\n`);
    expect((await request(h.app).put(api('/quota-exceeded/switch-project')).set(auth).send({ value: false })).status).toBe(200);
    expect(h.read()).toBe(`# mine\nremote-management:\n  secret-key: "${KEY_HASH}"\nquota-exceeded:\n  switch-project: false\n`);
  });

  it('turns an empty parent (`quota-exceeded:`) into a mapping', async () => {
    await h.close();
    h = harness(`remote-management:\n  secret-key: "${KEY_HASH}"\nquota-exceeded:\n`);
    expect((await request(h.app).put(api('/quota-exceeded/switch-preview-model')).set(auth).send({ value: true })).status).toBe(200);
    expect(onDisk()['quota-exceeded']).toEqual({ 'switch-preview-model': true });
  });

  it('409 when a parent holds something that is not a mapping, file untouched', async () => {
    await h.close();
    const text = `remote-management:\n  secret-key: "${KEY_HASH}"\nquota-exceeded: true\n`;
    h = harness(text);
    const res = await request(h.app).put(api('/quota-exceeded/switch-project')).set(auth).send({ value: true });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: 'config conflict', details: '"quota-exceeded" in the config file is not a mapping' });
    expect(h.read()).toBe(text);
  });

  it('keeps the quoting style of the value it replaces', async () => {
    await request(h.app).put(api('/proxy-url')).set(auth).send({ value: 'http://a.example' });
    expect(h.read()).toContain('proxy-url: "http://a.example"\n');
  });

  it('parses JSON whatever the Content-Type (curl -d sends form-urlencoded)', async () => {
    const res = await request(h.app)
      .put(api('/debug'))
      .set(auth)
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send('{"value":true}');
    expect(res.status).toBe(200);
    expect(onDisk().debug).toBe(true);
  });

  it('works mounted under any prefix', async () => {
    await h.close();
    h = harness(fixtureWith(), {}, '/admin/api');
    expect((await request(h.app).get('/admin/api/request-retry').set(auth)).body).toEqual({ 'request-retry': 3 });
  });
});
