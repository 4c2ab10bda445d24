import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { parse } from 'yaml';
import { createManagementRouter, ManagementError, type ScalarDescriptor } from '../lib';
import {
  auth,
  eventually,
  FIXTURE,
  fixtureWith,
  harness,
  KEY_HASH,
  type Harness,
  api,
} from './helpers';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Lines of `after` that differ from `before` (same line count expected). */
function changedLines(before: string, after: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  expect(b).toHaveLength(a.length);
  return b.filter((line, i) => line !== a[i]);
}

describe('round trip keeps the user’s file', () => {
  it('changes only the line of the value it changed, in a large commented config', async () => {
    h = harness();
    const before = h.read();
    await request(h.app).put(api('/debug')).set(auth).send({ value: true }).expect(200);
    expect(changedLines(before, h.read())).toEqual(['debug: true # flip me']);
    await request(h.app)
      .put(api('/quota-exceeded/switch-project'))
      .set(auth)
      .send({ value: false })
      .expect(200);
    const lines = changedLines(before, h.read());
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe(
      '   switch-project: false # Whether to automatically switch to another project when a quota is exceeded',
    );
    // Unknown keys, anchors, flow lists and long lines survive exactly.
    const text = h.read();
    for (const kept of [
      'streaming:\n  keepalive-seconds: 15',
      'flow-list: [ "a",   b , \'c\' ]',
      '<<: *base',
      'auth-dir: "~/.cli-proxy-api"',
    ]) {
      expect(text).toContain(kept);
    }
  });

  it('is byte-identical after setting a value back', async () => {
    h = harness();
    const before = h.read();
    await request(h.app).put(api('/request-retry')).set(auth).send({ value: 9 }).expect(200);
    await request(h.app).put(api('/request-retry')).set(auth).send({ value: 3 }).expect(200);
    expect(h.read()).toBe(before);
  });

  it('keeps CRLF line endings', async () => {
    h = harness(fixtureWith().replace(/\n/g, '\r\n'));
    await request(h.app).put(api('/request-log')).set(auth).send({ value: true }).expect(200);
    const text = h.read();
    expect(text.split('\r\n').length).toBe(fixtureWith().split('\n').length);
    expect(text).toContain('request-log: true\r\n');
  });

  it('keeps the file mode', async () => {
    h = harness();
    chmodSync(h.configPath, 0o640);
    await request(h.app).put(api('/debug')).set(auth).send({ value: true }).expect(200);
    expect(statSync(h.configPath).mode & 0o777).toBe(0o640);
  });

  it('writes through a symlinked config path to the real file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cpm-link-'));
    const real = path.join(dir, 'real.yaml');
    const link = path.join(dir, 'config.yaml');
    writeFileSync(real, fixtureWith());
    symlinkSync(real, link);
    const router = createManagementRouter(link, path.join(dir, 'a'), {
      logger: { warn: () => undefined },
    });
    const app = express().use('/m', router);
    await request(app).put('/m/debug').set(auth).send({ value: true }).expect(200);
    expect(parse(execFileSync('cat', [link], { encoding: 'utf8' })).debug).toBe(true);
    // Written through the link to the real file; its history journal sits beside the real file.
    expect(readdirSync(dir).sort()).toEqual(['config.yaml', 'real.yaml', 'real.yaml.history']);
    await router.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('freshness and concurrency', () => {
  it('applies a mutation to an edit made on disk a moment before (never overwrites it)', async () => {
    h = harness(undefined, { watch: false });
    h.write(h.read().replace('port: 8317', 'port: 9999 # edited by hand'));
    await request(h.app).put(api('/debug')).set(auth).send({ value: true }).expect(200);
    const text = h.read();
    expect(text).toContain('port: 9999 # edited by hand');
    expect(parse(text).debug).toBe(true);
  });

  it('picks up an edit on disk without restart (watcher)', async () => {
    h = harness();
    const changed = h.nextChange();
    h.write(h.read().replace('request-retry: 3', 'request-retry: 12'));
    await changed;
    expect((await request(h.app).get(api('/request-retry')).set(auth)).body).toEqual({
      'request-retry': 12,
    });
    expect(h.router.getConfig()['request-retry']).toBe(12);
  });

  it('loses none of 50 concurrent mutations', async () => {
    const rows: ScalarDescriptor[] = Array.from({ length: 50 }, (_, i) => ({
      kind: 'scalar',
      path: `/extra/k${i}`,
      key: ['extra', `k${i}`],
      schema: { type: 'integer' },
    }));
    h = harness(undefined, { resources: rows });
    const results = await Promise.all(
      rows.map((_r, i) =>
        request(h!.app)
          .put(api(`/extra/k${i}`))
          .set(auth)
          .send({ value: i }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(rows.map(() => 200));
    const extra = (parse(h.read()) as { extra: Record<string, number> }).extra;
    expect(Object.keys(extra)).toHaveLength(50);
    rows.forEach((_r, i) => expect(extra[`k${i}`]).toBe(i));
    expect(h.read().startsWith(fixtureWith().split('\n').slice(0, 20).join('\n'))).toBe(true);
  });

  it('emits a change event with the source', async () => {
    h = harness();
    const events: string[] = [];
    h.router.onChange((_c, change) => events.push(change.source));
    await request(h.app).put(api('/debug')).set(auth).send({ value: true }).expect(200);
    expect(events).toEqual(['api']);
    const fromFile = h.nextChange();
    h.write(h.read().replace('debug: true', 'debug: false'));
    await fromFile;
    expect(events).toEqual(['api', 'file']);
  });
});

describe('failures leave the old file', () => {
  it('invalid YAML on disk: reads serve the last good config, mutations are 500 with the line, file untouched', async () => {
    h = harness();
    const broken = `${fixtureWith()}\nbad: [unclosed\n`;
    h.write(broken);
    await h.router.reload(); // the store has read the broken text (no race with the watcher)
    expect((await request(h.app).get(api('/request-retry')).set(auth)).body).toEqual({
      'request-retry': 3,
    });
    const res = await request(h.app).put(api('/debug')).set(auth).send({ value: true });
    expect(res.status).toBe(500);
    expect(res.body.error).toMatch(/^failed to save config: .*line \d+/);
    expect(res.body.error).not.toContain(KEY_HASH);
    expect(h.read()).toBe(broken);
    // Fixed by hand: mutations work again.
    h.write(fixtureWith());
    await eventually(
      async () =>
        (await request(h!.app).put(api('/debug')).set(auth).send({ value: true })).status === 200,
    );
    expect(parse(h.read()).debug).toBe(true);
  });

  it('a failed write (folder made read-only) is a 500 and leaves the old file intact', async () => {
    h = harness(undefined, { watch: false });
    const before = h.read();
    const lock = readOnly(h.dir);
    try {
      const res = await request(h.app).put(api('/debug')).set(auth).send({ value: true });
      expect(res.status).toBe(500);
      // The lock folder cannot be created either: the lock fails first, with the same reason.
      expect(res.body.error).toMatch(
        /^failed to save config: (cannot lock config file: )?(EACCES|EPERM|EROFS)/,
      );
    } finally {
      lock.undo();
    }
    expect(h.read()).toBe(before);
    expect(readdirSync(h.dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    // And the next write succeeds.
    await request(h.app).put(api('/debug')).set(auth).send({ value: true }).expect(200);
  });

  it('removes temp files of a crashed writer at start, but not a live writer’s or a user’s', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cpm-crash-'));
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, fixtureWith());
    const dead = path.join(dir, '.config.yaml.cpm-999999999-abcdef.tmp');
    const live = path.join(dir, `.config.yaml.cpm-${process.pid}-abcdef.tmp`);
    const users = path.join(dir, 'config.yaml.1');
    for (const f of [dead, live, users]) writeFileSync(f, 'x');
    const router = createManagementRouter(cfg, path.join(dir, 'a'), { watch: false });
    return eventually(() => !readdirSync(dir).includes(path.basename(dead))).then(async () => {
      expect(readdirSync(dir).sort()).toEqual(
        [path.basename(live), 'config.yaml', 'config.yaml.1'].sort(),
      );
      await router.close();
      rmSync(dir, { recursive: true, force: true });
    });
  });
});

/** Make a folder refuse new files, for root too (chattr +i) or by mode for other users. */
function readOnly(dir: string): { undo(): void } {
  if (process.getuid?.() === 0) {
    execFileSync('chattr', ['+i', dir]);
    return { undo: () => execFileSync('chattr', ['-i', dir]) };
  }
  chmodSync(dir, 0o555);
  return { undo: () => chmodSync(dir, 0o755) };
}

describe('construction errors are coded and immediate', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cpm-ctor-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const codeOf = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(ManagementError);
      return (err as ManagementError).code;
    }
    return undefined;
  };

  it.each<[string, () => unknown, string]>([
    [
      'missing config',
      () => createManagementRouter(path.join(dir, 'none.yaml'), dir),
      'ERR_CONFIG_NOT_FOUND',
    ],
    [
      'a YAML list',
      () => createManagementRouter(file('list.yaml', '- a\n- b\n'), dir),
      'ERR_CONFIG_INVALID',
    ],
    [
      'invalid YAML',
      () => createManagementRouter(file('bad.yaml', 'a: [\n'), dir),
      'ERR_CONFIG_INVALID',
    ],
    [
      'bad maxAttempts',
      () => createManagementRouter(file('ok1.yaml', FIXTURE), dir, { maxAttempts: 0 }),
      'ERR_INVALID_OPTION',
    ],
    [
      'bad localAddresses',
      () =>
        createManagementRouter(file('ok2.yaml', FIXTURE), dir, { localAddresses: ['10.0.0.0/99'] }),
      'ERR_INVALID_OPTION',
    ],
    [
      'empty authDir',
      () => createManagementRouter(file('ok3.yaml', FIXTURE), ''),
      'ERR_INVALID_OPTION',
    ],
    [
      'a row on a taken path',
      () =>
        createManagementRouter(file('ok4.yaml', FIXTURE), dir, {
          resources: [{ kind: 'scalar', path: '/debug', key: 'x', schema: { type: 'boolean' } }],
        }),
      'ERR_INVALID_DESCRIPTOR',
    ],
    [
      'a row on a taken key',
      () =>
        createManagementRouter(file('ok5.yaml', FIXTURE), dir, {
          resources: [{ kind: 'scalar', path: '/dbg', key: 'debug', schema: { type: 'boolean' } }],
        }),
      'ERR_INVALID_DESCRIPTOR',
    ],
    [
      'a row exposing the management key',
      () =>
        createManagementRouter(file('ok6.yaml', FIXTURE), dir, {
          resources: [
            {
              kind: 'scalar',
              path: '/secret',
              key: ['remote-management', 'secret-key'],
              schema: { type: 'string' },
            },
          ],
        }),
      'ERR_INVALID_DESCRIPTOR',
    ],
    [
      'a schema that does not compile',
      () =>
        createManagementRouter(file('ok7.yaml', FIXTURE), dir, {
          resources: [
            { kind: 'scalar', path: '/x', key: 'x', schema: { type: 'integer', minimum: 'zero' } },
          ],
        }),
      'ERR_INVALID_DESCRIPTOR',
    ],
  ])('%s', (_name, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });

  it('accepts an empty config file (a mapping with nothing in it)', async () => {
    const router = createManagementRouter(file('empty.yaml', ''), dir, { watch: false });
    expect(router.getConfig()).toEqual({});
    await router.close();
  });
});
