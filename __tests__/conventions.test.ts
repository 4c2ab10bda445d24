import request from 'supertest';
import { auth, harness, type Harness, api } from './helpers';

let h: Harness;
beforeEach(() => {
  h = harness(undefined, { bodyLimit: 2048 });
});
afterEach(() => h.close());


describe('conventions', () => {
  it('404 JSON for an unknown path after access control', async () => {
    const res = await request(h.app).get(api('/no-such-thing')).set(auth);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not found' });
  });

  it('access control runs before the 404 (no probing without a key)', async () => {
    const res = await request(h.app).get(api('/no-such-thing'));
    expect(res.status).toBe(401);
  });

  it.each(['post', 'options'] as const)('405 JSON with Allow for %s on a scalar', async (method) => {
    const res = await request(h.app)[method](api('/debug')).set(auth);
    expect(res.status).toBe(405);
    expect(res.body).toEqual({ error: 'method not allowed' });
    expect(res.headers.allow).toBe('GET, HEAD, PUT, PATCH');
  });

  it.each([
    ['{"value": tru', 'truncated'],
    ['{value: true}', 'unquoted key'],
    ['', 'empty'],
    ['"just a string"', 'a JSON string'],
    ['[true]', 'an array'],
    ['null', 'null'],
  ])('400 invalid body for malformed or wrong-shaped JSON (%s: %s)', async (body) => {
    const before = h.read();
    const res = await request(h.app).put(api('/debug')).set(auth).set('Content-Type', 'application/json').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid body');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(h.read()).toBe(before);
  });

  it('413 JSON for a body over the limit, file untouched', async () => {
    const before = h.read();
    const res = await request(h.app).put(api('/proxy-url')).set(auth).send({ value: `http://x.example/${'a'.repeat(4096)}` });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: 'request body too large' });
    expect(h.read()).toBe(before);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses a body with a %s key anywhere', async (key) => {
    const before = h.read();
    const res = await request(h.app)
      .put(api('/debug'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send(`{"value": true, "x": {"${key}": {"polluted": true}}}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid body', details: 'forbidden key (__proto__, constructor or prototype)' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(h.read()).toBe(before);
  });
});
