// The OpenAPI path items of the runtime's and the host's routes (only those mounted).
import type { HostRoute } from './types';
import type { PatternRoutes } from './patterns';

type Json = Record<string, unknown>;

const ERR = { $ref: '#/components/schemas/Error' };
const COMMON = {
  '401': { $ref: '#/components/responses/Unauthorized' },
  '403': { $ref: '#/components/responses/Forbidden' },
  '429': { $ref: '#/components/responses/TooManyRequests' },
};
const answer = (description: string, schema: Json): Json => ({
  description,
  content: { 'application/json': { schema } },
});
const failure = (description: string): Json => answer(description, ERR);
const HOOK_FAILURES = {
  '500': failure(
    'The host runtime failed (`runtime error`) or answered a value of the wrong shape.',
  ),
  '504': failure('The host runtime took longer than `hookTimeoutMs` (`runtime timeout`).'),
};
const STRINGS = { type: 'array', items: { type: 'string' } };
const COUNT = { type: 'integer', minimum: 0 };
const BUCKETS = {
  type: 'array',
  items: {
    type: 'object',
    required: ['time', 'success', 'failed'],
    properties: { time: { type: 'string' }, success: COUNT, failed: COUNT },
  },
};
const MODELS = {
  type: 'array',
  items: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
};
const DOWNLOAD = {
  description: 'The log, streamed as an attachment.',
  content: { 'text/plain': { schema: { type: 'string' } } },
};
const LOGGING_OFF = failure(
  '`logging-to-file` is off (`logging to file disabled`), or a bad `limit`.',
);

/** Operation of each runtime route: `METHOD path` → the operation. */
const RUNTIME: Readonly<Record<string, Json>> = {
  'GET /api-key-usage': {
    description: 'Request counts per provider and `<base-url>|<api-key>`, from the host.',
    responses: {
      '200': answer('Counts.', {
        type: 'object',
        additionalProperties: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            required: ['success', 'failed', 'recent_requests'],
            properties: { success: COUNT, failed: COUNT, recent_requests: BUCKETS },
          },
        },
      }),
    },
  },
  'GET /logs': {
    description:
      'Lines of the proxy log, newest last; `cursor` and `after` read on from a previous answer.',
    parameters: [
      {
        name: 'limit',
        in: 'query',
        schema: { type: 'integer', minimum: 1 },
        description: 'Most lines (above 10000: 10000).',
      },
      {
        name: 'after',
        in: 'query',
        schema: { type: 'integer' },
        description: 'Only lines stamped after these Unix seconds.',
      },
      {
        name: 'cursor',
        in: 'query',
        schema: { type: 'string' },
        description: 'A `next-cursor` of a previous answer.',
      },
    ],
    responses: {
      '200': answer('Lines.', {
        type: 'object',
        required: ['lines', 'line-count', 'latest-timestamp', 'next-cursor'],
        properties: {
          lines: STRINGS,
          'line-count': COUNT,
          'latest-timestamp': COUNT,
          'next-cursor': { type: 'string' },
          'cursor-reset': { const: true },
        },
      }),
      '400': LOGGING_OFF,
    },
  },
  'DELETE /logs': {
    description: 'Clear the proxy log.',
    responses: {
      '200': answer('Cleared.', {
        type: 'object',
        required: ['success', 'message', 'removed'],
        properties: { success: { const: true }, message: { type: 'string' }, removed: COUNT },
      }),
      '400': LOGGING_OFF,
    },
  },
  'GET /request-error-logs': {
    description: 'Request logs of failed requests, newest first.',
    responses: {
      '200': answer('Files.', {
        type: 'object',
        required: ['files'],
        properties: {
          files: {
            type: 'array',
            items: {
              type: 'object',
              required: ['name', 'size', 'modified'],
              properties: { name: { type: 'string' }, size: COUNT, modified: COUNT },
            },
          },
        },
      }),
    },
  },
  'GET /request-error-logs/{name}': {
    description: 'Download one `error-*.log`.',
    responses: {
      '200': DOWNLOAD,
      '400': failure('A name holding `/` or `\\`.'),
      '404': failure('No such log (`log file not found`).'),
    },
  },
  'GET /request-log-by-id/{id}': {
    description: 'Download the request log of one request id.',
    responses: {
      '200': DOWNLOAD,
      '400': failure('Not 1-128 characters of `A-Za-z0-9._-`.'),
      '404': failure('No log for the id.'),
    },
  },
  'POST /api-call': {
    description:
      'Send a request with a credential: `$TOKEN$` in a header value becomes its token. Redirects are answered, not followed.',
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['method', 'url'],
            properties: {
              auth_index: { type: 'string' },
              method: { type: 'string' },
              url: { type: 'string' },
              header: { type: 'object', additionalProperties: { type: 'string' } },
              data: { type: 'string' },
              proxy_url: { type: 'string' },
            },
          },
        },
      },
    },
    responses: {
      '200': answer('The upstream answer, whatever its status.', {
        type: 'object',
        required: ['status_code', 'header', 'body'],
        properties: {
          status_code: { type: 'integer' },
          header: { type: 'object', additionalProperties: STRINGS },
          body: { type: 'string' },
        },
      }),
      '400': failure(
        'A bad member (`invalid url`, `invalid header`...) or `auth token not found`.',
      ),
      '502': failure('The request failed, or the answer is over `apiCallMaxBytes`.'),
      '504': failure(
        '`apiCallTimeoutMs` passed (`request timed out`), or the credential hook timed out.',
      ),
    },
  },
  'GET /auth-files/models': {
    description: 'The models of one token file.',
    parameters: [{ name: 'name', in: 'query', required: true, schema: { type: 'string' } }],
    responses: {
      '200': answer('Models.', {
        type: 'object',
        required: ['models'],
        properties: { models: MODELS },
      }),
      '400': failure('Missing or bad name.'),
    },
  },
  'GET /model-definitions/{channel}': {
    description: 'The models of a channel (`claude`, `gemini`, `codex`...).',
    responses: {
      '200': answer('Models.', {
        type: 'object',
        required: ['channel', 'models'],
        properties: { channel: { type: 'string' }, models: MODELS },
      }),
      '400': failure('Blank or unknown channel.'),
    },
  },
  'GET /latest-version': {
    description: 'The newest release of the host.',
    responses: {
      '200': answer('The version.', {
        type: 'object',
        required: ['latest-version'],
        properties: { 'latest-version': { type: 'string' } },
      }),
      '502': answer('The release check failed.', { $ref: '#/components/schemas/MessageError' }),
    },
  },
};

