import { BUILTIN_RESOURCES } from './table';
import {
  resolveRows,
  type ResolvedFiles,
  type ResolvedMap,
  type ResolvedObjectArray,
  type ResolvedRow,
  type ResolvedScalar,
  type ResolvedStringArray,
} from './settings';
import type { JsonSchema, ResourceDescriptor } from './types';
import {
  aliasSchema,
  body,
  COMMON,
  COMPONENTS,
  error,
  INDEX,
  json,
  object,
  okResponse,
  operationId,
  query,
  READ,
  ref,
  WITH_BODY,
  WITH_QUERY,
  WRITE,
  type Json,
  type Responses,
} from './openapi-parts';
import { historyPaths } from './history/openapi';

/** What {@link openApiDocument} may be told about the API it describes. */
export interface OpenApiOptions {
  /** `info.title`. Default: `'CLI Proxy API Management API'`. */
  readonly title?: string;
  /** `info.version`, the version of the API (not of this library). Default: `'v0'`. */
  readonly version?: string;
  /** `servers[0].url`: where the router is mounted (`'/v0/management'`, the default, or a full URL; `/openapi.json` puts its prefix here). */
  readonly serverUrl?: string;
  /** List the history routes (`GET /config/history`...). Default: `true` (the router leaves them out when its history is off). */
  readonly history?: boolean;
}

/** An OpenAPI 3.1 document, as plain JSON-serialisable data. */
export interface OpenApiDocument {
  /** The OpenAPI version of the document. */
  readonly openapi: '3.1.0';
  /** Title, API version and a short description. */
  readonly info: {
    readonly title: string;
    readonly version: string;
    readonly description?: string;
  };
  /** One entry: the mount point of the router. */
  readonly servers: readonly { readonly url: string }[];
  /** Either way of sending the management key: `bearer` or `managementKey` (`X-Management-Key`). */
  readonly security: readonly Record<string, readonly string[]>[];
  /** One path item per route, relative to the server URL. */
  readonly paths: Record<string, Record<string, unknown>>;
  /** `securitySchemes`, the shared `schemas` (`Error`, `Ok`) and the shared error `responses`. */
  readonly components: Record<string, Record<string, unknown>>;
}

function scalarPaths(d: ResolvedScalar): Record<string, Json> {
  const { field } = d;
  // With aliases, a spelling in any case with outer spaces is accepted (and stored as the value it maps to).
  const schema: JsonSchema = d.aliases ? aliasSchema(d.aliases) : d.schema;
  const shown: JsonSchema = d.aliases
    ? { type: 'string', description: 'The stored name (an unknown stored value is shown trimmed).' }
    : d.schema;
  const nested = d.key.length > 1 ? { '409': ref('responses', 'Conflict') } : {};
  const set = {
    requestBody: body(
      { anyOf: [object({ value: schema }), object({ [field]: schema })] },
      `\`{"value": v}\` or the GET shape \`{"${field}": v}\`.`,
    ),
    responses: { ...WITH_BODY, ...nested },
  };
  const ops: Json = {
    get: { responses: { '200': okResponse(object({ [field]: shown })), ...READ } },
    put: set,
    patch: set,
  };
  if (d.resetValue !== undefined) {
    ops.delete = {
      description: `Resets the value to ${JSON.stringify(d.resetValue)}.`,
      responses: { ...WRITE, ...nested },
    };
  }
  return { [d.path]: ops };
}

const NON_EMPTY = { type: 'string', pattern: '\\S' };

function listBody(item: Json | JsonSchema): Json {
  const list = { type: 'array', items: item };
  return body(
    { anyOf: [list, object({ items: list })] },
    'The whole new list: a raw array or `{"items": [...]}`.',
  );
}

