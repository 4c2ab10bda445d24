// Settings are resolved before any I/O: options and rows are checked, defaulted and compiled
// first, so a bad one throws before a store is opened (no watcher left behind, and a missing
// config file cannot hide a bad row); the panel and OpenAPI read the same resolved defaults.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import {
  createManagementRouter,
  fileStorage,
  ManagementError,
  openApiDocument,
  type ManagementOptions,
  type ResourceDescriptor,
  type Storage,
} from '../lib';
import { postgresStorage } from '../lib/postgres';
import { BUILTIN_RESOURCES } from '../lib/table/index';
import { resolveRows } from '../lib/settings';
import { api, auth, fixtureWith, harness, type Harness } from './helpers';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-settings-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const quiet = { warn: () => undefined };

/** The real file engine, counting how often a router opened it and closed what it opened. */
function countingStorage(): { storage: Storage; opened: () => number; closed: () => number } {
  const inner = fileStorage();
  let opened = 0;
  let closed = 0;
  return {
    storage: {
      open(context) {
        const stores = inner.open(context);
        opened++;
        const close = stores.config.close.bind(stores.config);
        Object.defineProperty(stores.config, 'close', {
          value: async () => {
            closed++;
            await close();
          },
        });
        return stores;
      },
    },
    opened: () => opened,
    closed: () => closed,
  };
}

function thrown(fn: () => unknown): ManagementError {
  try {
    const router = fn() as { close?: () => Promise<void> } | undefined;
    void router?.close?.();
  } catch (err) {
    expect(err).toBeInstanceOf(ManagementError);
    return err as ManagementError;
  }
  throw new Error('did not throw');
}

const BAD_ROWS: [string, ResourceDescriptor, RegExp][] = [
  [
    'a scalar whose schema type has no zero value',
    { kind: 'scalar', path: '/x', key: 'x', schema: { type: 'array' } },
    /scalar schema type must be boolean, string, integer or number/,
  ],
  [
    'a scalar schema that does not compile',
    { kind: 'scalar', path: '/x', key: 'x', schema: { type: 'integer', minimum: 'zero' } },
    /schema does not compile/,
  ],
  [
    'an item schema that does not compile',
    {
      kind: 'object-array',
      path: '/x',
      key: 'x',
      matchField: 'id',
      itemSchema: {
        type: 'object',
        required: ['id'],
        properties: { id: { type: 'string', pattern: '(' } },
      },
    },
    /schema does not compile/,
  ],
  [
    'an unknown kind',
    { kind: 'nope', path: '/x', key: 'x' } as unknown as ResourceDescriptor,
    /resource "\/x": unknown kind "nope"/,
  ],
  [
    'a row at a route of the auth-files row',
    { kind: 'scalar', path: '/auth-files/download', key: 'x', schema: { type: 'boolean' } },
    /resource "\/auth-files\/download": path is used by another row/,
  ],
  [
    'a scalar whose default its schema refuses',
    { kind: 'scalar', path: '/x', key: 'x', schema: { type: 'integer', minimum: 1, default: 0 } },
    /schema default must be a valid value/,
  ],
];

describe('a bad row throws before anything is opened', () => {
  it.each(BAD_ROWS)(
    '%s: ERR_INVALID_DESCRIPTOR even when the config file is missing',
    (_what, row, message) => {
      const err = thrown(() =>
        createManagementRouter(path.join(dir, 'missing.yaml'), dir, {
          resources: [row],
          logger: quiet,
        }),
      );
      expect(err.code).toBe('ERR_INVALID_DESCRIPTOR');
      expect(err.message).toMatch(message);
    },
  );

  it.each(BAD_ROWS)('%s: the storage is never opened', (_what, row) => {
    const configPath = path.join(dir, 'config.yaml');
    writeFileSync(configPath, fixtureWith());
    const counting = countingStorage();
    const err = thrown(() =>
      createManagementRouter(configPath, dir, {
        resources: [row],
        storage: counting.storage,
        logger: quiet,
      }),
    );
    expect(err.code).toBe('ERR_INVALID_DESCRIPTOR');
    expect(counting.opened()).toBe(0);
  });
});

