import request from 'supertest';
import { createManagementRouter, ManagementError } from '../lib';
import { auth, harness, type Harness, api } from './helpers';

const ORIGIN = 'https://panel.example';
const PREFLIGHT = {
  Origin: ORIGIN,
  'Access-Control-Request-Method': 'PUT',
  'Access-Control-Request-Headers': 'authorization, content-type',
};

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const corsHeaders = (headers: Record<string, string>): string[] =>
  Object.keys(headers).filter((k) => k.startsWith('access-control-'));

describe('CORS', () => {
  it('is off by default: a preflight is an ordinary OPTIONS (405) and no response has CORS headers', async () => {
    h = harness();
    const pre = await request(h.app).options(api('/debug')).set(PREFLIGHT).set(auth);
    expect(pre.status).toBe(405);
    expect(pre.body).toEqual({ error: 'method not allowed' });
    expect(corsHeaders(pre.headers)).toEqual([]);
    const res = await request(h.app).get(api('/debug')).set('Origin', ORIGIN).set(auth);
    expect(res.status).toBe(200);
    expect(corsHeaders(res.headers)).toEqual([]);
  });

  it('cors: true answers a real preflight with 204 and the three headers, without a key', async () => {
    h = harness(undefined, { cors: true });
    const before = h.read();
    const pre = await request(h.app).options(api('/debug')).set(PREFLIGHT);
    expect(pre.status).toBe(204);
    expect(pre.text).toBe('');
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-methods']).toBe(
      'GET, PUT, PATCH, POST, DELETE, OPTIONS',
    );
    expect(pre.headers['access-control-allow-headers']).toBe(
      'Authorization, X-Management-Key, Content-Type',
    );
    expect(pre.headers.vary ?? '').not.toMatch(/origin/i);
    expect(h.read()).toBe(before);
  });

  it('cors: true puts Allow-Origin on the actual request, on success and on errors', async () => {
    h = harness(undefined, { cors: true });
    const ok = await request(h.app)
      .put(api('/debug'))
      .set('Origin', ORIGIN)
      .set(auth)
      .send({ value: true });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ status: 'ok' });
    expect(ok.headers['access-control-allow-origin']).toBe('*');
    expect(ok.headers['access-control-expose-headers']).toBe(
      'X-CPA-VERSION, X-CPA-COMMIT, X-CPA-BUILD-DATE, X-CPA-SUPPORT-PLUGIN, Retry-After, Allow, Content-Disposition',
    );

    const before = h.read();
    const denied = await request(h.app)
      .put(api('/debug'))
      .set('Origin', ORIGIN)
      .send({ value: false });
    expect(denied.status).toBe(401);
    expect(denied.body).toEqual({ error: 'missing management key' });
    expect(denied.headers['access-control-allow-origin']).toBe('*');
    expect(h.read()).toBe(before);
  });

  it('a preflight is not a failed key attempt: many preflights do not lock anyone out', async () => {
    h = harness(undefined, { cors: true, maxAttempts: 2 });
    for (let i = 0; i < 4; i++) {
      const pre = await request(h.app)
        .options(api('/debug'))
        .set(PREFLIGHT)
        .set('Authorization', 'Bearer wrong');
      expect(pre.status).toBe(204);
    }
    const res = await request(h.app).get(api('/debug')).set('Origin', ORIGIN).set(auth);
    expect(res.status).toBe(200);
  });

  it('cors: { origin } allows that origin only and sets Vary: Origin on preflight and actual request', async () => {
    h = harness(undefined, { cors: { origin: ORIGIN } });
    const pre = await request(h.app).options(api('/request-retry')).set(PREFLIGHT);
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(pre.headers.vary).toMatch(/\bOrigin\b/);
    const res = await request(h.app).get(api('/request-retry')).set('Origin', ORIGIN).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ 'request-retry': 3 });
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(res.headers.vary).toMatch(/\bOrigin\b/);
  });

  it.each([[{ origin: '' }], [{ origin: 5 }], ['yes'], [1]])(
    'refuses cors: %j at construction',
    (cors) => {
      const call = () =>
        createManagementRouter(__filename, __dirname, { cors: cors as never, watch: false });
      expect(call).toThrow(ManagementError);
      expect(call).toThrow(/ERR_INVALID_OPTION: cors/);
    },
  );
});
