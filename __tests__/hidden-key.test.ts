import request from 'supertest';
import { api, auth, KEY_HASH, harness, type Harness } from './helpers';

/**
 * `GET /config.yaml` shows every scalar holding the management key as `"<hidden>"`: when the same
 * hash is stored twice (under `secret-key` and under its alias `remote-management-key`) both
 * are replaced, in one pass over the text, and no part of the hash is served.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Every 8-character piece of the hash after its `$2b$04$` prefix (the salt and digest). */
const pieces = (hash: string): string[] =>
  Array.from({ length: hash.length - 7 - 7 }, (_, i) => hash.slice(7 + i, 7 + i + 8));

const getYaml = (x: Harness) => request(x.app).get(api('/config.yaml')).set(auth);

describe('GET /config.yaml with the key stored twice', () => {
  it.each([
    [
      'double-quoted, canonical first',
      (k: string) =>
        `# head\nremote-management:\n  allow-remote: false\n  secret-key: "${k}" # main\nremote-management-key: "${k}"\ndebug: true\n`,
    ],
    [
      'alias first, mixed quoting',
      (k: string) =>
        `remote-management-key: '${k}'\nport: 8317\nremote-management:\n  secret-key: ${k}\n  allow-remote: false\n`,
    ],
    [
      'both on one line (flow)',
      (k: string) =>
        `remote-management: { secret-key: "${k}" }\nremote-management-key: "${k}" # again\n`,
    ],
  ])(
    '%s: both ranges become "<hidden>", every other byte kept, no piece of the hash served',
    async (_name, text) => {
      h = harness(text(KEY_HASH));
      await h.router.ready();
      expect(h.read()).toBe(text(KEY_HASH)); // stored as written
      const res = await getYaml(h);
      expect(res.status).toBe(200);
      expect(res.text).toBe(
        text('<hidden>').replace(/(?<!")<hidden>(?!")|'<hidden>'/g, '"<hidden>"'),
      );
      for (const piece of pieces(KEY_HASH)) expect(res.text).not.toContain(piece);
    },
  );

  it('the key three times (an anchor, an alias of it, and a copy): one hidden value each, the alias kept', async () => {
    const text = (k: string) =>
      `x: &k "${k}"\nremote-management:\n  secret-key: *k\nremote-management-key: "${k}"\ntail: 1\n`;
    h = harness(text(KEY_HASH));
    const res = await getYaml(h);
    expect(res.status).toBe(200);
    expect(res.text).toBe(text('<hidden>'));
    for (const piece of pieces(KEY_HASH)) expect(res.text).not.toContain(piece);
  });
});