describe('a bad localAddresses throws before anything is opened', () => {
  it.each([['10.0.0.0/99'], ['not-an-ip'], ['::1/129']])(
    '%s: ERR_INVALID_OPTION, no store opened (so no watcher left behind)',
    (entry) => {
      const configPath = path.join(dir, 'config.yaml');
      writeFileSync(configPath, fixtureWith());
      const counting = countingStorage();
      const err = thrown(() =>
        createManagementRouter(configPath, dir, {
          localAddresses: [entry],
          storage: counting.storage,
          logger: quiet,
        }),
      );
      expect(err.code).toBe('ERR_INVALID_OPTION');
      expect(err.message).toBe(
        `ERR_INVALID_OPTION: localAddresses: not an IP address or CIDR range: ${entry}`,
      );
      expect(counting.opened()).toBe(0);
    },
  );

  it('with a missing config file it is the option that is named, not the file', () => {
    const err = thrown(() =>
      createManagementRouter(path.join(dir, 'missing.yaml'), dir, {
        localAddresses: ['x'],
        logger: quiet,
      }),
    );
    expect(err.code).toBe('ERR_INVALID_OPTION');
  });

  it('a good router opens the storage once and closes what it opened', async () => {
    const configPath = path.join(dir, 'config.yaml');
    writeFileSync(configPath, fixtureWith());
    const counting = countingStorage();
    const router = createManagementRouter(configPath, dir, {
      localAddresses: ['172.17.0.0/16'],
      storage: counting.storage,
      logger: quiet,
    });
    expect(counting.opened()).toBe(1);
    await router.close();
    expect(counting.closed()).toBe(1);
  });
});