/** `/plugins/:id` → `/plugins/{id}` with the parameter names. */
function openApiPath(
  segments: readonly (string | null)[],
  names: readonly string[],
  original?: string,
): { path: string; params: string[] } {
  if (original) {
    const params: string[] = [];
    const path = original.replace(
      /:([A-Za-z_][A-Za-z0-9_]*)/g,
      (_, n: string) => (params.push(n), `{${n}}`),
    );
    return { path, params };
  }
  let i = 0;
  return {
    path: '/' + segments.map((s) => (s === null ? `{${names[i++] as string}}` : s)).join('/'),
    params: [...names],
  };
}

const opId = (method: string, path: string): string =>
  method +
  path
    .split(/[/{}:._~-]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join('');

/** The path items of `routes` (runtime routes by their fixed description, host routes by theirs). */
export function runtimePaths(
  routes: PatternRoutes,
  host: readonly HostRoute[],
): Record<string, Record<string, unknown>> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const entry of routes.list()) {
    for (const method of entry.methods) {
      const hostRoute = host.find(
        (r) =>
          r.method === method &&
          r.path.toLowerCase().replace(/:[A-Za-z0-9_]+/g, ':') ===
            '/' + entry.segments.map((s) => (s === null ? ':' : s)).join('/'),
      );
      const { path, params } = openApiPath(entry.segments, entry.names, hostRoute?.path);
      const known = hostRoute ? undefined : RUNTIME[`${method} ${path}`];
      const op: Json = known
        ? { ...known, responses: { ...(known.responses as Json), ...COMMON, ...HOOK_FAILURES } }
        : {
            description: hostRoute?.description ?? 'A route of the host.',
            responses: {
              default: { description: "The host's answer." },
              ...COMMON,
              '500': failure('The host route failed (`runtime error`).'),
            },
          };
      const parameters = [
        ...((op.parameters as Json[] | undefined) ?? []),
        ...params.map((n) => ({ name: n, in: 'path', required: true, schema: { type: 'string' } })),
      ];
      paths[path] = {
        ...(paths[path] ?? {}),
        [method.toLowerCase()]: {
          operationId: opId(method.toLowerCase(), path),
          tags: [hostRoute ? 'host' : 'runtime'],
          ...op,
          ...(parameters.length ? { parameters } : {}),
        },
      };
    }
  }
  return paths;
}
