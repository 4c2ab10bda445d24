// The storage seam: the router reads and writes only through the ConfigStore and TokenStore
// interfaces of the engine it is given; a store failure becomes the contract's answer in
// lib/http alone.
import express from 'express';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import {
  createManagementRouter,
  fileStorage,
  StoreError,
  type Storage,
  type TokenStore,
} from '../lib';
import { FolderTokenStore } from '../lib/engines/file/token-folder';
import { api, auth, eventually, fileConfig, fixtureWith } from './helpers';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-storage-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const quiet = { warn: () => undefined };

describe('the core over the file engine: mutateText', () => {
  it('stores the returned text as given, and a later doc mutation in the same group edits it', async () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'debug: false\n');
    const store = fileConfig(file, { logger: quiet });
    try {
      const uploaded = '# mine\ndebug: false   # spaced as I like\nrequest-retry: 3\n';
      await Promise.all([
        store.mutateText(() => uploaded),
        store.mutate((doc) => doc.set('debug', true)),
      ]);
      expect(readFileSync(file, 'utf8')).toBe(
        '# mine\ndebug: true # spaced as I like\nrequest-retry: 3\n',
      );
      expect(store.config).toEqual({ debug: true, 'request-retry': 3 });
    } finally {
      await store.close();
    }
  });

  it('a text that is not a usable config fails alone with SAVE_FAILED; its group still commits', async () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'debug: false\n');
    const store = fileConfig(file, { logger: quiet });
    try {
      const results = await Promise.allSettled([
        store.mutate((doc) => doc.set('request-log', true)),
        store.mutateText(() => 'a: [unclosed\n'),
        store.mutate((doc) => doc.set('debug', true)),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const reason = (results[1] as PromiseRejectedResult).reason as StoreError;
      expect(reason).toBeInstanceOf(StoreError);
      expect(reason.code).toBe('SAVE_FAILED');
      expect(readFileSync(file, 'utf8')).toBe('debug: true\nrequest-log: true\n');
    } finally {
      await store.close();
    }
  });
});

