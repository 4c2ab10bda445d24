import { validate, compileErrors } from '@readme/openapi-parser';
import Ajv2020 from 'ajv/dist/2020';
import request from 'supertest';
import {
  BUILTIN_RESOURCES,
  createManagementRouter,
  ManagementError,
  openApiDocument,
  type ResourceDescriptor,
} from '../lib';
import { auth, harness, type Harness } from './helpers';

/** The contract's rows of the other three kinds (sections 5-7), as a host or the table declares them. */
const OTHER_KINDS: ResourceDescriptor[] = [
  {
    kind: 'string-array',
    path: '/api-keys',
    key: 'api-keys',
    description: 'Client keys of the proxy.',
  },
  {
    kind: 'object-array',
    path: '/claude-api-key',
    key: 'claude-api-key',
    matchField: 'api-key',
    matchBodyField: 'match',
    itemSchema: {
      type: 'object',
      required: ['api-key'],
      properties: { 'api-key': { type: 'string', minLength: 1 }, 'base-url': { type: 'string' } },
    },
  },
  { kind: 'files', path: '/auth-files', description: 'JSON token files.' },
];
const PORT_ROW: ResourceDescriptor = {
  kind: 'scalar',
  path: '/port',
  key: 'port',
  schema: { type: 'integer', minimum: 1, maximum: 65535 },
};

async function expectValid(doc: unknown): Promise<void> {
  const result = await validate(structuredClone(doc) as never);
  if (!result.valid) throw new Error(compileErrors(result));
  expect(result.valid).toBe(true);
}

const ajv = new Ajv2020({ strict: false });
/** RFC 3339 `date-time` (what `modtime` is), so ajv checks it instead of warning that it cannot. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;
ajv.addFormat('date-time', {
  type: 'string',
  validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)),
});
type Doc = ReturnType<typeof openApiDocument>;
type Op = {
  requestBody?: { content: Record<string, { schema: object }> };
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
};
const op = (doc: Doc, path: string, method: string): Op => doc.paths[path]?.[method] as Op;
/** A schema of the document with its `#/components/...` references resolvable. */
const compile = (doc: Doc, schema: object) =>
  ajv.compile({ $defs: {}, components: doc.components, ...schema });

describe('openApiDocument', () => {
  it('describes the built-in table as a valid OpenAPI 3.1 document', async () => {
    const doc = openApiDocument();
    expect(doc.openapi).toBe('3.1.0');
    const rowPaths = BUILTIN_RESOURCES.map((r) => r.path);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(rowPaths));
    // Nothing else, except the sub-paths of a files row (`/auth-files/download`).
    expect(
      Object.keys(doc.paths).filter((p) => !rowPaths.some((r) => p === r || p.startsWith(`${r}/`))),
    ).toEqual([
      '/config',
      '/config.yaml',
      '/config/history',
      '/config/history/{id}',
      '/config/history/{id}/revert',
    ]);
    await expectValid(doc);
  });

  it('describes all four kinds, host rows included, as a valid document', async () => {
    const builtin = BUILTIN_RESOURCES.filter((r) => !OTHER_KINDS.some((o) => o.path === r.path));
    const doc = openApiDocument([...builtin, ...OTHER_KINDS, PORT_ROW], {
      serverUrl: '/admin/api',
      title: 'T',
      version: '9',
    });
    await expectValid(doc);
    expect(doc.info).toMatchObject({ title: 'T', version: '9' });
    expect(doc.servers).toEqual([{ url: '/admin/api' }]);
    const methods = (p: string) => Object.keys(doc.paths[p] ?? {}).filter((k) => k !== 'summary');
    expect(methods('/debug')).toEqual(['get', 'put', 'patch']);
    expect(methods('/proxy-url')).toEqual(['get', 'put', 'patch', 'delete']);
    expect(methods('/port')).toEqual(['get', 'put', 'patch']);
    expect(methods('/api-keys')).toEqual(['get', 'put', 'patch', 'delete']);
    expect(methods('/claude-api-key')).toEqual(['get', 'put', 'patch', 'post', 'delete']);
    expect(methods('/auth-files')).toEqual(['get', 'post', 'delete']);
    expect(methods('/auth-files/download')).toEqual(['get']);
    expect(doc.paths['/api-keys']?.summary).toBe('Client keys of the proxy.');
    // The PATCH of an object array selects by the row's body field; its DELETE by the query name.
    expect(JSON.stringify(op(doc, '/claude-api-key', 'patch').requestBody)).toContain('"match"');
    expect(JSON.stringify(doc.paths['/claude-api-key']?.delete)).toContain('"name":"api-key"');
    expect(doc.security).toEqual([{ bearer: [] }, { managementKey: [] }]);
    expect(doc.components.securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer' },
      managementKey: { type: 'apiKey', in: 'header', name: 'X-Management-Key' },
    });
    expect(JSON.stringify(doc.components.responses?.TooManyRequests)).toContain('Retry-After');
  });

  it('the validator is real: a broken document is refused', async () => {
    const doc = structuredClone(openApiDocument()) as unknown as {
      paths: Record<string, Record<string, { responses: unknown }>>;
    };
    (doc.paths['/debug'] as Record<string, { responses: unknown }>).get = { responses: 'nope' };
    const result = await validate(doc as never);
    expect(result.valid).toBe(false);
  });

  it('hands out a fresh copy each time', () => {
    const a = openApiDocument();
    (a.components.schemas as Record<string, unknown>).Error = 'changed';
    expect(openApiDocument().components.schemas?.Error).toMatchObject({ type: 'object' });
  });

  it("object-array and string-array request bodies are the rows' schemas", () => {
    const doc = openApiDocument(OTHER_KINDS);
    const put = compile(
      doc,
      op(doc, '/claude-api-key', 'put').requestBody?.content['application/json']?.schema ?? {},
    );
    expect(put([{ 'api-key': 'sk-1', 'base-url': '' }])).toBe(true);
    expect(put({ items: [{ 'api-key': 'sk-1' }] })).toBe(true);
    expect(put([{ 'base-url': 'https://x' }])).toBe(false);
    const keys = compile(
      doc,
      op(doc, '/api-keys', 'put').requestBody?.content['application/json']?.schema ?? {},
    );
    expect(keys(['a', 'b'])).toBe(true);
    expect(keys([])).toBe(true);
    expect(keys(['  '])).toBe(false);
    expect(keys([1])).toBe(false);
  });
});

