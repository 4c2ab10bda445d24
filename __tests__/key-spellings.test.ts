import bcrypt from 'bcrypt';
import request from 'supertest';
import { parse } from 'yaml';
import { api, auth, eventually, harness, KEY, KEY_HASH, type Harness } from './helpers';

/**
 * The management key however the YAML spells it: too long for bcrypt, an unquoted number, the
 * top-level alias next to the canonical key, a value reached through a `<<` merge. The key (or
 * its hash) never leaves in an answer, and the key that is checked is the text the admin wrote.
 */
let h: Harness;
afterEach(() => h?.close());

const putYaml = (text: string) =>
  request(h.app)
    .put(api('/config.yaml'))
    .set(auth)
    .set('Content-Type', 'application/yaml')
    .send(text);
/** The key as a header's bytes in UTF-8 (Node writes a header string as Latin-1). */
const withKey = (key: string) => ({
  Authorization: `Bearer ${Buffer.from(key, 'utf8').toString('latin1')}`,
});

async function refused(text: string, status: number, body: unknown): Promise<void> {
  const before = h.read();
  const res = await putYaml(text);
  expect({ status: res.status, body: res.body }).toEqual({ status, body });
  expect(h.read()).toBe(before);
}

describe('a key over 72 bytes (bcrypt reads only the first 72)', () => {
  const LONG = 'k'.repeat(107);
  const TOO_LONG = {
    error: 'invalid_config',
    message:
      'remote-management.secret-key: the management key is longer than 72 bytes (UTF-8), and bcrypt would check only its first 72',
  };

  it('PUT /config.yaml refuses it (422, nothing written), at either spelling; the admin keeps the key that works', async () => {
    h = harness();
    await refused(`remote-management:\n  secret-key: "${LONG}"\n`, 422, TOO_LONG);
    await refused(`remote-management-key: ${LONG}\n`, 422, {
      ...TOO_LONG,
      message: TOO_LONG.message.replace('remote-management.secret-key', 'remote-management-key'),
    });
    // 72 bytes of multi-byte characters: 25 × "é" is 50 bytes (fine), 37 is 74 bytes (refused).
    await refused(`remote-management:\n  secret-key: "${'é'.repeat(37)}"\n`, 422, TOO_LONG);
    expect((await request(h.app).get(api('/debug')).set(auth)).status).toBe(200);
    const ok = await putYaml(`remote-management:\n  secret-key: "${'é'.repeat(36)}"\n`);
    expect(ok.status).toBe(200);
    expect(
      (
        await request(h.app)
          .get(api('/debug'))
          .set(withKey('é'.repeat(36)))
      ).status,
    ).toBe(200);
  });
});

describe('an unquoted key is its text as written', () => {
  it.each([['0000000000000005332'], ['0x1F'], ['1e3'], ['0o17'], ['+12'], ['1_000']])(
    'secret-key: %s at start: that text is the key, hashed as that text',
    async (plain) => {
      h = harness(`remote-management:\n  secret-key: ${plain}\n`);
      await eventually(() => /\$2b\$04\$/.test(h.read()));
      const stored = (parse(h.read()) as { 'remote-management': { 'secret-key': string } })[
        'remote-management'
      ]['secret-key'];
      expect(await bcrypt.compare(plain, stored)).toBe(true);
      expect((await request(h.app).get(api('/debug')).set(withKey(plain))).status).toBe(200);
    },
  );

  it.each([
    ['0000000000000005332', '5332'],
    ['0x1F', '31'],
    ['1e3', '1000'],
  ])('PUT /config.yaml with secret-key: %s rotates to that text (not %s)', async (plain, read) => {
    h = harness();
    const res = await putYaml(`remote-management:\n  secret-key: ${plain}\n`);
    expect(res.status).toBe(200);
    const stored = (parse(h.read()) as { 'remote-management': { 'secret-key': string } })[
      'remote-management'
    ]['secret-key'];
    expect(await bcrypt.compare(plain, stored)).toBe(true);
    expect(await bcrypt.compare(read, stored)).toBe(false);
    expect((await request(h.app).get(api('/debug')).set(withKey(plain))).status).toBe(200);
  });
});

