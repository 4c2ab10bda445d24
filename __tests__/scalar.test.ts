import request from 'supertest';
import { api, auth, fixtureWith, type Harness, harness, KEY_HASH } from './helpers';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(() => h.close());

interface Row {
  path: string;
  field: string;
  read: (c: Record<string, unknown>) => unknown;
  initial: unknown;
  next: unknown;
  wrong: unknown[];
  /** What an absent key reads as, when not the zero value of its type. */
  absent?: unknown;
}

const rows: Row[] = [
  {
    path: '/debug',
    field: 'debug',
    read: (c) => c.debug,
    initial: false,
    next: true,
    wrong: ['true', 1, null, [], {}],
  },
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
  {
    path: '/request-log',
    field: 'request-log',
    read: (c) => c['request-log'],
    initial: false,
    next: true,
    wrong: [1],
  },
  {
    path: '/request-retry',
    field: 'request-retry',
    read: (c) => c['request-retry'],
    initial: 3,
    next: 7,
    wrong: [1.5, -1, '3', true, 1e300],
  },
  {
    path: '/allow-localhost-unauthenticated',
    field: 'allow-localhost-unauthenticated',
    read: (c) => c['allow-localhost-unauthenticated'],
    initial: false,
    next: true,
    wrong: ['yes'],
  },
  // Section 10.4 (absent in the fixture: `initial` is the absent value).
  {
    path: '/logging-to-file',
    field: 'logging-to-file',
    read: (c) => c['logging-to-file'],
    initial: false,
    next: true,
    wrong: ['true', 0],
  },
  {
    path: '/usage-statistics-enabled',
    field: 'usage-statistics-enabled',
    read: (c) => c['usage-statistics-enabled'],
    initial: false,
    next: true,
    wrong: [1],
  },
  {
    path: '/ws-auth',
    field: 'ws-auth',
    read: (c) => c['ws-auth'],
    initial: true,
    absent: true,
    next: false,
    wrong: ['false', null],
  },
  {
    path: '/force-model-prefix',
    field: 'force-model-prefix',
    read: (c) => c['force-model-prefix'],
    initial: false,
    next: true,
    wrong: ['on'],
  },
  {
    path: '/logs-max-total-size-mb',
    field: 'logs-max-total-size-mb',
    read: (c) => c['logs-max-total-size-mb'],
    initial: 0,
    next: 512,
    wrong: [-1, 1.5, '5'],
  },
  {
    path: '/error-logs-max-files',
    field: 'error-logs-max-files',
    read: (c) => c['error-logs-max-files'],
    initial: 10,
    absent: 10,
    next: 0,
    wrong: [-1, 2.5, true],
  },
  {
    path: '/max-retry-credentials',
    field: 'max-retry-credentials',
    read: (c) => c['max-retry-credentials'],
    initial: 0,
    next: 3,
    wrong: [-2, '3'],
  },
  {
    path: '/max-retry-interval',
    field: 'max-retry-interval',
    read: (c) => c['max-retry-interval'],
    initial: 0,
    next: -5,
    wrong: [0.5, '30', 1e300],
  },
  {
    path: '/routing/strategy',
    field: 'strategy',
    read: (c) => (c.routing as Record<string, unknown>).strategy,
    initial: 'round-robin',
    absent: 'round-robin',
    next: 'fill-first',
    wrong: [1, true, null],
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
    expect(row.read(h.onDisk())).toEqual(row.next);
    expect((await request(h.app).get(api(row.path)).set(auth)).body).toEqual({
      [row.field]: row.next,
    });
  });

  it('PATCH takes the GET shape {"<field>": v}', async () => {
    const res = await request(h.app)
      .patch(api(row.path))
      .set(auth)
      .send({ [row.field]: row.next });
    expect(res.status).toBe(200);
    expect(row.read(h.onDisk())).toEqual(row.next);
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
    expect(res.body).toEqual({
      error: 'invalid body',
      details: `expected {"value": ...} or {"${row.field}": ...}`,
    });
  });

  it('answers an absent key with its zero value', async () => {
    await h.close();
    h = harness(`remote-management:\n  secret-key: "${KEY_HASH}"\n`);
    const zero =
      row.absent ??
      (typeof row.initial === 'boolean' ? false : typeof row.initial === 'number' ? 0 : '');
    expect((await request(h.app).get(api(row.path)).set(auth)).body).toEqual({ [row.field]: zero });
  });
});

