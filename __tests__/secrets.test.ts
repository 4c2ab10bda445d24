import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import request from 'supertest';
import { createManagementRouter, ManagementError } from '../lib';
import { parseConfigText } from '../lib/yaml/text';
import { replaceSecret } from '../lib/config/secret';
import {
  auth,
  eventually,
  FIXTURE,
  fixtureWith,
  harness,
  KEY,
  KEY_HASH,
  type Harness,
  api,
} from './helpers';

/**
 * Secrets never in logs, errors or responses. Every failure path a key could leak through is
 * driven for real, with the router's logger captured.
 */
const SECRET = 'Zq9-plain-management-key-4711';

let h: Harness | undefined;
let logs: string[] = [];
const logger = { warn: (m: string) => logs.push(m) };
beforeEach(() => {
  logs = [];
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const noSecretIn = (...texts: string[]): void => {
  for (const t of texts) {
    expect(t).not.toContain(SECRET);
    expect(t).not.toContain(KEY);
    expect(t).not.toContain(KEY_HASH);
    expect(t).not.toContain(KEY_HASH.slice(7, 29)); // the salt part of the hash
  }
};

/** Files that a person could leave half-edited, with the key on the broken line. */
const BROKEN: readonly [string, string][] = [
  [
    'unclosed double quote',
    `remote-management:\n  secret-key: "${SECRET}\n  allow-remote: false\n`,
  ],
  ['unclosed single quote', `remote-management:\n  secret-key: '${SECRET}\n`],
  ['alias without anchor', `remote-management:\n  secret-key: *${SECRET}\n`],
  ['block scalar header', `remote-management:\n  secret-key: |${SECRET}\n`],
  ['bad escape', `remote-management:\n  secret-key: "\\x${SECRET}"\n`],
  ['nested mapping on the line', `remote-management:\n  secret-key: ${SECRET}: x\n`],
  ['unclosed flow sequence', `remote-management:\n  secret-key: [${SECRET}\n`],
  ['duplicate key', `remote-management:\n  secret-key: a\n  secret-key: ${SECRET}\n`],
  ['reserved start', `remote-management:\n  secret-key: @${SECRET}\n`],
  [
    'tag and token after a quoted value',
    `remote-management:\n  secret-key: "${SECRET}" ${SECRET}\n`,
  ],
  [
    'unexpected token in a flow map',
    `remote-management:\n  secret-key: {${SECRET}: a, ] ${SECRET}}\n`,
  ],
  ['tab indentation', `remote-management:\n\tsecret-key: ${SECRET}\n`],
];

describe('invalid YAML with the key on the broken line', () => {
  it.each(BROKEN)(
    '%s: refused at construction with a coded error that holds no part of the line',
    (_name, text) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'cpm-secret-'));
      try {
        const file = path.join(dir, 'config.yaml');
        writeFileSync(file, text);
        let thrown: unknown;
        try {
          createManagementRouter(file, path.join(dir, 'a'), { logger, watch: false });
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toBeInstanceOf(ManagementError);
        expect((thrown as ManagementError).code).toBe('ERR_CONFIG_INVALID');
        noSecretIn((thrown as Error).message, String((thrown as Error).stack), ...logs);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it.each(BROKEN)(
    '%s: written while running: the watcher warning, the 500 body and every log line hold no part of it; file untouched',
    async (_name, broken) => {
      h = harness(undefined, { logger });
      const text = `${fixtureWith().replace('remote-management:', 'old-remote-management:')}\n${broken}`;
      h.write(text);
      await eventually(() => logs.length > 0);
      const res = await request(h.app).put(api('/debug')).set(auth).send({ value: true });
      // The last good config keeps answering; the write is refused with the line number only.
      expect(res.status).toBe(500);
      expect(res.body.error).toMatch(/^failed to save config: /);
      noSecretIn(res.text, JSON.stringify(res.headers), ...logs);
      expect(h.read()).toBe(text);
    },
  );

  it('random breakage around a key never puts it in the reason (fast-check)', () => {
    const special = fc.constantFrom(
      '"',
      "'",
      '[',
      '{',
      ']',
      '}',
      '*',
      '&',
      '!',
      '|',
      '>',
      '%',
      '@',
      '`',
      ':',
      ': ',
      '#',
      ' #',
      '\t',
      '\\',
      '\\x',
      '- ',
      '? ',
      ',',
      '\n',
      '\n  ',
      '\n\t',
      '!!map ',
      '&a ',
      '*a ',
    );
    const secret = fc.stringMatching(/^[A-Za-z0-9]{10,24}$/).map((s) => `Zq9${s}`);
    fc.assert(
      fc.property(
        secret,
        fc.array(special, { maxLength: 4 }),
        fc.array(special, { maxLength: 4 }),
        fc.nat(4),
        (key, before, after, where) => {
          const line = `${before.join('')}${key}${after.join('')}`;
          const variants = [
            `remote-management:\n  secret-key: ${line}\n  allow-remote: false\n`,
            `remote-management:\n  secret-key: "${line}"\n`,
            `${line}\ndebug: true\n`,
            `remote-management:\n  ${line}: x\n`,
            `api-keys:\n  - ${line}\n`,
          ];
          const result = parseConfigText(variants[where] as string);
          if ('error' in result) expect(result.error).not.toContain(key);
        },
      ),
      { seed: 20251126, numRuns: 600 },
    );
  });

  it('a key inside a collection used as a map key is not printed as a process warning', () => {
    // `yaml` warns (process.emitWarning, on stderr) when it turns a collection key into a
    // string, quoting the collection: here the management key.
    const warned = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      for (const text of [
        `? [ ${SECRET} ]\n: x\n`,
        `remote-management:\n  ? { secret-key: ${SECRET} }\n  : x\n`,
        `? - ${SECRET}\n: x\n`,
      ]) {
        const result = parseConfigText(text);
        expect('error' in result ? result.error : 'parsed').not.toContain(SECRET);
      }
      expect(warned.mock.calls.map((c) => String(c[0]))).toEqual([]);
    } finally {
      warned.mockRestore();
    }
  });
});

/** Make a file or folder immutable, for root too (the suite runs as root here and in CI). */
function immutable(p: string): { undo(): void } {
  execFileSync('chattr', ['+i', p]);
  return { undo: () => execFileSync('chattr', ['-i', p]) };
}

describe('failed writes and key hashing failures', () => {
  it('a failed write (the file cannot be replaced) is a 500 without the key, and nothing in the logs', async () => {
    h = harness(undefined, { logger, watch: false });
    const before = h.read();
    const lock = immutable(h.configPath);
    let res: request.Response;
    try {
      res = await request(h.app)
        .put(api('/proxy-url'))
        .set(auth)
        .send({ value: `http://${SECRET}@proxy.example` });
    } finally {
      lock.undo();
    }
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'failed to save config: EPERM' });
    expect(h.read()).toBe(before);
    noSecretIn(res.text, ...logs);
  });

  it('a plaintext key that cannot be written back hashed: warned without the key, still usable, hashed once possible', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cpm-secret-'));
    const file = path.join(dir, 'config.yaml');
    const plain = FIXTURE.replace('KEY_PLACEHOLDER', SECRET);
    writeFileSync(file, plain);
    const lock = immutable(file);
    const router = createManagementRouter(file, path.join(dir, 'a'), { logger, bcryptRounds: 4 });
    try {
      await router.ready();
      expect(logs).toEqual([
        'cli-proxy-management: could not store the hashed management key (EPERM); it is compared in memory until then',
      ]);
      expect(readFileSync(file, 'utf8')).toBe(plain);
      const app = (await import('express')).default();
      app.use('/m', router);
      const ok = await request(app).get('/m/debug').set('Authorization', `Bearer ${SECRET}`);
      expect(ok.status).toBe(200);
      const wrong = await request(app).get('/m/debug').set('Authorization', `Bearer ${SECRET}x`);
      expect(wrong.status).toBe(401);
      noSecretIn(ok.text, wrong.text, ...logs);
    } finally {
      lock.undo();
      await router.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a file made unusable while running (a folder in its place): 500 without the key', async () => {
    h = harness(fixtureWith(), { logger, watch: false });
    rmSync(h.configPath);
    execFileSync('mkdir', [h.configPath]);
    const res = await request(h.app).put(api('/debug')).set(auth).send({ value: true });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'failed to save config: config file is not a regular file' });
    noSecretIn(res.text, ...logs);
    rmSync(h.configPath, { recursive: true });
    writeFileSync(h.configPath, fixtureWith());
  });
});