describe('openApiDocument agrees with the router', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness(undefined, { resources: [PORT_ROW] });
  });
  afterEach(() => h.close());

  it('every GET without required parameters answers a body its 200 schema accepts', async () => {
    const doc = openApiDocument(h.router.resources);
    const paths = Object.entries(doc.paths).filter(([, item]) => {
      const get = item.get as { parameters?: { required: boolean }[] } | undefined;
      return get && !(get.parameters ?? []).some((p) => p.required);
    });
    expect(paths.length).toBeGreaterThanOrEqual(BUILTIN_RESOURCES.length);
    for (const [path] of paths) {
      const res = await request(h.app).get(`/v0/management${path}`).set(auth);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      const check = compile(
        doc,
        op(doc, path, 'get').responses['200']?.content?.['application/json']?.schema ?? {},
      );
      expect({ path, valid: check(res.body), errors: check.errors ?? null }).toEqual({
        path,
        valid: true,
        errors: null,
      });
    }
  });

  it('an auth-file listing matches its schema, modtime as an RFC 3339 date-time', async () => {
    const doc = openApiDocument(h.router.resources);
    await request(h.app)
      .post('/v0/management/auth-files?name=a.json')
      .set(auth)
      .send('{"type":"x"}')
      .expect(200);
    const res = await request(h.app).get('/v0/management/auth-files').set(auth).expect(200);
    const check = compile(
      doc,
      op(doc, '/auth-files', 'get').responses['200']?.content?.['application/json']?.schema ?? {},
    );
    expect(res.body.files).toHaveLength(1);
    expect({ valid: check(res.body), errors: check.errors ?? null }).toEqual({
      valid: true,
      errors: null,
    });
    expect(check({ files: [{ ...res.body.files[0], modtime: 'yesterday' }] })).toBe(false);
    expect(check({ files: [{ ...res.body.files[0], modtime: '2026-13-45T99:00:00Z' }] })).toBe(
      false,
    );
  });

  it("a scalar PUT body is accepted by the router exactly when the document's schema accepts it", async () => {
    const doc = openApiDocument(h.router.resources);
    const bodies = [
      { value: true },
      { value: 'true' },
      { value: 7 },
      { value: 1.5 },
      { value: -1 },
      { value: 'http://p.example:3128' },
      { value: 'ftp://x' },
      { port: 8080 },
      { value: 70000 },
      {},
    ];
    let accepted = 0;
    for (const row of h.router.resources) {
      if (row.kind !== 'scalar') continue;
      const schema = compile(
        doc,
        op(doc, row.path, 'put').requestBody?.content['application/json']?.schema ?? {},
      );
      for (const body of bodies) {
        const res = await request(h.app).put(`/v0/management${row.path}`).set(auth).send(body);
        expect({ path: row.path, body, status: res.status }).toEqual({
          path: row.path,
          body,
          status: schema(body) ? 200 : 400,
        });
        if (res.status === 200) accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(5);
  });
});

describe('the openapi option: GET /openapi.json', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('serves the document of the whole table behind access control, with the mount prefix as server', async () => {
    h = harness(undefined, { openapi: true, resources: [PORT_ROW] }, '/admin/api');
    const denied = await request(h.app).get('/admin/api/openapi.json');
    expect(denied.status).toBe(401);
    expect(denied.body).toEqual({ error: 'missing management key' });
    const res = await request(h.app).get('/admin/api/openapi.json').set(auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      ...openApiDocument(h.router.resources),
      servers: [{ url: '/admin/api' }],
    });
    expect(res.body.paths['/port']).toBeDefined();
    await expectValid(res.body);
    const post = await request(h.app).post('/admin/api/openapi.json').set(auth);
    expect(post.status).toBe(405);
    expect(post.body).toEqual({ error: 'method not allowed' });
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('is off by default (404 after access control)', async () => {
    h = harness();
    const res = await request(h.app).get('/v0/management/openapi.json').set(auth);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not found' });
  });

  it('refuses a bad value and a row on its path at construction', () => {
    const make = (options: object) => () =>
      createManagementRouter(__filename, __dirname, { watch: false, ...options });
    expect(make({ openapi: 'yes' })).toThrow(ManagementError);
    expect(make({ openapi: 'yes' })).toThrow(/ERR_INVALID_OPTION: openapi must be a boolean/);
    const row = { ...PORT_ROW, path: '/openapi.json' };
    expect(make({ openapi: true, resources: [row] })).toThrow(
      /ERR_INVALID_DESCRIPTOR: resource "\/openapi.json"/,
    );
  });
});
