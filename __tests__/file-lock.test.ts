import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  utimesSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { parse } from 'yaml';
import { cleanupTempFiles } from '../lib/engines/file/atomic-write';
import { cleanupStaleLock, properFileLock } from '../lib/engines/file/file-lock';
import { createManagementRouter } from '../lib';
import { auth, eventually, fixtureWith, harness, staysTrue, type Harness } from './helpers';

let dir: string;
let h: Harness | undefined;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-lock-'));
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const quiet = { warn: () => undefined };
const age = (p: string, seconds: number): void => {
  const t = new Date(Date.now() - seconds * 1000);
  utimesSync(p, t, t);
};

describe('properFileLock', () => {
  it('serialises holders: the second waits until the first releases', async () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'a: 1\n');
    const lock = properFileLock({ staleMs: 10_000, timeoutMs: 5000, logger: quiet });
    const order: string[] = [];
    const release1 = await lock(file);
    expect(statSync(`${file}.lock`).isDirectory()).toBe(true);
    const second = lock(file).then((release) => {
      order.push('second acquired');
      return release;
    });
    await staysTrue(() => order.length === 0, 100); // not acquired while the first holds it
    order.push('first releasing');
    await release1();
    const release2 = await second;
    expect(order).toEqual(['first releasing', 'second acquired']);
    await release2();
    expect(readdirSync(dir)).toEqual(['config.yaml']);
  });

  it('takes over the lock of a dead process once it is stale', async () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'a: 1\n');
    mkdirSync(`${file}.lock`);
    age(`${file}.lock`, 3);
    const release = await properFileLock({ staleMs: 2000, timeoutMs: 1000, logger: quiet })(file);
    expect(statSync(`${file}.lock`).mtimeMs).toBeGreaterThan(Date.now() - 1000);
    await release();
    expect(readdirSync(dir)).toEqual(['config.yaml']);
  });

  it('gives up on a live lock after timeoutMs with a reason that holds no path', async () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'a: 1\n');
    mkdirSync(`${file}.lock`);
    const err = (await properFileLock({ staleMs: 10_000, timeoutMs: 100, logger: quiet })(
      file,
    ).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe('timed out waiting for the lock');
    expect(statSync(`${file}.lock`).isDirectory()).toBe(true);
  });
});

describe('cleanupStaleLock', () => {
  it('removes a stale lock folder, keeps a fresh one and never touches a file of that name', async () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'a: 1\n');
    mkdirSync(`${file}.lock`);
    expect(await cleanupStaleLock(file, 2000)).toBe(false);
    age(`${file}.lock`, 3);
    expect(await cleanupStaleLock(file, 2000)).toBe(true);
    expect(readdirSync(dir)).toEqual(['config.yaml']);
    writeFileSync(`${file}.lock`, 'a user file');
    age(`${file}.lock`, 3);
    expect(await cleanupStaleLock(file, 2000)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['config.yaml', 'config.yaml.lock']);
  });

  it('runs when a router starts', async () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, fixtureWith());
    mkdirSync(`${file}.lock`);
    age(`${file}.lock`, 3);
    const router = createManagementRouter(file, path.join(dir, 'auths'), {
      lockStaleMs: 2000,
      watch: false,
      logger: quiet,
    });
    try {
      await eventually(() => !readdirSync(dir).includes('config.yaml.lock'));
    } finally {
      await router.close();
    }
    // The takeover removes the stale folder and makes its own for a moment: gone for good once closed.
    expect(readdirSync(dir).sort()).toEqual(['config.yaml']);
  });

  it('is finished when close() resolves, even when the router is closed at once', async () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, fixtureWith());
    mkdirSync(`${file}.lock`);
    age(`${file}.lock`, 3);
    writeFileSync(
      path.join(dir, '.config.yaml.cpm-999999999-0a1b2c3d4e5f.tmp'),
      'left by a dead process',
    );
    const router = createManagementRouter(file, path.join(dir, 'auths'), {
      lockStaleMs: 2000,
      watch: false,
      logger: quiet,
    });
    await router.close();
    // Nothing of the start-up sweep is still running: the folder holds the config only, and stays so.
    expect(readdirSync(dir).sort()).toEqual(['config.yaml']);
  });
});

describe('the router holds the lock around each write', () => {
  it('waits while another process holds the lock, then writes', async () => {
    h = harness();
    const lockDir = `${h.configPath}.lock`;
    mkdirSync(lockDir); // "another process" holds the lock
    let answered = false;
    const put = request(h.app)
      .put('/v0/management/debug')
      .set(auth)
      .send({ value: true })
      .then((res) => {
        answered = true;
        return res;
      });
    await staysTrue(() => !answered, 300); // no answer while the lock is held
    expect(answered).toBe(false);
    expect(parse(h.read()).debug).toBe(false);
    rmdirSync(lockDir); // released
    const res = await put;
    expect(res.status).toBe(200);
    expect(parse(h.read()).debug).toBe(true);
    // The config and its history journal (written with the change), nothing else: no lock, no temp file.
    expect(
      readdirSync(h.dir)
        .filter((n) => n !== 'auths')
        .sort(),
    ).toEqual(['config.yaml', 'config.yaml.history']);
  });

  it('answers 500 with the reason and leaves the file when the lock cannot be taken', async () => {
    h = harness(undefined, { watch: false });
    const before = h.read();
    writeFileSync(`${h.configPath}.lock`, 'not a folder'); // a stale "lock" that rmdir cannot remove
    age(`${h.configPath}.lock`, 60);
    const res = await request(h.app).put('/v0/management/debug').set(auth).send({ value: true });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'failed to save config: cannot lock config file: ENOTDIR' });
    expect(h.read()).toBe(before);
  });

  it('neither the watcher nor the temp-file cleanup mistakes the lock folder for the config or a temp file', async () => {
    h = harness();
    const events: string[] = [];
    h.router.onChange((_c, change) => events.push(change.source));
    // The config changed through a hard link in another folder: the watched folder hears
    // nothing of it, so only a reload for the wrong reason (the lock folder) would pick it up.
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'cpm-link-'));
    try {
      const link = path.join(elsewhere, 'link.yaml');
      linkSync(h.configPath, link);
      writeFileSync(link, readFileSync(link, 'utf8').replace('debug: false', 'debug: true'));
      // A watcher of our own on the same folder tells when the lock folder's events were delivered.
      const seen: string[] = [];
      const spy = watch(h.dir, (_e, name) => seen.push(String(name)));
      try {
        mkdirSync(`${h.configPath}.lock`);
        rmdirSync(`${h.configPath}.lock`);
        await eventually(() => seen.filter((n) => n === 'config.yaml.lock').length >= 2);
      } finally {
        spy.close();
      }
      // A watcher that reloads on any name would now read debug: true (its debounce is 20 ms).
      await staysTrue(() => events.length === 0 && h!.router.getConfig().debug === false, 300);
      // The control: a real reload does see the linked change.
      await h.router.reload();
      expect(h.router.getConfig().debug).toBe(true);
      expect(events).toEqual(['file']);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
    mkdirSync(`${h.configPath}.lock`);
    expect(await cleanupTempFiles(h.configPath)).toBe(0);
    expect(statSync(`${h.configPath}.lock`).isDirectory()).toBe(true);
    rmdirSync(`${h.configPath}.lock`);
  });
});
