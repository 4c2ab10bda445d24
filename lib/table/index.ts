import type { ObjectArrayDescriptor, ResourceDescriptor } from '../types';
import {
  CLAUDE_KEY_SCHEMA,
  CODEX_KEY_SCHEMA,
  ERROR_RULE_SCHEMA,
  MODEL_ALIAS_SCHEMA,
  OPENAI_COMPATIBILITY_SCHEMA,
  PROVIDER_KEY_SCHEMA,
  VERTEX_KEY_SCHEMA,
  XAI_KEY_SCHEMA,
} from './provider-schemas';

export { CLAUDE_KEY_SCHEMA, OPENAI_COMPATIBILITY_SCHEMA } from './provider-schemas';

/** Accepted spellings of `routing.strategy` (trimmed, lower-cased) and the name each stores. */
const ROUTING_STRATEGIES: Readonly<Record<string, string>> = {
  '': 'round-robin',
  'round-robin': 'round-robin',
  roundrobin: 'round-robin',
  rr: 'round-robin',
  'weighted-round-robin': 'weighted-round-robin',
  weightedroundrobin: 'weighted-round-robin',
  wrr: 'weighted-round-robin',
  'fill-first': 'fill-first',
  fillfirst: 'fill-first',
  ff: 'fill-first',
};

/** What upstream always shows on claude, codex and xai keys (and the older API on claude). */
const UPSTREAM_FILL = { 'base-url': '', 'proxy-url': '', models: [] } as const;

/** A provider key list matched by `api-key`, narrowed by `base-url`. */
function keyList(
  key: string,
  itemSchema: ObjectArrayDescriptor['itemSchema'],
  fill: ObjectArrayDescriptor['fill'],
  description: string,
  valueAliases?: ObjectArrayDescriptor['valueAliases'],
): ObjectArrayDescriptor {
  return {
    kind: 'object-array',
    path: `/${key}`,
    key,
    itemSchema,
    matchField: 'api-key',
    matchBodyField: 'match',
    matchQuery: 'api-key',
    narrowBy: 'base-url',
    fill,
    dropFields: ['auth-index'],
    ...(valueAliases ? { valueAliases } : {}),
    description,
  };
}

/**
 * The original Management API as data: one row per endpoint family. A host adds rows of its own
 * through `options.resources`; each row gets its full set of routes from its kind's builder.
 */