describe('every option is checked before any I/O, with one coded answer', () => {
  const configPath = (): string => {
    const p = path.join(dir, 'config.yaml');
    writeFileSync(p, fixtureWith());
    return p;
  };
  /** Build with the options; it must throw ERR_INVALID_OPTION without opening the storage (or, given `storage`, its own). */
  function refused(
    options: Record<string, unknown>,
    paths: [unknown, unknown] = [configPath(), dir],
  ): string {
    const counting = countingStorage();
    // With lockStaleMs (a file engine setting) the default engine is the one not opened.
    const withStorage =
      'storage' in options || 'lockStaleMs' in options
        ? options
        : { ...options, storage: counting.storage };
    const before = readFileSync(path.join(dir, 'config.yaml'), 'utf8');
    const err = thrown(() =>
      (createManagementRouter as (...a: unknown[]) => unknown)(paths[0], paths[1], {
        logger: quiet,
        ...withStorage,
      }),
    );
    expect(err.code).toBe('ERR_INVALID_OPTION');
    expect(counting.opened()).toBe(0);
    expect(readFileSync(path.join(dir, 'config.yaml'), 'utf8')).toBe(before);
    return err.message;
  }
  beforeEach(() => {
    configPath();
  });

  const KNOWN = [
    'bodyLimit',
    'uploadLimit',
    'uploadMaxFiles',
    'maxAttempts',
    'ipv6Subnet',
    'lockoutMs',
    'lockoutStore',
    'storage',
    'localAddresses',
    'cors',
    'resources',
    'bcryptRounds',
    'watch',
    'onChange',
    'logger',
    'panel',
    'openapi',
    'lockStaleMs',
    'history',
    'serverInfo',
    'runtime',
    'routes',
    'hookTimeoutMs',
    'apiCallTimeoutMs',
    'apiCallMaxBytes',
    'oauth',
    'onAuthFile',
  ];
  // Each known name misspelt three ways: all lower case, its last letter dropped, two letters swapped.
  const MISSPELT = KNOWN.flatMap((name) => [
    [name.toLowerCase() === name ? `${name}s` : name.toLowerCase(), name],
    [name.slice(0, -1), name],
    [`${name.slice(0, 2)}${name[3]}${name[2]}${name.slice(4)}`, name],
  ]).filter(([typo, name]) => typo !== name);

  it.each(MISSPELT)('misspelt %s: refused, "did you mean %s"', (typo, name) => {
    expect(refused({ [typo]: 1 })).toBe(
      `ERR_INVALID_OPTION: createManagementRouter: unknown option ${JSON.stringify(typo)} (did you mean ${JSON.stringify(name)}?); known options: ${KNOWN.join(', ')}`,
    );
  });

  it('a name like none: refused without a suggestion', () => {
    expect(refused({ rateLimit: 5 })).toBe(
      `ERR_INVALID_OPTION: createManagementRouter: unknown option "rateLimit"; known options: ${KNOWN.join(', ')}`,
    );
  });

  it('options that are not an object are refused', () => {
    for (const options of [[], 'x', 5, null]) {
      expect(() =>
        createManagementRouter(configPath(), dir, options as unknown as ManagementOptions),
      ).toThrow(
        expect.objectContaining({
          code: 'ERR_INVALID_OPTION',
          message: 'ERR_INVALID_OPTION: createManagementRouter options must be an object',
        }),
      );
    }
  });

  it('no arguments at all: both paths are named; one missing path: that one', () => {
    expect(refused({}, [undefined, undefined])).toBe(
      'ERR_INVALID_OPTION: createManagementRouter(configPath, authDir, options?): configPath (the YAML config file) and authDir (the folder of auth files) must be non-empty paths',
    );
    expect(refused({}, ['', dir])).toBe(
      'ERR_INVALID_OPTION: createManagementRouter(configPath, authDir, options?): configPath (the YAML config file) must be a non-empty path',
    );
    expect(refused({}, [configPath(), ' '])).toBe(
      'ERR_INVALID_OPTION: createManagementRouter(configPath, authDir, options?): authDir (the folder of auth files) must be a non-empty path',
    );
  });

  it.each([
    ['1 megabyte'],
    ['abc'],
    [''],
    ['1e3'],
    ['-1kb'],
    [0],
    [-1],
    [1.5],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [true],
    [{}],
  ])('bodyLimit %p is refused, naming the forms it takes', (value) => {
    expect(refused({ bodyLimit: value })).toMatch(
      /^ERR_INVALID_OPTION: bodyLimit must be a positive integer of bytes or a size such as '512kb' or '1mb' \(got .+\)$/,
    );
  });

  it.each([
    ['1kb', 1024],
    ['1 KB', 1024],
    [' 2kb ', 2048],
    ['1.5kb', 1536],
    ['1500', 1500],
    ['100b', 100],
    [1000, 1000],
  ])('bodyLimit %p: a body of %p bytes is served, one byte more is 413', async (limit, bytes) => {
    const h = harness(fixtureWith(), { bodyLimit: limit });
    try {
      const body = (n: number): string =>
        JSON.stringify({ value: 'x'.repeat(n - '{"value":""}'.length) });
      const ok = await request(h.app)
        .put(api('/proxy-url'))
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(body(bytes));
      expect(ok.status).toBe(400); // read whole, then refused for its value, not its size
      expect(ok.body).toEqual(expect.objectContaining({ error: 'invalid body' }));
      const before = h.read();
      const big = await request(h.app)
        .put(api('/proxy-url'))
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(body(bytes + 1));
      expect({ status: big.status, body: big.body }).toEqual({
        status: 413,
        body: { error: 'request body too large' },
      });
      expect(h.read()).toBe(before);
    } finally {
      await h.close();
    }
  });

  it.each([
    ['watch', 'no'],
    ['watch', 1],
    ['panel', 'true'],
    ['openapi', 1],
  ])('%s %p is refused', (name, value) => {
    expect(refused({ [name]: value })).toBe(
      `ERR_INVALID_OPTION: ${name} must be a boolean (got ${JSON.stringify(value)})`,
    );
  });

  it('lockStaleMs: the router option and fileStorage() take the same values and refuse the same ones', () => {
    for (const bad of [1999, 0, 2500.5, '5000']) {
      const message = `ERR_INVALID_OPTION: lockStaleMs must be an integer >= 2000 (got ${typeof bad === 'string' ? JSON.stringify(bad) : bad})`;
      expect(refused({ lockStaleMs: bad })).toBe(message);
      expect(() => fileStorage({ lockStaleMs: bad as number })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', message }),
      );
    }
    expect(() => fileStorage({ lockStaleMs: 2000 })).not.toThrow();
    expect(() => fileStorage({ lockStale: 5000 } as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message:
          'ERR_INVALID_OPTION: fileStorage: unknown option "lockStale" (did you mean "lockStaleMs"?); known options: lockStaleMs',
      }),
    );
  });

  it('lockStaleMs with storage given would be ignored: refused, pointing at fileStorage()', () => {
    const counting = countingStorage();
    expect(refused({ lockStaleMs: 5000, storage: counting.storage })).toBe(
      'ERR_INVALID_OPTION: lockStaleMs is a setting of the file engine: with storage given it would be ignored; pass it to fileStorage({ lockStaleMs }) instead',
    );
    expect(counting.opened()).toBe(0);
  });

  it('postgresStorage() checks its names the same way', () => {
    expect(() =>
      postgresStorage({ connectionString: 'postgres://x', namspace: 'a' } as never),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_OPTION',
        message:
          'ERR_INVALID_OPTION: postgresStorage: unknown option "namspace" (did you mean "namespace"?); known options: connectionString, pool, namespace, minRetryMs, maxRetryMs, startTimeoutMs',
      }),
    );
  });

  it('every documented option passes', async () => {
    const all: Required<
      Omit<ManagementOptions, 'logger' | 'storage' | 'lockoutStore' | 'onChange' | 'resources'>
    > = {
      bodyLimit: '1mb',
      uploadLimit: 1024,
      uploadMaxFiles: 10,
      maxAttempts: 3,
      lockoutMs: 1000,
      ipv6Subnet: 64,
      localAddresses: [],
      cors: false,
      bcryptRounds: 4,
      watch: false,
      panel: false,
      openapi: false,
      lockStaleMs: 5000,
      history: false,
      serverInfo: { version: '1.0.0' },
      runtime: {},
      routes: [],
      hookTimeoutMs: 1000,
      apiCallTimeoutMs: 1000,
      apiCallMaxBytes: 1024,
      oauth: { providers: [] },
      onAuthFile: () => undefined,
    };
    const logs: string[] = [];
    const router = createManagementRouter(configPath(), dir, {
      ...all,
      resources: [],
      onChange: () => undefined,
      logger: { warn: (m) => logs.push(m), error: (m) => logs.push(m) },
    });
    await router.close();
    expect(logs).toEqual([]);
  });

  it('a logger without warn, or with an error that is not a function, is refused', () => {
    expect(refused({ logger: {} })).toBe('ERR_INVALID_OPTION: logger must have a warn method');
    expect(refused({ logger: { warn: () => undefined, error: 'x' } })).toBe(
      'ERR_INVALID_OPTION: logger.error must be a function when given',
    );
  });
});