function stringArrayPaths(d: ResolvedStringArray): Record<string, Json> {
  const { field } = d;
  return {
    [d.path]: {
      get: {
        responses: {
          '200': okResponse(object({ [field]: { type: 'array', items: { type: 'string' } } })),
          ...READ,
        },
      },
      put: {
        description: 'Replace the list (`[]` clears it).',
        requestBody: listBody(NON_EMPTY),
        responses: WITH_BODY,
      },
      patch: {
        description:
          'Replace item `index`, or the first item equal to `old` (when none is, `new` is appended). ' +
          'Neither form: `400 {"error":"missing fields"}`.',
        requestBody: body({
          anyOf: [
            object({ index: { type: 'integer', minimum: 0 }, value: NON_EMPTY }),
            object({ old: { type: 'string' }, new: NON_EMPTY }),
          ],
        }),
        responses: { ...WITH_BODY, '404': ref('responses', 'NotFound') },
      },
      delete: {
        description:
          'Remove item `index`, or every item equal to `value`. Neither: `400 {"error":"missing index or value"}`.',
        parameters: [
          INDEX,
          query('value', { type: 'string' }, 'Remove every item equal to this (after trimming).'),
        ],
        responses: { ...WITH_QUERY, '404': ref('responses', 'NotFound') },
      },
    },
  };
}

function objectArrayPaths(d: ResolvedObjectArray): Record<string, Json> {
  const { field, matchBodyField: bodyField, matchQuery: queryName, narrowBy: narrow } = d;
  const narrowParam = (description: string): Json =>
    query(narrow as string, { type: 'string' }, description);
  return {
    [d.path]: {
      get: {
        responses: {
          '200': okResponse(object({ [field]: { type: 'array', items: d.itemSchema } })),
          ...READ,
        },
      },
      put: {
        description: 'Replace the list; any invalid item rejects the whole request.',
        requestBody: listBody(d.itemSchema),
        responses: WITH_BODY,
      },
      patch: {
        description:
          `Merge \`value\` field by field (\`null\` removes a field) into item \`index\`, or the first item whose \`${d.matchField}\` equals \`${bodyField}\`` +
          (narrow
            ? ` (and whose \`${narrow}\` equals the \`${narrow}\` query parameter, when given).`
            : '.') +
          ' The result must be a valid item.',
        ...(narrow ? { parameters: [narrowParam('Only the item with this value.')] } : {}),
        requestBody: body({
          anyOf: [
            object({ index: { type: 'integer', minimum: 0 }, value: { type: 'object' } }),
            object({ [bodyField]: { type: 'string' }, value: { type: 'object' } }),
          ],
        }),
        responses: { ...WITH_BODY, '404': ref('responses', 'NotFound') },
      },
      post: {
        description:
          'Append one item (not in the CLI Proxy API server: concurrent appends never lose each other).',
        requestBody: body(d.itemSchema),
        responses: WITH_BODY,
      },
      delete: {
        description: `Remove item \`index\`, or every item whose \`${d.matchField}\` equals \`${queryName}\`.`,
        parameters: [
          INDEX,
          query(
            queryName,
            { type: 'string' },
            `Remove every item with this \`${d.matchField}\` (trimmed).`,
          ),
          ...(narrow
            ? [
                narrowParam(
                  'With the key: only the items with this value too (empty: the items without one).',
                ),
              ]
            : []),
        ],
        responses: { ...WITH_QUERY, '404': ref('responses', 'NotFound') },
      },
    },
  };
}

/**
 * The token-file name rule of `tokenFileName` (lib/engines/tokens.ts), the one rule: letters of any
 * script with their marks, decimal digits, space and `._-@+`, not starting with `.`, ending in
 * `.json` (any case). The rule's limit is 255 bytes of UTF-8; a schema can only count characters.
 */
const FILE_NAME = {
  type: 'string',
  pattern: '^(?!\\.)[\\p{L}\\p{M}\\p{Nd} ._@+-]*\\.[jJ][sS][oO][nN]$',
  maxLength: 255,
};

/** One entry of `GET /auth-files`: derived from the file and its metadata. */
const FILE_ENTRY = object(
  {
    name: { type: 'string' },
    id: { type: 'string', description: 'The name.' },
    size: { type: 'integer', minimum: 0 },
    modtime: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time', description: 'The modtime.' },
    type: {
      type: 'string',
      description: 'The JSON `type` when it is a non-blank string, else `unknown`.',
    },
    provider: { type: 'string', description: 'The type.' },
    email: { type: 'string' },
    label: { type: 'string', description: 'The email, else the type.' },
    disabled: { type: 'boolean', description: 'The JSON `disabled` is `true` or `"true"`.' },
    status: { enum: ['active', 'disabled'] },
    status_message: { const: '' },
    unavailable: { const: false },
    runtime_only: { const: false },
    source: { const: 'file' },
    project_id: { type: 'string' },
    note: { type: 'string' },
    priority: { type: 'integer' },
    weight: { type: 'integer', minimum: 0, maximum: 1000000 },
    request_retry: { type: 'integer', minimum: 0 },
    websockets: { type: 'boolean' },
    last_refresh: { type: 'string', format: 'date-time' },
    id_token: {
      type: 'object',
      description: 'Codex files: account fields of the unverified `id_token` payload.',
      properties: {
        chatgpt_account_id: { type: 'string' },
        plan_type: { type: 'string' },
        chatgpt_subscription_active_start: { type: ['string', 'number'] },
        chatgpt_subscription_active_until: { type: ['string', 'number'] },
      },
    },
  },
  [
    'name',
    'id',
    'size',
    'modtime',
    'updated_at',
    'type',
    'provider',
    'label',
    'disabled',
    'status',
    'status_message',
    'unavailable',
    'runtime_only',
    'source',
  ],
);