describe('every spelling of the key is hidden', () => {
  it('GET /config.yaml hides remote-management-key standing next to the canonical key (the one not in use too)', async () => {
    const OTHER = bcrypt.hashSync('another-key', 4);
    h = harness(
      `remote-management:\n  secret-key: "${KEY_HASH}"\nremote-management-key: "${OTHER}" # old\nplain: x\n`,
    );
    const res = await request(h.app).get(api('/config.yaml')).set(auth);
    expect(res.status).toBe(200);
    expect(res.text).toBe(
      `remote-management:\n  secret-key: "<hidden>"\nremote-management-key: "<hidden>" # old\nplain: x\n`,
    );
  });

  it('a GET-edit-PUT round trip keeps both spellings as they were', async () => {
    const OTHER = bcrypt.hashSync('another-key', 4);
    const text = `remote-management:\n  secret-key: "${KEY_HASH}"\nremote-management-key: "${OTHER}"\ndebug: false\n`;
    h = harness(text);
    const shown = (await request(h.app).get(api('/config.yaml')).set(auth)).text;
    const res = await putYaml(shown.replace('debug: false', 'debug: true'));
    expect(res.status).toBe(200);
    expect(h.read()).toBe(text.replace('debug: false', 'debug: true'));
  });
});

describe('a key reached through a << merge', () => {
  const MERGED = (key: string) =>
    `base: &b\n  secret-key: "${key}"\n  allow-remote: false\nremote-management:\n  <<: *b\ndebug: false\n`;

  it('is hashed where it stands (the anchored mapping), and neither GET shows the key or its hash', async () => {
    h = harness(MERGED(KEY));
    await eventually(() => !h.read().includes(KEY));
    expect(h.read()).toMatch(
      /^base: &b\n {2}secret-key: "\$2b\$04\$[./A-Za-z0-9]{53}"\n {2}allow-remote: false\nremote-management:\n {2}<<: \*b\ndebug: false\n$/,
    );
    const stored = (parse(h.read()) as { base: { 'secret-key': string } }).base['secret-key'];
    expect((await request(h.app).get(api('/debug')).set(auth)).status).toBe(200);
    const json = await request(h.app).get(api('/config')).set(auth);
    expect(json.status).toBe(200);
    expect(json.text).not.toContain(stored);
    expect(json.text).not.toContain(KEY);
    expect(json.body.base).toEqual({ 'secret-key': '<hidden>', 'allow-remote': false });
    const yaml = await request(h.app).get(api('/config.yaml')).set(auth);
    expect(yaml.status).toBe(200);
    expect(yaml.text).toBe(MERGED('<hidden>'));
  });

  it('a plaintext key behind a merge that cannot be hashed in place is warned about at every start, and never shown', async () => {
    // The anchored mapping is merged into two places: hashing it would change the other one too.
    const text = `base: &b\n  secret-key: "${KEY}"\nremote-management:\n  <<: *b\nother:\n  <<: *b\n`;
    const warnings: string[] = [];
    h = harness(text, { logger: { warn: (m: string) => warnings.push(m) } });
    await eventually(() =>
      warnings.some((w) => w.includes('could not store the hashed management key')),
    );
    expect(warnings.join('\n')).not.toContain(KEY);
    expect(h.read()).toBe(text);
    expect((await request(h.app).get(api('/debug')).set(auth)).status).toBe(200);
    const json = await request(h.app).get(api('/config')).set(auth);
    expect(json.text).not.toContain(KEY);
    const yaml = await request(h.app).get(api('/config.yaml')).set(auth);
    expect(yaml.text).not.toContain(KEY);
  });

  it('PUT /config.yaml with a new key behind a merge hashes it before the write', async () => {
    h = harness();
    const res = await putYaml(MERGED('a-merged-new-key'));
    expect(res.status).toBe(200);
    expect(h.read()).not.toContain('a-merged-new-key');
    expect((await request(h.app).get(api('/debug')).set(withKey('a-merged-new-key'))).status).toBe(
      200,
    );
  });
});
