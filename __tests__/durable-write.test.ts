import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { api, auth, harness, type Harness } from './helpers';

/**
 * A write is durable only once the folder entry made by the rename is on disk: the file engine
 * renames a synced temp file over the target, then fsyncs the folder. Only a power loss would
 * show a missing folder fsync, so the file system calls are watched (the real calls run: the
 * spies only record them, in order).
 */
let h: Harness | undefined;
afterEach(async () => {
  jest.restoreAllMocks();
  await h?.close();
  h = undefined;
});

/** Records `rename <to>` and `sync <path opened>` (file and folder fsyncs through `fs.promises`), in order. */
function recordFsCalls(): string[] {
  const calls: string[] = [];
  const realOpen = fs.promises.open.bind(fs.promises);
  const realRename = fs.promises.rename.bind(fs.promises);
  jest.spyOn(fs.promises, 'open').mockImplementation(async (file, flags, mode) => {
    const handle = await realOpen(file, flags, mode);
    const realSync = handle.sync.bind(handle);
    handle.sync = async () => {
      calls.push(`sync ${String(file)}`);
      return realSync();
    };
    return handle;
  });
  jest.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
    calls.push(`rename ${String(to)}`);
    return realRename(from, to);
  });
  return calls;
}

/** The calls from the rename onto `file`: the rename, then (somewhere after it) the fsync of its folder. */
function expectFolderSyncedAfterRename(calls: readonly string[], file: string): void {
  const renamed = calls.indexOf(`rename ${file}`);
  expect(renamed).toBeGreaterThanOrEqual(0);
  expect(calls.slice(renamed + 1)).toContain(`sync ${path.dirname(file)}`);
  // And the data was synced before the rename (the temp file, in the same folder).
  expect(
    calls.slice(0, renamed).some((c) => c.startsWith(`sync ${path.dirname(file)}${path.sep}.`)),
  ).toBe(true);
}

describe('the folder is synced after each rename', () => {
  it('a config write (PUT): temp synced, renamed over config.yaml, then the folder synced', async () => {
    h = harness();
    await h.router.ready();
    const calls = recordFsCalls();
    const res = await request(h.app).put(api('/debug')).set(auth).send({ value: true });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { status: 'ok' } });
    expect(h.read()).toContain('debug: true');
    expectFolderSyncedAfterRename(calls, fs.realpathSync(h.configPath));
  });

  it('an auth-file upload: temp synced, renamed into the folder, then the folder synced', async () => {
    h = harness();
    await h.router.ready();
    const calls = recordFsCalls();
    const res = await request(h.app)
      .post(api('/auth-files?name=durable.json'))
      .set(auth)
      .set('Content-Type', 'application/json')
      .send('{"a":1}');
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { status: 'ok' } });
    const file = path.join(fs.realpathSync(h.authDir), 'durable.json');
    expect(fs.readFileSync(file, 'utf8')).toBe('{"a":1}');
    expectFolderSyncedAfterRename(calls, file);
  });
});