const FAILED = {
  type: 'array',
  items: object({
    name: { type: 'string' },
    error: { type: 'string', description: 'What the same request for this file alone answers.' },
  }),
};

/** The `200` and `207` answers of a batch upload or delete, `count` being `uploaded` or `deleted`. */
function batch(count: string, what: string): Responses {
  const names = { type: 'array', items: { type: 'string' } };
  return {
    '200': okResponse(
      {
        oneOf: [
          ref('schemas', 'Ok'),
          object({
            status: { const: 'ok' },
            [count]: { type: 'integer', minimum: 0 },
            files: names,
          }),
        ],
      },
      `Done: \`{"status":"ok"}\` for one ${what} (and for \`all\`, with \`deleted\`), else the count and the names.`,
    ),
    '207': okResponse(
      object({
        status: { const: 'partial' },
        [count]: { type: 'integer', minimum: 0 },
        files: names,
        failed: FAILED,
      }),
      `Several ${what}s, some failed: each on its own; the others are done.`,
    ),
  };
}

/** The body of the two PATCH routes: the file's name plus the members to set. */
const patchBody = (properties: Json, required: string[], description: string): Json =>
  body(
    {
      type: 'object',
      required: ['name', ...required],
      properties: { name: FILE_NAME, ...properties },
    },
    description,
  );

function filesPaths(d: ResolvedFiles): Record<string, Json> {
  const fileError = (message: string): Json => error('No such file.', message);
  const written = {
    ...WITH_BODY,
    '500': error('The file could not be written.', 'failed to write file: ...'),
  };
  const edited: Responses = {
    ...COMMON,
    '400': ref('responses', 'BadRequest'),
    '404': fileError('file not found'),
    '409': error(
      'The stored file is not a JSON object; it is left alone.',
      'file is not a JSON object',
    ),
    '500': error('The file could not be written.', 'failed to write file: ...'),
  };
  return {
    [d.path]: {
      get: {
        responses: {
          '200': okResponse(
            object({ files: { type: 'array', items: FILE_ENTRY } }),
            'The regular `.json` files of the folder, sorted by name, each described from its contents.',
          ),
          ...READ,
        },
      },
      post: {
        description:
          'Upload JSON object files, overwriting ones of the same name: one or several multipart `file` parts (at most `uploadMaxFiles`), or a raw body with `?name=`.',
        parameters: [query('name', FILE_NAME, 'The file name, for a raw (non-multipart) body.')],
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: object({
                file: {
                  type: 'array',
                  items: { type: 'string', contentMediaType: 'application/json' },
                  description: 'The files; each name must end in .json.',
                },
              }),
            },
            'application/json': { schema: { type: 'object' } },
          },
        },
        responses: {
          ...written,
          ...batch('uploaded', 'file'),
          '413': error(
            'A file larger than `uploadLimit`, or more `file` parts than `uploadMaxFiles`.',
            'too many files',
          ),
        },
      },
      delete: {
        description:
          'Delete files: `all=true` (or `1`, `*`) deletes every regular `.json` file; else the names of repeated `name` parameters, or of a JSON body `{"names": [...]}`, `{"name": "..."}` or a bare array.',
        parameters: [
          query('name', FILE_NAME, 'A file to delete (repeat it for several).'),
          query('all', { enum: ['true', '1', '*'] }, 'Delete every `.json` file.'),
        ],
        requestBody: {
          required: false,
          content: json({
            oneOf: [
              {
                type: 'object',
                properties: {
                  names: { type: 'array', items: { type: 'string' } },
                  name: { type: 'string' },
                },
              },
              { type: 'array', items: { type: 'string' } },
            ],
          }),
        },
        responses: {
          ...WITH_QUERY,
          ...batch('deleted', 'name'),
          '404': fileError('file not found'),
          '500': error('A file could not be deleted.', 'failed to delete file: ...'),
        },
      },
    },
    [`${d.path}/download`]: {
      get: {
        parameters: [query('name', FILE_NAME, 'The file to download.', true)],
        responses: {
          '200': {
            description: "The file's bytes.",
            headers: {
              'Content-Disposition': {
                schema: { type: 'string' },
                description: 'attachment; filename="<name>"',
              },
            },
            content: json({ type: 'object' }),
          },
          '400': ref('responses', 'BadRequest'),
          '404': fileError('file not found'),
          ...READ,
        },
      },
    },
    [`${d.path}/status`]: {
      patch: {
        description:
          'Set the top-level `disabled` member of a file (rewritten atomically, member order kept, 2-space indent).',
        requestBody: patchBody(
          { disabled: { type: 'boolean' } },
          ['disabled'],
          '`auth_index` and other members are ignored.',
        ),
        responses: {
          ...edited,
          '200': okResponse(
            object({ status: { const: 'ok' }, disabled: { type: 'boolean' } }),
            'Done.',
          ),
        },
      },
    },
    [`${d.path}/fields`]: {
      patch: {
        description:
          'Set members of a file: every member besides `name` is a top-level key or a dotted path. Kebab spellings of the known fields are stored in snake case; `weight` (0 to 1000000, `null` removes) and `request_retry` (`null` or negative removes) are integers; `headers` merges (`""` removes one); other values are stored as sent.',
        requestBody: patchBody(
          {
            weight: { type: ['integer', 'null'], maximum: 1000000 },
            request_retry: { type: ['integer', 'null'] },
            headers: { type: 'object', additionalProperties: { type: 'string' } },
          },
          [],
          'At least one member besides `name`.',
        ),
        responses: { ...edited, '200': ref('responses', 'Ok') },
      },
    },
  };
}

