import request from 'supertest';
import { api, harness, KEY, type Harness } from './helpers';

/**
 * The lock-out counts a wrong key whichever way it is presented: `Authorization: Bearer <key>`,
 * a bare `Authorization: <key>`, or `X-Management-Key: <key>`. A form that did not count would
 * let a guesser try without limit through it.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

type Form = readonly [name: string, header: string, value: (key: string) => string];
const FORMS: readonly Form[] = [
  ['Authorization: Bearer', 'Authorization', (k) => `Bearer ${k}`],
  ['bare Authorization', 'Authorization', (k) => k],
  ['X-Management-Key', 'X-Management-Key', (k) => k],
];

const get = (x: Harness, [, header, value]: Form, key: string) =>
  request(x.app).get(api('/debug')).set(header, value(key));

describe('every form of the key counts toward the lock-out', () => {
  it.each(FORMS)(
    '5 wrong keys as %s lock the client out: the right key is then 429 in every form',
    async (...form) => {
      h = harness(undefined, { maxAttempts: 5 });
      for (let i = 0; i < 5; i++) {
        const res = await get(h, form, `wrong-${i}`);
        expect({ status: res.status, body: res.body }).toEqual({
          status: 401,
          body: { error: 'invalid management key' },
        });
      }
      for (const other of FORMS) {
        const res = await get(h, other, KEY);
        expect({ status: res.status, body: res.body }).toEqual({
          status: 429,
          body: { error: 'too many failed attempts' },
        });
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
    },
  );

  it('wrong keys in the three forms add up to one count', async () => {
    h = harness(undefined, { maxAttempts: 3 });
    for (const form of FORMS) expect((await get(h, form, 'wrong')).status).toBe(401);
    for (const form of FORMS) {
      const res = await get(h, form, KEY);
      expect({ status: res.status, body: res.body }).toEqual({
        status: 429,
        body: { error: 'too many failed attempts' },
      });
    }
  });

  it.each(FORMS)('the right key as %s resets the count of every form', async (...form) => {
    h = harness(undefined, { maxAttempts: 3 });
    for (const other of FORMS.slice(0, 2)) expect((await get(h, other, 'wrong')).status).toBe(401);
    expect((await get(h, form, KEY)).status).toBe(200);
    // A fresh count: two more wrong keys (of the 3 allowed) still leave the right key in.
    for (const other of FORMS.slice(1)) expect((await get(h, other, 'wrong')).status).toBe(401);
    const res = await get(h, FORMS[0]!, KEY);
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { debug: false } });
  });
});