export const BUILTIN_RESOURCES: readonly ResourceDescriptor[] = [
  {
    kind: 'scalar',
    path: '/debug',
    key: 'debug',
    schema: { type: 'boolean' },
    description: 'Verbose logging of the proxy.',
  },
  {
    kind: 'scalar',
    path: '/proxy-url',
    key: 'proxy-url',
    // Empty, or a URL with an http, https, socks5 or socks5h scheme and a host; no whitespace or
    // control characters anywhere (a NUL or BEL would be written to the file as part of the URL).
    schema: {
      type: 'string',
      pattern:
        '^(?:(?:[Hh][Tt][Tt][Pp][Ss]?|[Ss][Oo][Cc][Kk][Ss]5[Hh]?)://[^\\s/?#\\u0000-\\u001f\\u007f]+(?:[/?#][^\\s\\u0000-\\u001f\\u007f]*)?)?$',
    },
    resetValue: '',
    description:
      'Upstream proxy for outgoing requests: empty, or an http(s):// or socks5(h):// URL.',
  },
  {
    kind: 'scalar',
    path: '/quota-exceeded/switch-project',
    key: ['quota-exceeded', 'switch-project'],
    schema: { type: 'boolean' },
    description: 'On a quota error, switch to another project.',
  },
  {
    kind: 'scalar',
    path: '/quota-exceeded/switch-preview-model',
    key: ['quota-exceeded', 'switch-preview-model'],
    schema: { type: 'boolean' },
    description: 'On a quota error, switch to a preview model.',
  },
  {
    kind: 'scalar',
    path: '/request-log',
    key: 'request-log',
    schema: { type: 'boolean' },
    description: 'Log every proxied request.',
  },
  {
    kind: 'scalar',
    path: '/request-retry',
    key: 'request-retry',
    schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    description: 'How many times the proxy retries a failed upstream request.',
  },
  {
    kind: 'scalar',
    path: '/allow-localhost-unauthenticated',
    key: 'allow-localhost-unauthenticated',
    schema: { type: 'boolean' },
    description:
      "Let loopback clients use the proxy's client API without a key (never the Management API).",
  },
  {
    kind: 'scalar',
    path: '/logging-to-file',
    key: 'logging-to-file',
    schema: { type: 'boolean' },
    description: 'Write the proxy log to files instead of the console.',
  },
  {
    kind: 'scalar',
    path: '/usage-statistics-enabled',
    key: 'usage-statistics-enabled',
    schema: { type: 'boolean' },
    description: 'Keep in-memory usage statistics.',
  },
  {
    kind: 'scalar',
    path: '/ws-auth',
    key: 'ws-auth',
    schema: { type: 'boolean', default: true },
    description: 'Require a key on the WebSocket API.',
  },
  {
    kind: 'scalar',
    path: '/force-model-prefix',
    key: 'force-model-prefix',
    schema: { type: 'boolean' },
    description: 'Only route models named with a credential prefix.',
  },
  {
    kind: 'scalar',
    path: '/logs-max-total-size-mb',
    key: 'logs-max-total-size-mb',
    schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    description: 'Cap of the log folder in MB; 0 = no cap.',
  },
  {
    kind: 'scalar',
    path: '/error-logs-max-files',
    key: 'error-logs-max-files',
    schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 10 },
    description: 'Error log files kept; 0 = keep all.',
  },
  {
    kind: 'scalar',
    path: '/max-retry-credentials',
    key: 'max-retry-credentials',
    schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    description: 'Credentials tried per request; 0 = every one.',
  },
  {
    kind: 'scalar',
    path: '/max-retry-interval',
    key: 'max-retry-interval',
    schema: { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER },
    description: 'Longest cooldown wait before a retry, in seconds; 0 or less = never wait.',
  },
  {
    kind: 'scalar',
    path: '/routing/strategy',
    key: ['routing', 'strategy'],
    schema: {
      type: 'string',
      enum: ['round-robin', 'weighted-round-robin', 'fill-first'],
      default: 'round-robin',
    },
    aliases: ROUTING_STRATEGIES,
    description: 'How a credential is picked: round-robin, weighted-round-robin or fill-first.',
  },
  {
    kind: 'string-array',
    path: '/api-keys',
    key: 'api-keys',
    description: "Keys of the proxy's own clients.",
  },
  {
    kind: 'string-array',
    path: '/generative-language-api-key',
    key: 'generative-language-api-key',
    description: 'Gemini (Generative Language) API keys.',
  },
  keyList(
    'gemini-api-key',
    PROVIDER_KEY_SCHEMA,
    {},
    'Gemini API keys, each with its own base URL, proxy, headers and models.',
  ),
  keyList('interactions-api-key', PROVIDER_KEY_SCHEMA, {}, 'Gemini Interactions API keys.'),
  keyList(
    'claude-api-key',
    CLAUDE_KEY_SCHEMA,
    UPSTREAM_FILL,
    'Claude API keys, each with an optional custom base URL.',
    {
      'fingerprint-profile': { 'oauth-cli': 'claude-code-cli' },
    },
  ),
  keyList(
    'codex-api-key',
    CODEX_KEY_SCHEMA,
    UPSTREAM_FILL,
    'Codex (OpenAI Responses) API keys; base-url required.',
  ),
  keyList('xai-api-key', XAI_KEY_SCHEMA, UPSTREAM_FILL, 'xAI API keys; base-url required.'),
  keyList(
    'vertex-api-key',
    VERTEX_KEY_SCHEMA,
    {},
    'Vertex AI API keys; each model needs a name and an alias.',
  ),
  {
    kind: 'object-array',
    path: '/openai-compatibility',
    key: 'openai-compatibility',
    itemSchema: OPENAI_COMPATIBILITY_SCHEMA,
    matchField: 'name',
    matchBodyField: 'name',
    matchQuery: 'name',
    // Section 6's fills plus what upstream always emits; never `weight`.
    fill: { 'api-keys': [], models: [], disabled: false },
    dropFields: ['auth-index'],
    description: 'OpenAI-compatible providers: name, base URL, keys and model aliases.',
  },
  {
    kind: 'map',
    path: '/oauth-excluded-models',
    key: 'oauth-excluded-models',
    nameField: 'provider',
    listField: 'models',
    itemSchema: { type: 'string' },
    description: 'Models never used through the OAuth credentials of a provider.',
  },
  {
    kind: 'map',
    path: '/oauth-model-alias',
    key: 'oauth-model-alias',
    nameField: 'channel',
    nameAliases: ['provider'],
    listField: 'aliases',
    itemSchema: MODEL_ALIAS_SCHEMA,
    uniqueBy: 'alias',
    distinct: ['name', 'alias'],
    description: 'Model aliases per OAuth channel.',
  },
  {
    kind: 'map',
    path: '/oauth-request-scoped-errors',
    key: 'oauth-request-scoped-errors',
    nameField: 'channel',
    nameAliases: ['provider'],
    listField: 'rules',
    itemSchema: ERROR_RULE_SCHEMA,
    description: 'How upstream errors of an OAuth channel are handled.',
  },
  {
    kind: 'files',
    path: '/auth-files',
    description: 'JSON token files in the auth folder: list, upload, download, delete.',
  },
];
