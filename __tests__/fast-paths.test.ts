/**
 * The shortcuts taken for speed (issue 6) keep the behaviour: the verified-key cache, the
 * memoised answers of the access check, and the group-commit diagnostics channel.
 */
import bcrypt from 'bcrypt';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { isSeq } from 'yaml';
import { isLocal } from '../lib/http/access';
import { buildLocalList } from '../lib/settings/local-addresses';
import { notFoundItem } from '../lib/http/errors';
import { COMMIT_CHANNEL, type ConfigStore, type CommitMessage } from '../lib/config/store';
import { allowRemote, configuredSecret, SecretVerifier } from '../lib/config/secret';
import { Snapshot } from '../lib/config/typed';
import { auth, fileConfig, fixtureWith, harness, KEY, KEY_HASH, type Harness } from './helpers';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('verified-key cache', () => {
  const remoteFixture = fixtureWith().replace('allow-remote: false', 'allow-remote: true');
  const from = (x: Harness, ip: string, key: string) =>
    request(x.app)
      .get('/v0/management/debug')
      .set('X-Forwarded-For', ip)
      .set('Authorization', `Bearer ${key}`);

  it('a key already cached is no way out of the lock-out', async () => {
    h = harness(remoteFixture);
    h.app.set('trust proxy', true);
    expect((await from(h, '198.51.100.20', KEY)).status).toBe(200); // now cached
    for (let i = 0; i < 5; i++)
      expect((await from(h, '198.51.100.20', `wrong-${i}`)).status).toBe(401);
    const locked = await from(h, '198.51.100.20', KEY);
    expect(locked.status).toBe(429);
    expect(locked.body).toEqual({ error: 'too many failed attempts' });
    expect((await from(h, '198.51.100.21', KEY)).status).toBe(200);
  });

  it('is dropped when the stored hash changes: the old key is refused, the new one accepted', async () => {
    h = harness();
    expect((await request(h.app).get('/v0/management/debug').set(auth)).status).toBe(200);
    const changed = h.nextChange();
    h.write(h.read().replace(KEY_HASH, bcrypt.hashSync('another-key', 4)));
    await changed;
    const old = await request(h.app).get('/v0/management/debug').set(auth);
    expect(old.status).toBe(401);
    expect(old.body).toEqual({ error: 'invalid management key' });
    expect(
      (await request(h.app).get('/v0/management/debug').set('Authorization', 'Bearer another-key'))
        .status,
    ).toBe(200);
  });

  it('SecretVerifier: verified() is true only for the key that passed, against the same stored value', async () => {
    const verifier = new SecretVerifier();
    expect(verifier.verified(KEY, KEY_HASH)).toBe(false);
    expect(await verifier.verify('wrong', KEY_HASH)).toBe(false);
    expect(verifier.verified('wrong', KEY_HASH)).toBe(false);
    expect(await verifier.verify(KEY, KEY_HASH)).toBe(true);
    expect(verifier.verified(KEY, KEY_HASH)).toBe(true);
    expect(verifier.verified(`${KEY}x`, KEY_HASH)).toBe(false);
    expect(verifier.verified(KEY, bcrypt.hashSync(KEY, 4))).toBe(false);
  });
});

describe('memoised answers of the access check', () => {
  it('isLocal answers per list: one address, two lists, each answer stays its own', () => {
    const plain = buildLocalList([]);
    const docker = buildLocalList(['172.17.0.0/16']);
    for (let i = 0; i < 3; i++) {
      expect(isLocal(plain, '172.17.0.5')).toBe(false);
      expect(isLocal(docker, '172.17.0.5')).toBe(true);
      expect(isLocal(docker, '::ffff:172.17.0.5')).toBe(true);
      expect(isLocal(plain, '::ffff:127.0.0.1')).toBe(true);
    }
  });

  it('configuredSecret and allowRemote answer for each snapshot, a new one for a changed config', () => {
    const config: Record<string, unknown> = {
      'remote-management': { 'secret-key': ' k1 ', 'allow-remote': false },
    };
    expect(configuredSecret(new Snapshot(config, '')).value).toBe('k1');
    expect(allowRemote(new Snapshot(config, ''))).toBe(false);
    config['remote-management'] = { 'secret-key': 'k2', 'allow-remote': true };
    expect(configuredSecret(new Snapshot(config, '')).value).toBe('k2');
    expect(allowRemote(new Snapshot(config, ''))).toBe(true);
  });

  it('the router follows a config change for the remote check (a new snapshot, a new answer)', async () => {
    h = harness();
    h.app.set('trust proxy', true);
    const remote = () =>
      request(h!.app).get('/v0/management/debug').set('X-Forwarded-For', '198.51.100.30').set(auth);
    expect((await remote()).status).toBe(403);
    const changed = h.nextChange();
    h.write(h.read().replace('allow-remote: false', 'allow-remote: true'));
    await changed;
    expect((await remote()).status).toBe(200);
  });
});

describe('commit diagnostics channel', () => {
  let dir: string;
  let store: ConfigStore | undefined;
  const messages: CommitMessage[] = [];
  const listener = (m: unknown): void => void messages.push(m as CommitMessage);

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cpm-channel-'));
    messages.length = 0;
    subscribe(COMMIT_CHANNEL, listener);
  });
  afterEach(async () => {
    unsubscribe(COMMIT_CHANNEL, listener);
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports each group commit: mutations, failures, and whether a file was written', async () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'debug: false\napi-keys:\n  - a\n');
    store = fileConfig(file);
    const setKey =
      (i: number, v: string) => (doc: Parameters<Parameters<ConfigStore['mutate']>[0]>[0]) => {
        const seq = doc.get('api-keys', true);
        if (!isSeq(seq) || i >= seq.items.length) throw notFoundItem();
        seq.set(i, v);
      };
    // The first mutation starts a commit at once; the next two arrive while it is in flight
    // and make one group, in which the second fails alone.
    const results = await Promise.allSettled([
      store.mutate(setKey(0, 'b')),
      store.mutate((doc) => doc.set('debug', true)),
      store.mutate(setKey(5, 'x')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(messages).toEqual([
      { mutations: 1, failed: 0, written: true },
      { mutations: 1, failed: 1, written: true },
    ]);
    // A group whose result is the text already on disk writes nothing, and says so.
    await store.mutate((doc) => doc.set('debug', true));
    expect(messages.at(-1)).toEqual({ mutations: 1, failed: 0, written: false });
    expect(readFileSync(file, 'utf8')).toBe('debug: true\napi-keys:\n  - b\n');
  });
});