describe('nosniff and no-store on error paths', () => {
  it.each([
    ['401', (x: Harness) => request(x.app).get(api('/debug')), 401],
    ['404', (x: Harness) => request(x.app).get(api('/nope')).set(auth), 404],
    ['405', (x: Harness) => request(x.app).post(api('/debug')).set(auth), 405],
    [
      '400',
      (x: Harness) =>
        request(x.app)
          .put(api('/debug'))
          .set(auth)
          .set('Content-Type', 'application/json')
          .send('{'),
      400,
    ],
    [
      '413',
      (x: Harness) =>
        request(x.app)
          .put(api('/proxy-url'))
          .set(auth)
          .send({ value: `http://a.example/${'a'.repeat(4096)}` }),
      413,
    ],
  ] as const)('%s carries nosniff and no-store', async (_name, call, status) => {
    h = harness(undefined, { logger, bodyLimit: 2048 });
    const res = await call(h);
    expect(res.status).toBe(status);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it('500 carries nosniff and no-store, with a JSON body', async () => {
    h = harness(undefined, { logger, watch: false });
    const lock = immutable(h.configPath);
    let res: request.Response;
    try {
      res = await request(h.app).put(api('/debug')).set(auth).send({ value: true });
    } finally {
      lock.undo();
    }
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'failed to save config: EPERM' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('403 and 429 carry nosniff too', async () => {
    h = harness(fixtureWith(), { logger, maxAttempts: 1 });
    h.app.set('trust proxy', true);
    const remote = await request(h.app)
      .get(api('/debug'))
      .set(auth)
      .set('X-Forwarded-For', '203.0.113.9');
    expect(remote.status).toBe(403);
    await request(h.app).get(api('/debug')).set('Authorization', 'Bearer wrong');
    const locked = await request(h.app).get(api('/debug')).set(auth);
    expect(locked.status).toBe(429);
    for (const res of [remote, locked]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['cache-control']).toBe('no-store');
    }
  });
});

/** Issue 11, item 14: what the mutation run of lib/store/secret.ts showed untested. */
describe('which configured value is a key, and which a hash', () => {
  it.each([
    ['a word before a hash', `x${KEY_HASH}`],
    ['a word after a hash', `${KEY_HASH}x`],
    ['a one-digit cost', KEY_HASH.replace(/^\$2b\$04\$/, '$2b$4$')],
  ])(
    'a plaintext key that only looks like a hash (%s) is a plaintext key: hashed at start, and only it opens',
    async (_name, plain) => {
      expect(plain).not.toBe(KEY_HASH);
      h = harness(fixtureWith(plain), { logger });
      await h.router.ready();
      expect(h.read()).not.toContain(plain);
      const ok = await request(h.app).get(api('/debug')).set('Authorization', `Bearer ${plain}`);
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ debug: false });
      const wrong = await request(h.app).get(api('/debug')).set(auth);
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({ error: 'invalid management key' });
    },
  );

  it('an empty remote-management block falls back to the alias key', async () => {
    h = harness(`remote-management:\nremote-management-key: "${KEY_HASH}"\ndebug: true\n`, {
      logger,
    });
    const res = await request(h.app).get(api('/debug')).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ debug: true });
    expect(
      (await request(h.app).get(api('/debug')).set('Authorization', 'Bearer nope')).status,
    ).toBe(401);
  });
});

