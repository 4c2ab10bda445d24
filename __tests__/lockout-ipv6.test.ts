import request from 'supertest';
import { lockoutKey } from '../lib/http/access';
import { api, fixtureWith, harness, KEY, type Harness } from './helpers';

/**
 * IPv6 clients are counted by their `/ipv6Subnet` network; the option allows 32 to 128, so the
 * prefix need not fall on a byte (or a group) boundary. A /60 keeps the top 4 bits of the 8th
 * byte: `…:ab10::` to `…:ab1f:…` is one network, `…:ab20::` the next one (in the same /56).
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const remoteFixture = fixtureWith().replace('allow-remote: false', 'allow-remote: true');
const from = (x: Harness, ip: string, key: string) =>
  request(x.app)
    .get(api('/debug'))
    .set('X-Forwarded-For', ip)
    .set('Authorization', `Bearer ${key}`);

describe('ipv6Subnet off a byte boundary', () => {
  it('/60: addresses of one /60 share a count; the next /60 of the same /56 does not', async () => {
    h = harness(remoteFixture, { ipv6Subnet: 60 });
    h.app.set('trust proxy', true);
    for (let i = 0; i < 5; i++)
      expect((await from(h, `2001:db8:1:ab1${i.toString(16)}::${i + 1}`, 'wrong')).status).toBe(
        401,
      );
    const locked = await from(h, '2001:db8:1:ab1f:ffff:ffff:ffff:ffff', KEY);
    expect({ status: locked.status, body: locked.body }).toEqual({
      status: 429,
      body: { error: 'too many failed attempts' },
    });
    for (const ip of ['2001:db8:1:ab20::1', '2001:db8:1:ab0f:ffff::1']) {
      const res = await from(h, ip, KEY);
      expect({ ip, status: res.status, body: res.body }).toEqual({
        ip,
        status: 200,
        body: { debug: false },
      });
    }
  });

  it.each([
    ['2001:db8:1:ab1f:1:2:3:4', 60, '2001:db8:1:ab10::/60'],
    ['2001:db8:1:ab2f::', 60, '2001:db8:1:ab20::/60'],
    ['2001:db8:1:abff::', 57, '2001:db8:1:ab80::/57'],
    ['2001:db8:1:ab7f::', 57, '2001:db8:1:ab00::/57'],
    ['2001:db8:ffff::1', 33, '2001:db8:8000::/33'],
    ['2001:db8:1:ab1f:1:2:3:ff', 127, '2001:db8:1:ab1f:1:2:3:fe/127'],
  ])('lockoutKey(%s, /%d) is %s', (ip, bits, expected) => {
    expect(lockoutKey(ip, bits)).toBe(expected);
  });
});