describe('the storage option', () => {
  /** The file engine, with its token store wrapped so a test can make it fail like a lost database. */
  function flakyTokens(fail: () => StoreError | undefined): Storage {
    const files = fileStorage();
    return {
      open(context) {
        const opened = files.open(context);
        const inner = opened.tokens;
        const guard = <T>(op: () => Promise<T>): Promise<T> => {
          const err = fail();
          return err ? Promise.reject(err) : op();
        };
        const tokens: TokenStore = {
          list: () => guard(() => inner.list()),
          read: (name) => guard(() => inner.read(name)),
          readAll: () => guard(() => inner.readAll()),
          write: (name, data) => guard(() => inner.write(name, data)),
          update: (name, edit) => guard(() => inner.update(name, edit)),
          remove: (name) => guard(() => inner.remove(name)),
          removeAll: () => guard(() => inner.removeAll()),
          close: () => inner.close(),
        };
        return { ...opened, tokens };
      },
    };
  }

  function mount(storage: Storage) {
    const configPath = path.join(dir, 'config.yaml');
    writeFileSync(configPath, fixtureWith(), { mode: 0o600 });
    const router = createManagementRouter(configPath, path.join(dir, 'auths'), {
      storage,
      watch: false,
    });
    const app = express();
    app.use('/v0/management', router);
    return { app, router };
  }

  it('routes go through the engine it opens', async () => {
    const { app, router } = mount(flakyTokens(() => undefined));
    try {
      await request(app).post(api('/auth-files?name=a.json')).set(auth).send('{"t":1}').expect(200);
      const res = await request(app).get(api('/auth-files')).set(auth).expect(200);
      expect(res.body.files.map((f: { name: string }) => f.name)).toEqual(['a.json']);
    } finally {
      await router.close();
    }
  });

  it.each([
    [new StoreError('UNAVAILABLE', '', 7), 503, { error: 'storage unavailable' }, '7'],
    [new StoreError('LIST_FAILED', 'EIO'), 500, { error: 'failed to list files: EIO' }, undefined],
    [new StoreError('NOT_REGULAR'), 409, { error: 'not a regular file' }, undefined],
  ])(
    'a store failure %s answers its status and body, and nothing else',
    async (err, status, body, retryAfter) => {
      const { app, router } = mount(flakyTokens(() => err));
      try {
        const res = await request(app).get(api('/auth-files')).set(auth).expect(status);
        expect(res.body).toEqual(body);
        expect(res.headers['retry-after']).toBe(retryAfter);
      } finally {
        await router.close();
      }
    },
  );

  it('a storage that is not an engine is refused at construction', () => {
    const configPath = path.join(dir, 'config.yaml');
    writeFileSync(configPath, fixtureWith());
    expect(() => createManagementRouter(configPath, dir, { storage: {} as Storage })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
  });
});

describe('FolderTokenStore.readAll', () => {
  it('every regular .json file with its bytes, sorted by name; symlinks, other names and a missing folder give nothing', async () => {
    const folder = path.join(dir, 'auths');
    const tokens = new FolderTokenStore(folder);
    try {
      expect(await tokens.readAll()).toEqual([]);
      mkdirSync(folder);
      writeFileSync(path.join(folder, 'b.json'), '{"b":1}');
      writeFileSync(path.join(folder, 'A.JSON'), '{}');
      writeFileSync(path.join(folder, 'notes.txt'), 'x');
      writeFileSync(path.join(dir, 'outside.json'), '{"secret":1}');
      symlinkSync(path.join(dir, 'outside.json'), path.join(folder, 'link.json'));
      const all = await tokens.readAll();
      expect(all.map((f) => [f.name, f.size, f.data.toString()])).toEqual([
        ['A.JSON', 2, '{}'],
        ['b.json', 7, '{"b":1}'],
      ]);
      const listed = await tokens.list();
      expect(all.map((f) => [f.name, f.modtime.getTime()])).toEqual(
        listed.map((f) => [f.name, f.modtime.getTime()]),
      );
    } finally {
      await tokens.close();
    }
  });

  it('reads a settled file once; a change in place (same size), a replacement or a removal is seen by the next listing', async () => {
    const folder = path.join(dir, 'auths');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'a.json'), '{"v":1}');
    writeFileSync(path.join(folder, 'b.json'), '{"v":2}');
    const tokens = new FolderTokenStore(folder);
    const reads = jest.spyOn(tokens, 'read');
    const contents = async (): Promise<string[][]> =>
      (await tokens.readAll()).map((f) => [f.name, f.data.toString()]);
    try {
      // Fresh files (changed less than 2 s ago) are read by every listing.
      expect(await contents()).toEqual([
        ['a.json', '{"v":1}'],
        ['b.json', '{"v":2}'],
      ]);
      expect(await contents()).toEqual([
        ['a.json', '{"v":1}'],
        ['b.json', '{"v":2}'],
      ]);
      expect(reads).toHaveBeenCalledTimes(4);
      // Once settled (ctime over 2 s old), one more read each, then none while nothing changes.
      const settled =
        Math.max(...['a.json', 'b.json'].map((n) => statSync(path.join(folder, n)).ctimeMs)) + 2100;
      await eventually(() => Date.now() > settled, 10_000);
      await contents();
      reads.mockClear();
      expect(await contents()).toEqual([
        ['a.json', '{"v":1}'],
        ['b.json', '{"v":2}'],
      ]);
      expect(reads).not.toHaveBeenCalled();
      writeFileSync(path.join(folder, 'a.json'), '{"v":3}'); // in place, same size
      writeFileSync(path.join(folder, 'c.tmp'), '{"v":4}');
      renameSync(path.join(folder, 'c.tmp'), path.join(folder, 'b.json'));
      expect(await contents()).toEqual([
        ['a.json', '{"v":3}'],
        ['b.json', '{"v":4}'],
      ]);
      expect(reads.mock.calls.map((c) => c[0]).sort()).toEqual(['a.json', 'b.json']);
      unlinkSync(path.join(folder, 'a.json'));
      expect(await contents()).toEqual([['b.json', '{"v":4}']]);
    } finally {
      await tokens.close();
    }
  });
});
