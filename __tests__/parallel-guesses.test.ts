import bcrypt from 'bcrypt';
import type { Server } from 'node:http';
import request from 'supertest';
import { api, fixtureWith, harness, KEY, type Harness } from './helpers';

/**
 * Requests whose key is being checked wait for that check instead of counting again, but only
 * requests of the same client with the same key: guesses of other clients, or other keys,
 * arriving while a check is in flight are judged on their own.
 */
jest.setTimeout(60_000);

let h: Harness | undefined;
let server: Server | undefined;
afterEach(async () => {
  if (server) await new Promise((resolve) => server!.close(resolve));
  server = undefined;
  await h?.close();
  h = undefined;
});

const remoteAllowed = (hash: string): string =>
  fixtureWith(hash).replace('allow-remote: false', 'allow-remote: true');

describe('guesses in flight together', () => {
  it('a wrong key and the right key from two clients at once: 401 and 200, each judged on its own', async () => {
    // The cost real keys have (10): a compare takes long enough for the two to overlap.
    h = harness(remoteAllowed(bcrypt.hashSync(KEY, 10)));
    h.app.set('trust proxy', true);
    server = h.app.listen(0, '127.0.0.1');
    const send = (ip: string, key: string) =>
      request(server!)
        .get(api('/debug'))
        .set('X-Forwarded-For', ip)
        .set('Authorization', `Bearer ${key}`);
    const [wrong, right, wrongToo] = await Promise.all([
      send('198.51.100.70', 'wrong'),
      send('198.51.100.71', KEY),
      send('198.51.100.71', 'wrong-too'),
    ]);
    expect({ status: wrong.status, body: wrong.body }).toEqual({
      status: 401,
      body: { error: 'invalid management key' },
    });
    expect({ status: right.status, body: right.body }).toEqual({
      status: 200,
      body: { debug: false },
    });
    expect({ status: wrongToo.status, body: wrongToo.body }).toEqual({
      status: 401,
      body: { error: 'invalid management key' },
    });
  });
});