describe('one set of resolved defaults for GET, the panel and OpenAPI', () => {
  const TOOLS: ResourceDescriptor = {
    kind: 'object-array',
    path: '/tools',
    key: 'tools',
    matchField: 'name',
    matchQuery: 'tool',
    itemSchema: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string' },
        weight: { type: 'integer', default: 7 },
        tags: { type: 'array', items: { type: 'string' } },
        enabled: { type: 'boolean' },
      },
    },
  };
  let h: Harness;
  afterEach(() => h.close());

  it('meta.json carries the defaults GET fills in, and the selector names with their defaults applied', async () => {
    h = harness(`${fixtureWith()}tools:\n  - name: a\n`, {
      panel: true,
      resources: [TOOLS],
      openapi: true,
    });
    const meta = await request(h.app).get('/v0/management/panel/meta.json').expect(200);
    const row = (meta.body.rows as { path: string }[]).find((r) => r.path === '/tools');
    expect(row).toEqual(
      expect.objectContaining({
        matchField: 'name',
        matchBodyField: 'name',
        matchQuery: 'tool',
        defaults: { weight: 7, tags: [], enabled: false },
      }),
    );
    const claude = (meta.body.rows as { path: string }[]).find((r) => r.path === '/claude-api-key');
    expect(claude).toEqual(
      expect.objectContaining({ defaults: { 'base-url': '', 'proxy-url': '', models: [] } }),
    );
    const got = await request(h.app).get(api('/tools')).set(auth).expect(200);
    expect(got.body).toEqual({ tools: [{ name: 'a', weight: 7, tags: [], enabled: false }] });
    const doc = await request(h.app).get(api('/openapi.json')).set(auth).expect(200);
    const del = doc.body.paths['/tools'].delete as { parameters: { name: string }[] };
    expect(del.parameters.map((p) => p.name)).toEqual(['index', 'tool']);
  });

  it('openApiDocument refuses a bad row as the router does', () => {
    const err = thrown(() => openApiDocument([BAD_ROWS[0]?.[1] as ResourceDescriptor]));
    expect(err.code).toBe('ERR_INVALID_DESCRIPTOR');
  });
});