describe('replaceSecret never hashes over a key that changed meanwhile', () => {
  // The start-up hashing reads the plaintext, hashes it (slow), then writes through the queue: a
  // key edited in between must stay as edited, or the old key would keep opening the API.
  const HASH = KEY_HASH;
  const docOf = (text: string) => {
    const parsed = parseConfigText(text);
    if ('error' in parsed) throw new Error(parsed.error);
    return parsed.doc;
  };
  it.each([
    ['the key itself', 'remote-management:\n  secret-key: "new-key"\n'],
    ['the anchor of an alias', 'k: &k "new-key"\nremote-management:\n  secret-key: *k\n'],
    [
      'an alias to something that is not a scalar',
      'k: &k [ old-key ]\nremote-management:\n  secret-key: *k\n',
    ],
  ])('%s: left as it is when it no longer holds the plaintext that was hashed', (_what, text) => {
    const doc = docOf(text);
    replaceSecret(doc, ['remote-management', 'secret-key'], 'old-key', HASH);
    expect(doc.toString()).toBe(text);
  });

  it.each([
    [
      'the key itself',
      'remote-management:\n  secret-key: "old-key"\n',
      `remote-management:\n  secret-key: "${KEY_HASH}"\n`,
    ],
    [
      'the anchor of an alias',
      'k: &k "old-key"\nremote-management:\n  secret-key: *k\n',
      `k: &k "${KEY_HASH}"\nremote-management:\n  secret-key: *k\n`,
    ],
  ])('%s: replaced when it still holds it', (_what, text, expected) => {
    const doc = docOf(text);
    replaceSecret(doc, ['remote-management', 'secret-key'], 'old-key', HASH);
    expect(doc.toString()).toBe(expected);
  });
});