const messageError = (description: string, example: { error: string; message: string }): Json => ({
  description,
  content: { 'application/json': { schema: ref('schemas', 'MessageError'), example } },
});

/** `GET /config`, `GET`/`PUT /config.yaml`. */
const WHOLE_CONFIG: Record<string, Json> = {
  '/config': {
    summary:
      'The whole config as JSON (the management key and host settings left out, row defaults filled in).',
    get: {
      responses: { '200': okResponse({ type: 'object' }, 'The top-level mapping.'), ...READ },
    },
  },
  '/config.yaml': {
    summary: 'The config file as YAML text; the management key shows as "<hidden>".',
    get: {
      responses: {
        '200': {
          description: "The file's text.",
          content: { 'application/yaml': { schema: { type: 'string' } } },
        },
        '500': messageError('The file on disk cannot be read or parsed right now.', {
          error: 'read_failed',
          message: '...',
        }),
        ...READ,
      },
    },
    put: {
      description:
        'Replace the whole file. A key of "<hidden>" (or none) keeps the stored key; a new one is hashed before it is written; an empty one is refused.',
      requestBody: {
        required: true,
        content: { 'application/yaml': { schema: { type: 'string' } } },
      },
      responses: {
        '200': okResponse(
          object({
            status: { const: 'ok' },
            ok: { const: true },
            changed: { type: 'array', items: { type: 'string' } },
          }),
          'Written.',
        ),
        '400': messageError('Not YAML, not UTF-8, or not a mapping.', {
          error: 'invalid_yaml',
          message: 'Bad indentation at line 2, column 1',
        }),
        '413': ref('responses', 'TooLarge'),
        '422': messageError('A known key holds a wrong value, or the key would be emptied.', {
          error: 'invalid_config',
          message: 'debug: must be boolean',
        }),
        '500': messageError('The file could not be written; it is unchanged.', {
          error: 'write_failed',
          message: '...',
        }),
        ...COMMON,
      },
    },
  },
};

