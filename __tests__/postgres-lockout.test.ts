/**
 * The PostgreSQL engine's lock-out store on its own (opened as a router opens it), against a
 * real server, with a fake clock (only `Date`; the store passes its time to the statements, so
 * the table and the memory agree): the window restarts at each failure and ends exactly, a store
 * that starts loads the live records and drops the expired ones, and a statement the database
 * refuses (not an outage) is counted in memory with a warning that names the code only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LockoutRecord, LockoutStore } from '../lib';
import { postgresStorage } from '../lib/postgres';
import type { OpenedStorage, TextEvents } from '../lib/engines/spi';
import { eventually, fixtureWith } from './helpers';
import { databaseUrl, dropNamespace, sql, stopDatabase, uniqueNamespace } from './pg';

jest.setTimeout(60_000);

const START = Date.UTC(2031, 0, 1);
/** No core behind these stores: the config's changes are not followed. */
const noEvents: TextEvents = {
  changed: async () => {},
  edited: async () => ({ ok: true }),
  prepare: async (text) => text,
};
const opened: OpenedStorage[] = [];
const dirs: string[] = [];
const namespaces: string[] = [];
beforeEach(() => {
  jest.useFakeTimers({
    doNotFake: [
      'nextTick',
      'setImmediate',
      'clearImmediate',
      'setTimeout',
      'clearTimeout',
      'setInterval',
      'clearInterval',
      'queueMicrotask',
      'hrtime',
      'performance',
    ],
  });
  jest.setSystemTime(START);
});
afterEach(async () => {
  jest.useRealTimers();
  await Promise.all(opened.splice(0).flatMap((o) => [o.config.close(), o.tokens.close()]));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const ns of namespaces.splice(0)) await dropNamespace(ns);
});
afterAll(stopDatabase);

const advance = (ms: number): void => {
  jest.setSystemTime(Date.now() + ms);
};

function ns(label: string): string {
  const n = uniqueNamespace(label);
  namespaces.push(n);
  return n;
}

/** One replica's stores on `namespace` (no router; the first seeds the namespace's config), started; its lock-out store with a 60 s window. */
async function open(
  namespace: string,
  warnings: string[] = [],
  init = true,
): Promise<LockoutStore> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cpm-pg-lockout-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'config.yaml'), fixtureWith());
  const stores = postgresStorage({ namespace, connectionString: await databaseUrl() }).open({
    configPath: path.join(dir, 'config.yaml'),
    authDir: path.join(dir, 'auths'),
    watch: false,
    logger: { warn: (m) => warnings.push(m) },
  });
  opened.push(stores);
  await stores.config.start(noEvents);
  const lockout = stores.lockout!;
  if (init) lockout.init?.({ windowMs: 60_000 });
  return lockout;
}

const rows = (namespace: string) =>
  sql<{ key: string; failures: number; reset_time: string }>(
    'SELECT key, failures, reset_time FROM cpm_lockout WHERE namespace = $1 ORDER BY key',
    [namespace],
  );

describe('the PostgreSQL lock-out store', () => {
  it('the window restarts at each failure, in memory and in the table; an expired record is forgotten and counts from 1 again', async () => {
    const n = ns('lockwin');
    const s = await open(n);
    expect(await s.increment('198.51.100.1')).toEqual({ failures: 1, resetTime: START + 60_000 });
    advance(30_000);
    expect(await s.increment('198.51.100.1')).toEqual({ failures: 2, resetTime: START + 90_000 });
    expect(await rows(n)).toEqual([
      { key: '198.51.100.1', failures: 2, reset_time: String(START + 90_000) },
    ]);
    advance(59_999);
    expect(s.get('198.51.100.1')).toEqual({ failures: 2, resetTime: START + 90_000 });
    advance(1);
    expect(s.get('198.51.100.1')).toBeUndefined();
    // The row has expired too: the next failure starts a new count.
    expect(await s.increment('198.51.100.1')).toEqual({ failures: 1, resetTime: START + 150_000 });
    expect(await rows(n)).toEqual([
      { key: '198.51.100.1', failures: 1, reset_time: String(START + 150_000) },
    ]);
    await s.reset('198.51.100.1');
    expect(s.get('198.51.100.1')).toBeUndefined();
    expect(await rows(n)).toEqual([]);
  });

  it('a store that starts loads the live records of its namespace and deletes the expired ones', async () => {
    const n = ns('lockload');
    const other = ns('lockloadother');
    const first = await open(n); // the tables exist from here
    await first.increment('198.51.100.2');
    await sql(
      'INSERT INTO cpm_lockout (namespace, key, failures, reset_time) VALUES ($1, $2, 4, $3), ($1, $4, 9, $5), ($6, $2, 7, $3)',
      [
        n,
        '198.51.100.3',
        START + 45_000,
        '198.51.100.4',
        START, // ends now: expired
        other,
      ],
    );
    const later = await open(n);
    expect(later.get('198.51.100.2')).toEqual({ failures: 1, resetTime: START + 60_000 });
    expect(later.get('198.51.100.3')).toEqual({ failures: 4, resetTime: START + 45_000 });
    expect(later.get('198.51.100.4')).toBeUndefined();
    expect((await rows(n)).map((r) => r.key)).toEqual(['198.51.100.2', '198.51.100.3']);
    expect((await rows(other)).map((r) => r.key)).toEqual(['198.51.100.3']); // another namespace: untouched
  });

  it('a statement the database refuses (not an outage) is counted in memory, with one warning per failure naming the code only', async () => {
    const n = ns('lockrefused');
    const warnings: string[] = [];
    const s = await open(n, warnings);
    const key = 'bad\u0000key'; // text PostgreSQL cannot store
    expect(await s.increment(key)).toEqual({ failures: 1, resetTime: START + 60_000 });
    advance(1_000);
    expect(await s.increment(key)).toEqual({ failures: 2, resetTime: START + 61_000 });
    expect(s.get(key)).toEqual({ failures: 2, resetTime: START + 61_000 } satisfies LockoutRecord);
    expect(warnings).toEqual(
      Array(2).fill('cli-proxy-management: lock-out count kept in memory only (22021)'),
    );
    await s.reset(key);
    expect(s.get(key)).toBeUndefined();
    expect(await rows(n)).toEqual([]);
  });

  it('without init its window is 30 minutes', async () => {
    const s = await open(ns('locknoinit'), [], false);
    expect(await s.increment('198.51.100.5')).toEqual({
      failures: 1,
      resetTime: START + 30 * 60_000,
    });
  });

  it('hears only its own namespace: a lock-out in another namespace is not one here', async () => {
    const [mine, theirs] = [ns('lockmine'), ns('locktheirs')];
    const here = await open(mine);
    const there = await open(theirs);
    const alsoThere = await open(theirs);
    for (let i = 0; i < 5; i++) await there.increment('198.51.100.6');
    await there.increment('198.51.100.7');
    // The other replica of that namespace hears of both (the notices were sent)...
    await eventually(
      () =>
        (alsoThere.get('198.51.100.6') as LockoutRecord | undefined)?.failures === 5 &&
        alsoThere.get('198.51.100.7') !== undefined,
    );
    // ...and a count of this namespace, made after them, is heard here: the notices before it were not applied.
    await open(mine).then((again) => again.increment('198.51.100.8'));
    await eventually(() => here.get('198.51.100.8') !== undefined);
    expect(here.get('198.51.100.6')).toBeUndefined();
    expect(here.get('198.51.100.7')).toBeUndefined();
  });
});
