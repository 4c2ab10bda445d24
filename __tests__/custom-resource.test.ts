import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { parse } from 'yaml';
import {
  DEEPSEEK_API_KEY,
  createCustomHost,
  EXCLUDED_MODELS,
  type CustomHost,
} from '../examples/custom-resource';
import { createManagementRouter, ManagementError, type ResourceDescriptor } from '../lib';
import { api, auth, KEY_HASH, send } from './helpers';

const CONFIG = [
  'remote-management:',
  `  secret-key: "${KEY_HASH}"`,
  '',
  '# DeepSeek keys',
  'deepseek-api-key:',
  '  - api-key: "sk-ds-1"   # laptop',
  '    proxy-url: "socks5://127.0.0.1:1080"',
  '  # the build server',
  '  - api-key: "sk-ds-2"   # CI',
  '    base-url: "https://deepseek.example/v1"',
  '  - api-key: "sk-ds-3"   # spare',
  '',
  '# not managed by anyone',
  'port: 8317',
  '',
].join('\n');

let dir: string;
let configPath: string;
let host: CustomHost;
const read = (): string => readFileSync(configPath, 'utf8');
const onDisk = (): Record<string, unknown> => parse(read()) as Record<string, unknown>;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cpm-custom-'));
  configPath = path.join(dir, 'config.yaml');
  writeFileSync(configPath, CONFIG, { mode: 0o600 });
  host = createCustomHost(configPath, path.join(dir, 'auths'), {
    bcryptRounds: 4,
    logger: { warn: () => undefined },
  });
});
afterEach(async () => {
  await host.management.close();
  rmSync(dir, { recursive: true, force: true });
});

async function rejected(
  method: 'put' | 'patch' | 'delete',
  p: string,
  body: unknown,
  status: number,
  expected: unknown,
): Promise<void> {
  const before = read();
  const res = await send(host.app, method, p, body);
  expect({ status: res.status, body: res.body }).toEqual({ status, body: expected });
  expect(read()).toBe(before);
}