function mapPaths(d: ResolvedMap): Record<string, Json> {
  const { field, nameField, listField } = d;
  const map: Json = {
    type: 'object',
    additionalProperties: { type: 'array', items: d.itemSchema },
  };
  const names = d.nameFields.map((f) => `\`${f}\``).join(' or ');
  const missing = (example: string): Json => error(`No such ${nameField}.`, example);
  return {
    [d.path]: {
      get: {
        responses: {
          '200': okResponse(object({ [field]: map }), 'The map, normalised (`{}` when absent).'),
          ...READ,
        },
      },
      put: {
        description:
          'Replace the map (normalised: names trimmed and lower-cased, failing and repeated entries dropped).',
        requestBody: body({ anyOf: [map, object({ items: map })] }),
        responses: WITH_BODY,
      },
      patch: {
        description: `Set the list of one ${nameField} (named by ${names}); an empty list removes it.`,
        requestBody: body({
          type: 'object',
          required: [listField],
          properties: {
            [nameField]: { type: 'string' },
            [listField]: { type: 'array', items: d.itemSchema },
          },
        }),
        responses: { ...WITH_BODY, '404': missing(`${nameField} not found`) },
      },
      delete: {
        description: `Remove one ${nameField}.`,
        parameters: d.nameFields.map((f) =>
          query(f, { type: 'string' }, `The ${nameField} to remove.`),
        ),
        responses: { ...WITH_QUERY, '404': missing(`${nameField} not found`) },
      },
    },
  };
}

function pathsOf(d: ResolvedRow): Record<string, Json> {
  switch (d.kind) {
    case 'scalar':
      return scalarPaths(d);
    case 'string-array':
      return stringArrayPaths(d);
    case 'object-array':
      return objectArrayPaths(d);
    case 'map':
      return mapPaths(d);
    case 'files':
      return filesPaths(d);
  }
}

/**
 * The OpenAPI 3.1 description of a Management API built from `resources`, derived from the same
 * descriptor table the router is built from: paths, methods, request bodies (the rows' JSON
 * Schemas), response bodies, the JSON error responses and the two ways to send the key.
 *
 * @param resources - The rows to describe. Default: {@link BUILTIN_RESOURCES}. Pass `router.resources` to describe a router with the host's own rows.
 * @param options - Title, version and server URL of the document.
 * @throws {ManagementError} `ERR_INVALID_DESCRIPTOR` for a bad row, as the router would.
 * @returns A new plain object, safe to modify and to serialise with `JSON.stringify`.
 *
 * @example
 * ```ts
 * const management = createManagementRouter('./config.yaml', './auths', { resources: myRows });
 * writeFileSync('openapi.json', JSON.stringify(openApiDocument(management.resources), null, 2));
 * ```
 */
export function openApiDocument(
  resources: readonly ResourceDescriptor[] = BUILTIN_RESOURCES,
  options: OpenApiOptions = {},
): OpenApiDocument {
  return openApiFromRows(resolveRows(resources), options);
}

/** {@link openApiDocument} of rows already resolved (the router's own, for `/openapi.json`). */
export function openApiFromRows(
  rows: readonly ResolvedRow[],
  options: OpenApiOptions = {},
): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, item] of Object.entries(WHOLE_CONFIG)) {
    paths[path] = Object.fromEntries(
      Object.entries(item).map(([method, op]) => [
        method,
        method === 'summary'
          ? op
          : { operationId: operationId(method, path), tags: ['config'], ...(op as Json) },
      ]),
    );
  }
  if (options.history ?? true) Object.assign(paths, historyPaths(operationId));
  for (const row of rows) {
    for (const [path, ops] of Object.entries(pathsOf(row))) {
      const item: Record<string, unknown> = {};
      if (row.description) item.summary = row.description;
      for (const [method, op] of Object.entries(ops)) {
        item[method] = {
          operationId: operationId(method, path),
          tags: [row.kind],
          ...(op as Json),
        };
      }
      paths[path] = item;
    }
  }
  const doc: OpenApiDocument = {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'CLI Proxy API Management API',
      version: options.version ?? 'v0',
      description:
        'Every route first checks the client (local, or remote management allowed) and the management key. ' +
        'Every mutation answers only once the config file on disk holds the change.',
    },
    servers: [{ url: options.serverUrl ?? '/v0/management' }],
    security: [{ bearer: [] }, { managementKey: [] }],
    paths,
    components: COMPONENTS,
  };
  // A deep copy: the shared component objects and the rows' schemas are never handed out.
  return structuredClone(doc);
}