describe('scalar details', () => {
  it('DELETE /proxy-url sets it to ""', async () => {
    await request(h.app)
      .put(api('/proxy-url'))
      .set(auth)
      .send({ value: 'http://proxy.local:3128' });
    const res = await request(h.app).delete(api('/proxy-url')).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(h.onDisk()['proxy-url']).toBe('');
  });

  it.each([
    'http://proxy:8080',
    'https://p.example/x',
    'socks5h://10.0.0.1:1080',
    'HTTP://UPPER.example',
    '',
  ])('accepts proxy-url %s', async (url) => {
    expect(
      (await request(h.app).put(api('/proxy-url')).set(auth).send({ value: url })).status,
    ).toBe(200);
    expect(h.onDisk()['proxy-url']).toBe(url);
  });

  it('405 with Allow for DELETE on a row without reset', async () => {
    const res = await request(h.app).delete(api('/debug')).set(auth);
    expect(res.status).toBe(405);
    expect(res.body).toEqual({ error: 'method not allowed' });
    expect(res.headers.allow).toBe('GET, HEAD, PUT, PATCH');
  });

  it('creates nested keys with their parent mapping when absent', async () => {
    await h.close();
    h = harness(`# mine\nremote-management:\n  secret-key: "${KEY_HASH}"\n`);
    expect(
      (
        await request(h.app)
          .put(api('/quota-exceeded/switch-project'))
          .set(auth)
          .send({ value: false })
      ).status,
    ).toBe(200);
    expect(h.read()).toBe(
      `# mine\nremote-management:\n  secret-key: "${KEY_HASH}"\nquota-exceeded:\n  switch-project: false\n`,
    );
  });

  it('turns an empty parent (`quota-exceeded:`) into a mapping', async () => {
    await h.close();
    h = harness(`remote-management:\n  secret-key: "${KEY_HASH}"\nquota-exceeded:\n`);
    expect(
      (
        await request(h.app)
          .put(api('/quota-exceeded/switch-preview-model'))
          .set(auth)
          .send({ value: true })
      ).status,
    ).toBe(200);
    expect(h.onDisk()['quota-exceeded']).toEqual({ 'switch-preview-model': true });
  });

  it('409 when a parent holds something that is not a mapping, file untouched', async () => {
    await h.close();
    const text = `remote-management:\n  secret-key: "${KEY_HASH}"\nquota-exceeded: true\n`;
    h = harness(text);
    const res = await request(h.app)
      .put(api('/quota-exceeded/switch-project'))
      .set(auth)
      .send({ value: true });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: 'config conflict',
      details: '"quota-exceeded" in the config file is not a mapping',
    });
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
    expect(h.onDisk().debug).toBe(true);
  });

  it('works mounted under any prefix', async () => {
    await h.close();
    h = harness(fixtureWith(), {}, '/admin/api');
    expect((await request(h.app).get('/admin/api/request-retry').set(auth)).body).toEqual({
      'request-retry': 3,
    });
  });
});

describe('routing.strategy (section 10.4)', () => {
  it.each([
    ['', 'round-robin'],
    [' RoundRobin ', 'round-robin'],
    ['rr', 'round-robin'],
    ['Weighted-Round-Robin', 'weighted-round-robin'],
    ['weightedroundrobin', 'weighted-round-robin'],
    ['WRR', 'weighted-round-robin'],
    ['fillfirst', 'fill-first'],
    ['ff', 'fill-first'],
  ])('%j is stored as its canonical name %j', async (input, stored) => {
    const res = await request(h.app).put(api('/routing/strategy')).set(auth).send({ value: input });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { status: 'ok' } });
    expect(h.read()).toMatch(new RegExp(`\\nrouting:\\n  strategy: ${stored}\\n`));
    expect((await request(h.app).get(api('/routing/strategy')).set(auth)).body).toEqual({
      strategy: stored,
    });
  });

  it('an unknown name is 400 invalid strategy, file untouched', async () => {
    const before = h.read();
    const res = await request(h.app)
      .put(api('/routing/strategy'))
      .set(auth)
      .send({ strategy: 'fastest' });
    expect({ status: res.status, body: res.body }).toEqual({
      status: 400,
      body: { error: 'invalid strategy' },
    });
    expect(h.read()).toBe(before);
  });

  it('GET shows a stored alias by its canonical name and an unknown stored value trimmed', async () => {
    await h.close();
    h = harness(`remote-management:\n  secret-key: "${KEY_HASH}"\nrouting:\n  strategy: " WRR "\n`);
    expect((await request(h.app).get(api('/routing/strategy')).set(auth)).body).toEqual({
      strategy: 'weighted-round-robin',
    });
    await h.close();
    h = harness(
      `remote-management:\n  secret-key: "${KEY_HASH}"\nrouting:\n  strategy: "  Sticky "\n`,
    );
    expect((await request(h.app).get(api('/routing/strategy')).set(auth)).body).toEqual({
      strategy: 'Sticky',
    });
  });
});