describe('examples/custom-resource: deepseek-api-key from one descriptor', () => {
  it('the router lists the host rows after the built-in ones', () => {
    const paths = host.management.resources.map((r) => r.path);
    expect(paths.slice(-2)).toEqual(['/deepseek-api-key', '/excluded-models']);
    expect(paths).toContain('/claude-api-key');
  });

  it('GET fills the optional fields from the schema, without writing them', async () => {
    const res = await request(host.app).get(api('/deepseek-api-key')).set(auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      'deepseek-api-key': [
        { 'api-key': 'sk-ds-1', 'base-url': '', 'proxy-url': 'socks5://127.0.0.1:1080' },
        { 'api-key': 'sk-ds-2', 'base-url': 'https://deepseek.example/v1', 'proxy-url': '' },
        { 'api-key': 'sk-ds-3', 'base-url': '', 'proxy-url': '' },
      ],
    });
    expect(read()).toBe(CONFIG);
  });

  it('PATCH by {"api-key"} (the default match body field) changes item 2 only; items 1 and 3 keep their comments', async () => {
    const res = await send(host.app, 'patch', '/deepseek-api-key', {
      'api-key': 'sk-ds-2',
      value: { 'api-key': 'sk-ds-2b', 'base-url': 'https://deepseek.example/v1' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(read()).toBe(
      CONFIG.replace('  - api-key: "sk-ds-2"   # CI', '  - api-key: "sk-ds-2b" # CI'),
    );
  });

  it('PATCH by index', async () => {
    expect(
      (
        await send(host.app, 'patch', '/deepseek-api-key', {
          index: 2,
          value: { 'api-key': 'sk-ds-3', 'proxy-url': 'http://p:1' },
        })
      ).status,
    ).toBe(200);
    expect((onDisk()['deepseek-api-key'] as unknown[])[2]).toEqual({
      'api-key': 'sk-ds-3',
      'proxy-url': 'http://p:1',
    });
  });

  it('PUT replaces the list; nothing outside it changes', async () => {
    expect(
      (await send(host.app, 'put', '/deepseek-api-key', { items: [{ 'api-key': 'only' }] })).status,
    ).toBe(200);
    expect(onDisk()['deepseek-api-key']).toEqual([{ 'api-key': 'only' }]);
    expect(read()).toMatch(
      /^remote-management:\n[^]*\n# DeepSeek keys\ndeepseek-api-key:\n[^]*\n\n# not managed by anyone\nport: 8317\n$/,
    );
  });

  it('DELETE ?api-key= and ?index=', async () => {
    expect((await send(host.app, 'delete', '/deepseek-api-key?api-key=sk-ds-1')).status).toBe(200);
    expect((await send(host.app, 'delete', '/deepseek-api-key?index=1')).status).toBe(200);
    expect(onDisk()['deepseek-api-key']).toEqual([
      { 'api-key': 'sk-ds-2', 'base-url': 'https://deepseek.example/v1' },
    ]);
    expect(read()).toContain(
      '  # the build server\n  - api-key: "sk-ds-2"   # CI\n    base-url: "https://deepseek.example/v1"\n',
    );
  });

  it('every error of the kind, file byte-identical', async () => {
    await rejected('put', '/deepseek-api-key', [{ 'api-key': 'k', 'base-url': 'ftp://x' }], 400, {
      error: 'invalid body',
      details: [
        { path: '/0/base-url', message: expect.stringMatching(/^must match pattern/) as unknown },
      ],
    });
    await rejected(
      'patch',
      '/deepseek-api-key',
      { 'api-key': 'nobody', value: { 'api-key': 'k' } },
      404,
      { error: 'item not found' },
    );
    await rejected('patch', '/deepseek-api-key', { value: { 'api-key': 'k' } }, 400, {
      error: 'invalid body',
      details: 'expected "index" or "api-key" to select the item',
    });
    await rejected('delete', '/deepseek-api-key?index=3', undefined, 404, {
      error: 'item not found',
    });
    await rejected('delete', '/deepseek-api-key', undefined, 400, {
      error: 'missing api-key or index',
    });
  });

  it('excluded-models: a string array row, created on first append', async () => {
    expect((await request(host.app).get(api('/excluded-models')).set(auth)).body).toEqual({
      'excluded-models': [],
    });
    expect(
      (await send(host.app, 'patch', '/excluded-models', { old: '', new: 'gpt-3.5-turbo' })).status,
    ).toBe(200);
    expect(read()).toBe(`${CONFIG}excluded-models:\n  - gpt-3.5-turbo\n`);
    await rejected('delete', '/excluded-models', undefined, 400, {
      error: 'missing index or value',
    });
  });
});

describe('host rows under a nested key', () => {
  it('a string-array row on [routing, excluded] creates its parents on the first append and reads back', async () => {
    await host.management.close();
    host = createCustomHost(configPath, path.join(dir, 'auths'), {
      bcryptRounds: 4,
      logger: { warn: () => undefined },
      resources: [
        { kind: 'string-array', path: '/routing/excluded', key: ['routing', 'excluded'] },
      ],
    });
    expect(
      (await send(host.app, 'patch', '/routing/excluded', { old: '', new: 'm1' })).status,
    ).toBe(200);
    expect(read()).toBe(`${CONFIG}routing:\n  excluded:\n    - m1\n`);
    expect((await request(host.app).get(api('/routing/excluded')).set(auth)).body).toEqual({
      excluded: ['m1'],
    });
  });
});

describe('host rows: coded errors at construction', () => {
  const codex = DEEPSEEK_API_KEY;
  const construct = (resources: readonly ResourceDescriptor[]): unknown => {
    try {
      const router = createManagementRouter(configPath, path.join(dir, 'auths'), {
        resources,
        watch: false,
        logger: { warn: () => undefined },
      });
      void router.close();
      return undefined;
    } catch (err) {
      return err;
    }
  };
  const expectInvalid = (resources: readonly ResourceDescriptor[], message: RegExp): void => {
    const err = construct(resources);
    expect(err).toBeInstanceOf(ManagementError);
    expect((err as ManagementError).code).toBe('ERR_INVALID_DESCRIPTOR');
    expect((err as ManagementError).message).toMatch(message);
  };

  it('the example rows themselves are valid', () => {
    expect(construct([codex, EXCLUDED_MODELS])).toBeUndefined();
  });

  it.each<[string, ResourceDescriptor[], RegExp]>([
    [
      'a path used by a built-in row',
      [{ ...codex, path: '/claude-api-key' }],
      /path is used by another row/,
    ],
    [
      'a YAML key used by a built-in row',
      [{ ...codex, key: 'claude-api-key' }],
      /YAML key claude-api-key collides with the row \/claude-api-key/,
    ],
    [
      'a string array on api-keys',
      [{ ...EXCLUDED_MODELS, key: 'api-keys' }],
      /collides with the row \/api-keys/,
    ],
    [
      'two host rows on one path',
      [codex, { ...EXCLUDED_MODELS, path: '/deepseek-api-key' }],
      /path is used by another row/,
    ],
    [
      'a schema that is not an object schema',
      [{ ...codex, itemSchema: { type: 'string' } }],
      /itemSchema must be an object schema/,
    ],
    [
      'a matchField the schema does not name',
      [{ ...codex, matchField: 'key' }],
      /matchField "key" must be a property of itemSchema/,
    ],
    [
      'a matchField that is not a string property',
      [
        {
          ...codex,
          matchField: 'n',
          itemSchema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
        },
      ],
      /matchField "n" must be a property of itemSchema with "type": "string"/,
    ],
    [
      'a matchField that is not required',
      [{ ...codex, matchField: 'base-url' }],
      /matchField "base-url" must be listed in itemSchema.required/,
    ],
    [
      'matchBodyField "value"',
      [{ ...codex, matchBodyField: 'value' }],
      /matchBodyField must be a non-empty string other than "index" and "value"/,
    ],
    [
      'matchQuery "index"',
      [{ ...codex, matchQuery: 'index' }],
      /matchQuery must be a non-empty string other than "index"/,
    ],
    [
      'a schema that does not compile (unknown keyword, ajv strict mode)',
      [{ ...codex, itemSchema: { ...codex.itemSchema, unknownKeyword: true } }],
      /schema does not compile/,
    ],
    [
      'a schema with a bad pattern',
      [
        {
          ...codex,
          itemSchema: {
            type: 'object',
            required: ['api-key'],
            properties: { 'api-key': { type: 'string', pattern: '(' } },
          },
        },
      ],
      /schema does not compile/,
    ],
  ])('%s', (_what, resources, message) => {
    expectInvalid(resources, message);
  });

  it('the caller’s descriptors are not mutated', () => {
    const row = { ...codex };
    const frozen = Object.freeze(row);
    expect(construct([frozen])).toBeUndefined();
    expect(row.matchBodyField).toBeUndefined();
  });
});
