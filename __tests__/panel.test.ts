import request from 'supertest';
import { createManagementRouter } from '../lib';
import { auth, fixtureWith, harness, KEY_HASH, type Harness } from './helpers';

const HOST_ROW = {
  kind: 'scalar',
  path: '/telemetry-enabled',
  key: 'telemetry-enabled',
  schema: { type: 'boolean' },
  description: 'Host row.',
} as const;

let h: Harness;
afterEach(() => h.close());

const panel = (p = '') => `/v0/management/panel${p}`;
const FILES = ['/', '/panel.js', '/panel.css', '/meta.json'];

describe('panel off (the default)', () => {
  beforeEach(() => {
    h = harness();
  });

  it('serves nothing: /panel/ is an ordinary unknown path behind the key check', async () => {
    const noKey = await request(h.app).get(panel('/'));
    expect(noKey.status).toBe(401);
    expect(noKey.body).toEqual({ error: 'missing management key' });
    const withKey = await request(h.app).get(panel('/panel.js')).set(auth);
    expect(withKey.status).toBe(404);
    expect(withKey.body).toEqual({ error: 'not found' });
  });
});

describe('panel on', () => {
  beforeEach(() => {
    h = harness(fixtureWith(), { panel: true, resources: [HOST_ROW] });
  });

  it('redirects /panel to panel/ (relative, so any mount point works)', async () => {
    const res = await request(h.app).get(panel());
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('panel/');
  });

  it.each([
    ['/', 'text/html; charset=utf-8'],
    ['/panel.js', 'text/javascript; charset=utf-8'],
    ['/panel.css', 'text/css; charset=utf-8'],
    ['/meta.json', 'application/json; charset=utf-8'],
  ])('serves %s without a key, with its Content-Type and a strict CSP', async (p, type) => {
    const res = await request(h.app).get(panel(p));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(type);
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });

  it('the page has no inline script or style and loads nothing from another host', async () => {
    const res = await request(h.app).get(panel('/'));
    const html = res.text;
    expect(html).toContain('<script src="panel.js" defer></script>');
    expect(html).toContain('<link rel="stylesheet" href="panel.css">');
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('the script never uses an HTML sink or eval', async () => {
    const js = (await request(h.app).get(panel('/panel.js'))).text;
    expect(js.length).toBeGreaterThan(1000);
    for (const sink of [
      'innerHTML',
      'outerHTML',
      'insertAdjacentHTML',
      'document.write',
      'eval(',
      'new Function',
      'localStorage',
    ]) {
      expect(js).not.toContain(sink);
    }
    expect(js).toContain('sessionStorage');
    expect(js).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  });

  it('meta.json describes every row of the table, host rows included, and no config value', async () => {
    const res = await request(h.app).get(panel('/meta.json'));
    const rows = res.body.rows as { kind: string; path: string; field: string }[];
    expect(res.body.version).toBe(1);
    expect(rows.map((r) => r.path)).toEqual(h.router.resources.map((r) => r.path));
    expect(rows).toContainEqual({
      kind: 'scalar',
      path: '/telemetry-enabled',
      field: 'telemetry-enabled',
      description: 'Host row.',
      schema: { type: 'boolean' },
    });
    expect(rows).toContainEqual(
      expect.objectContaining({
        kind: 'scalar',
        path: '/proxy-url',
        field: 'proxy-url',
        resetValue: '',
      }),
    );
    expect(res.text).not.toContain(KEY_HASH);
    expect(res.text).not.toContain('"debug":false');
  });

  it('other methods and unknown panel paths stay behind the key check', async () => {
    const post = await request(h.app).post(panel('/meta.json'));
    expect(post.status).toBe(401);
    expect(post.body).toEqual({ error: 'missing management key' });
    const unknown = await request(h.app).get(panel('/nothing.js')).set(auth);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: 'not found' });
  });

  it.each(FILES)('a remote client gets 403 for %s while remote management is off', async (p) => {
    h.app.set('trust proxy', true);
    const before = h.read();
    const res = await request(h.app).get(panel(p)).set('X-Forwarded-For', '203.0.113.7');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'remote management disabled' });
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(h.read()).toBe(before);
  });

  it('a remote client gets the panel once allow-remote is true (API calls still need the key)', async () => {
    await h.router.close();
    h = harness(fixtureWith().replace('allow-remote: false', 'allow-remote: true'), {
      panel: true,
    });
    h.app.set('trust proxy', true);
    const page = await request(h.app).get(panel('/')).set('X-Forwarded-For', '203.0.113.7');
    expect(page.status).toBe(200);
    const api = await request(h.app)
      .get('/v0/management/debug')
      .set('X-Forwarded-For', '203.0.113.7');
    expect(api.status).toBe(401);
    expect(api.body).toEqual({ error: 'missing management key' });
  });

  it('is invisible while no management key is configured (the host answers)', async () => {
    await h.router.close();
    h = harness(fixtureWith(''), { panel: true });
    h.app.use((_req, res) => {
      res.status(404).json({ host: 'not found' });
    });
    for (const p of FILES) {
      const res = await request(h.app).get(panel(p));
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ host: 'not found' });
    }
  });

  it('works under another mount point', async () => {
    await h.router.close();
    h = harness(fixtureWith(), { panel: true }, '/admin');
    const res = await request(h.app).get('/admin/panel/');
    expect(res.status).toBe(200);
    expect((await request(h.app).get('/admin/panel')).headers.location).toBe('panel/');
  });
});

describe('option', () => {
  it('refuses a non-boolean panel option at construction', () => {
    h = harness();
    expect(() =>
      createManagementRouter(h.configPath, h.authDir, {
        panel: 'yes' as unknown as boolean,
        watch: false,
      }),
    ).toThrow(/ERR_INVALID_OPTION: panel must be a boolean/);
  });
});
