// The building blocks of the OpenAPI document: references, shared responses and components,
// parameters and bodies.
import type { JsonSchema } from './types';

/** A JSON object of the document. */
export type Json = Record<string, unknown>;
/** An operation's responses by status. */
export type Responses = Record<string, Json>;

/** A `$ref` to a shared component. */
export const ref = (kind: 'schemas' | 'responses', name: string): Json => ({
  $ref: `#/components/${kind}/${name}`,
});
/** A JSON content entry of `schema`. */
export const json = (schema: Json | JsonSchema): Json => ({ 'application/json': { schema } });
/** A `200` answering `schema`. */
export const okResponse = (schema: Json | JsonSchema, description = 'The value.'): Json => ({
  description,
  content: json(schema),
});
/** An object schema with these properties (all required unless told). */
export const object = (
  properties: Record<string, unknown>,
  required: readonly string[] = Object.keys(properties),
): Json => ({
  type: 'object',
  required: [...required],
  properties,
});

/** Every route answers these (access control runs first, the file may be unwritable). */
export const COMMON: Responses = {
  '401': ref('responses', 'Unauthorized'),
  '403': ref('responses', 'Forbidden'),
  '429': ref('responses', 'TooManyRequests'),
};
/** What a read answers. */
export const READ: Responses = { ...COMMON };
/** What a write answers. */
export const WRITE: Responses = {
  '200': ref('responses', 'Ok'),
  ...COMMON,
  '500': ref('responses', 'SaveFailed'),
};
/** What a write with a JSON body answers. */
export const WITH_BODY: Responses = {
  ...WRITE,
  '400': ref('responses', 'BadRequest'),
  '413': ref('responses', 'TooLarge'),
};
/** What a write selected by a query answers. */
export const WITH_QUERY: Responses = { ...WRITE, '400': ref('responses', 'BadRequest') };

/** An error response with an example `error`. */
export const error = (description: string, example: string, headers?: Json): Json => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema: ref('schemas', 'Error'), example: { error: example } } },
});

/** The shared components: security schemes, schemas and error responses. */
export const COMPONENTS: Record<string, Record<string, unknown>> = {
  securitySchemes: {
    bearer: {
      type: 'http',
      scheme: 'bearer',
      description: 'The management key: `Authorization: Bearer <key>`.',
    },
    managementKey: {
      type: 'apiKey',
      in: 'header',
      name: 'X-Management-Key',
      description: 'The management key.',
    },
  },
  schemas: {
    Error: {
      type: 'object',
      required: ['error'],
      properties: {
        error: { type: 'string' },
        details: { description: 'Which part of the request was wrong, when known.' },
      },
    },
    Ok: object({ status: { const: 'ok' } }),
    MessageError: object({ error: { type: 'string' }, message: { type: 'string' } }),
  },
  responses: {
    Ok: okResponse(ref('schemas', 'Ok'), 'Done; the change is durable on disk.'),
    BadRequest: error(
      'Malformed JSON, wrong shape or type, or a bad query parameter.',
      'invalid body',
    ),
    Unauthorized: error('Missing or wrong management key.', 'missing management key'),
    Forbidden: error(
      'A non-local client while remote management is disabled.',
      'remote management disabled',
    ),
    NotFound: error('No such item.', 'item not found'),
    Conflict: error(
      'The config file holds a non-mapping where a mapping is needed.',
      'config conflict',
    ),
    TooLarge: error('The body is larger than the limit.', 'request body too large'),
    TooManyRequests: error('Locked out after too many wrong keys.', 'too many failed attempts', {
      'Retry-After': {
        description: 'Seconds until the lock-out ends.',
        schema: { type: 'integer', minimum: 1 },
      },
    }),
    SaveFailed: error(
      'The config file could not be written (or is not valid YAML right now); it is unchanged.',
      'failed to save config: ...',
    ),
  },
};

/** `/quota-exceeded/switch-project` + `put` → `putQuotaExceededSwitchProject`. */
export function operationId(method: string, path: string): string {
  const words = path.split(/[^a-zA-Z0-9]+/).filter(Boolean);
  return method + words.map((w) => w[0]?.toUpperCase() + w.slice(1)).join('');
}

/** A query parameter. */
export const query = (name: string, schema: Json, description: string, required = false): Json => ({
  name,
  in: 'query',
  required,
  description,
  schema,
});
/** The `?index=` parameter. */
export const INDEX = query(
  'index',
  { type: 'string', pattern: '^[0-9]+$' },
  'Position of the item, decimal digits (0 is the first).',
);

/** A required JSON request body. */
export function body(schema: Json, description?: string): Json {
  return { required: true, ...(description ? { description } : {}), content: json(schema) };
}

/** A string matching one of `aliases`' spellings in any case, with outer whitespace. */
export function aliasSchema(aliases: Readonly<Record<string, string>>): JsonSchema {
  const anyCase = (a: string): string =>
    a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`);
  return {
    type: 'string',
    pattern: `^\\s*(?:${Object.keys(aliases).map(anyCase).join('|')})\\s*$`,
    description: `Stored as ${[...new Set(Object.values(aliases))].join(', ')}.`,
  };
}
