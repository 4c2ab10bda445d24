import express from 'express';
import request from 'supertest';
import { auth, harness } from './helpers';

declare const EXPRESS_MAJOR: number;

/**
 * jest.config.js runs the suite once per Express major. This proves that the project really
 * loads that major, for the tests and for the library alike (the library's router is built
 * with the `express` it imports, so its `Router` must be that major's).
 */
describe(`Express ${EXPRESS_MAJOR}`, () => {
  it('the tests and the library load the Express major of this jest project', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pkg = require('express/package.json') as { version: string };
    expect(Number(pkg.version.split('.')[0])).toBe(EXPRESS_MAJOR);
    expect(require.resolve('express')).toContain(
      EXPRESS_MAJOR === 4 ? 'node_modules/express4/' : 'node_modules/express/',
    );
    // Express 5 dropped app.del and req.param; present only under 4.
    expect(
      typeof (express.application as unknown as Record<string, unknown>).del === 'function',
    ).toBe(EXPRESS_MAJOR === 4);
    const h = harness();
    try {
      const res = await request(h.app).get('/v0/management/debug').set(auth);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ debug: false });
    } finally {
      await h.close();
    }
  });
});