describe("the library's own rows: schemas compiled on first use, checked here", () => {
  it('every built-in row passes the checks a row of options.resources gets at construction (schemas compile, defaults and aliases valid)', () => {
    const rows = resolveRows(BUILTIN_RESOURCES); // no builtIn count: everything compiled and checked now
    expect(rows).toHaveLength(BUILTIN_RESOURCES.length);
    for (const row of rows) {
      if (row.kind !== 'scalar') continue;
      expect([row.path, row.validate(row.absent)]).toEqual([row.path, true]);
      for (const stored of Object.values(row.aliases ?? {}))
        expect([row.path, stored, row.validate(stored)]).toEqual([row.path, stored, true]);
    }
  });

  it('a built-in validator compiles on its first call and reports errors as ajv does', () => {
    const rows = resolveRows(BUILTIN_RESOURCES, { builtIn: BUILTIN_RESOURCES.length });
    const debug = rows.find((r) => r.path === '/debug');
    if (debug?.kind !== 'scalar') throw new Error('no /debug row');
    expect(debug.validate(true)).toBe(true);
    expect(debug.validate('yes')).toBe(false);
    expect(debug.validate.errors?.[0]).toMatchObject({
      keyword: 'type',
      params: { type: 'boolean' },
    });
    expect(debug.validate(false)).toBe(true);
  });

  it('construction and ready() load neither ajv nor multer (a separate process; custom rows load ajv)', () => {
    const configPath = path.join(dir, 'config.yaml');
    writeFileSync(configPath, fixtureWith());
    const script = (resources: string): string => `
      const { createManagementRouter } = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
      const r = createManagementRouter(${JSON.stringify(configPath)}, ${JSON.stringify(path.join(dir, 'auths'))}, { logger: { warn() {} }, resources: ${resources} });
      r.ready().then(async () => {
        const loaded = (name) => Object.keys(require.cache).some((f) => f.includes('/node_modules/' + name + '/'));
        console.log(JSON.stringify({ ajv: loaded('ajv'), multer: loaded('multer') }));
        await r.close();
      });`;
    const run = (resources: string): unknown =>
      JSON.parse(
        execFileSync(process.execPath, ['--import', 'tsx', '-e', script(resources)], {
          encoding: 'utf8',
          timeout: 60_000,
        }),
      );
    expect(run('[]')).toEqual({ ajv: false, multer: false });
    expect(run(`[{ kind: 'scalar', path: '/x', key: 'x', schema: { type: 'boolean' } }]`)).toEqual({
      ajv: true,
      multer: false,
    });
  });
});
