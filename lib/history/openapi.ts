// The OpenAPI description of the three history routes (merged into the router's document).
type Json = Record<string, unknown>;

const ref = (kind: 'schemas' | 'responses', name: string): Json => ({
  $ref: `#/components/${kind}/${name}`,
});
const COMMON: Record<string, Json> = {
  '401': ref('responses', 'Unauthorized'),
  '403': ref('responses', 'Forbidden'),
  '429': ref('responses', 'TooManyRequests'),
};
const errorOf = (description: string, example: Json): Json => ({
  description,
  content: { 'application/json': { schema: ref('schemas', 'Error'), example } },
});
const idParam: Json = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[1-9][0-9]*$' },
};
const NOT_FOUND = errorOf('Unknown id, or an entry older than the history keeps.', {
  error: 'entry not found',
});

/** One history entry (without its diff). */
export const ENTRY_SCHEMA: Json = {
  type: 'object',
  required: ['id', 'time', 'source', 'added', 'removed'],
  properties: {
    id: { type: 'string', description: 'Decimal, strictly increasing.' },
    time: { type: 'string', format: 'date-time' },
    source: { enum: ['api', 'file', 'system', 'revert'] },
    method: { type: 'string' },
    path: { type: 'string' },
    client: {
      type: 'string',
      description: 'The address the access check saw (absent for `file` and `system`).',
    },
    added: { type: 'integer', minimum: 0 },
    removed: { type: 'integer', minimum: 0 },
    'revert-of': { type: 'string' },
    files: {
      type: 'array',
      items: { type: 'string' },
      description: 'Auth files changed (their contents are not kept).',
    },
  },
};

/** Path items of `/config/history`, `/config/history/{id}` and `/config/history/{id}/revert`. */
export function historyPaths(
  operationId: (method: string, path: string) => string,
): Record<string, Record<string, unknown>> {
  const op = (method: string, path: string, body: Json): Json => ({
    operationId: operationId(method, path),
    tags: ['history'],
    ...body,
  });
  return {
    '/config/history': {
      summary:
        'Every accepted change of the config, newest first; the management key never appears.',
      get: op('get', '/config/history', {
        parameters: [
          {
            name: 'limit',
            in: 'query',
            schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
          },
          {
            name: 'before',
            in: 'query',
            description: 'Only entries older than this id (the `next` of the previous page).',
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': {
            description: 'A page of entries and the `before` of the next page (`null`: none).',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['entries', 'next'],
                  properties: {
                    entries: { type: 'array', items: ENTRY_SCHEMA },
                    next: { type: ['string', 'null'] },
                  },
                },
              },
            },
          },
          '400': errorOf('`limit` is not 1 to 500, or `before` is not an id.', {
            error: 'invalid limit',
          }),
          ...COMMON,
        },
      }),
    },
    '/config/history/{id}': {
      summary:
        'One entry and the unified diff of the file\'s text (the key\'s lines shown as "<hidden>").',
      get: op('get', '/config/history/{id}', {
        parameters: [idParam],
        responses: {
          '200': {
            description:
              'The entry plus `diff` (3 lines of context, headers `--- config.yaml` / `+++ config.yaml`).',
            content: {
              'application/json': {
                schema: {
                  ...ENTRY_SCHEMA,
                  required: [...(ENTRY_SCHEMA.required as string[]), 'diff'],
                  properties: { ...(ENTRY_SCHEMA.properties as Json), diff: { type: 'string' } },
                },
              },
            },
          },
          '404': NOT_FOUND,
          ...COMMON,
        },
      }),
    },
    '/config/history/{id}/revert': {
      summary:
        'Undo one change on top of the config as it is now (changes made since are kept); the key is never changed.',
      post: op('post', '/config/history/{id}/revert', {
        parameters: [idParam],
        responses: {
          '200': {
            description: "Reverted; `id` is the revert's own entry.",
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['status', 'id'],
                  properties: { status: { const: 'ok' }, id: { type: 'string' } },
                },
              },
            },
          },
          '404': NOT_FOUND,
          '409': errorOf(
            'The lines the entry changed were changed since (`details` names them), or the entry cannot be reverted (`not revertible`).',
            {
              error: 'revert conflict',
              details: [{ line: 12 }],
            },
          ),
          '422': errorOf('The result would not be a valid config; nothing changed.', {
            error: 'invalid_config',
            message: 'debug: must be boolean',
          }),
          '500': errorOf('The file could not be written; it is unchanged.', {
            error: 'write_failed',
            message: '...',
          }),
          ...COMMON,
        },
      }),
    },
  };
}
