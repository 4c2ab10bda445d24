// Item schemas of the provider lists. Each allows fields it does not
// name (clients send `test-model`, per-model `priority`...), which are kept.
import type { JsonSchema } from '../types';

/** An http(s) URL with a host (scheme in any case), as a JSON Schema pattern. */
export const HTTP_URL = '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+(?:[/?#]\\S*)?$';
/** A string that is not empty or blank. */
export const NOT_BLANK = { type: 'string', pattern: '\\S' } as const;

const STRINGS = { type: 'array', items: { type: 'string' } } as const;
const INTEGER = {
  type: 'integer',
  minimum: Number.MIN_SAFE_INTEGER,
  maximum: Number.MAX_SAFE_INTEGER,
} as const;
const BASE_URL_OPTIONAL = { type: 'string', pattern: `^$|${HTTP_URL}` } as const;
const BASE_URL_REQUIRED = { type: 'string', pattern: HTTP_URL } as const;
/** As the `/proxy-url` scalar: empty, or http(s)/socks5(h) with a host. */
const PROXY_URL = {
  type: 'string',
  pattern:
    '^(?:(?:[Hh][Tt][Tt][Pp][Ss]?|[Ss][Oo][Cc][Kk][Ss]5[Hh]?)://[^\\s/?#\\u0000-\\u001f\\u007f]+(?:[/?#][^\\s\\u0000-\\u001f\\u007f]*)?)?$',
} as const;

/** One request-scoped error rule (R). */
export const ERROR_RULE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['status', 'action'],
  properties: {
    status: { type: 'integer', minimum: 1, maximum: 999 },
    match: STRINGS,
    'match-regexr': STRINGS,
    action: {
      type: 'string',
      enum: ['stop', 'stop-and-cooldown', 'continue', 'continue-and-cooldown'],
    },
  },
  anyOf: [
    {
      type: 'object',
      required: ['match'],
      properties: { match: { type: 'array', contains: NOT_BLANK } },
    },
    {
      type: 'object',
      required: ['match-regexr'],
      properties: { 'match-regexr': { type: 'array', contains: NOT_BLANK } },
    },
  ],
};

const MODEL_PROPERTIES = {
  name: NOT_BLANK,
  alias: { type: 'string' },
  'display-name': { type: 'string' },
  'max-context-length': { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
  'force-mapping': { type: 'boolean' },
  'is-compat': { type: 'boolean' },
  thinking: {
    type: 'object',
    properties: {
      min: INTEGER,
      max: INTEGER,
      zero_allowed: { type: 'boolean' },
      dynamic_allowed: { type: 'boolean' },
      levels: STRINGS,
    },
  },
} as const;

/** One model of a key (M). */
const MODEL: JsonSchema = { type: 'object', required: ['name'], properties: MODEL_PROPERTIES };

/** The fields every provider key has (C), without `request-scoped-errors`. */
const COMMON = {
  'api-key': NOT_BLANK,
  priority: INTEGER,
  // Absent = 1, 0 or less = never chosen: never filled in on GET.
  weight: { type: ['integer', 'null'], minimum: Number.MIN_SAFE_INTEGER, maximum: 1_000_000 },
  prefix: { type: 'string', pattern: '^/*[^/]*/*$' },
  'base-url': BASE_URL_OPTIONAL,
  'proxy-url': PROXY_URL,
  headers: { type: 'object', additionalProperties: { type: 'string' } },
  'excluded-models': STRINGS,
  models: { type: 'array', items: MODEL },
  'disable-cooling': { type: ['boolean', 'null'] },
  'request-retry': {
    type: ['integer', 'null'],
    minimum: Number.MIN_SAFE_INTEGER,
    maximum: Number.MAX_SAFE_INTEGER,
  },
} as const;

const key = (
  properties: Record<string, unknown>,
  required: string[] = ['api-key'],
): JsonSchema => ({ type: 'object', required, properties });

/** `gemini-api-key`, `interactions-api-key` items (C). */
export const PROVIDER_KEY_SCHEMA = key({
  ...COMMON,
  'request-scoped-errors': { type: 'array', items: ERROR_RULE_SCHEMA },
});

/** `claude-api-key` items: C plus the Claude extras. */
export const CLAUDE_KEY_SCHEMA = key({
  ...COMMON,
  'request-scoped-errors': { type: 'array', items: ERROR_RULE_SCHEMA },
  'rebuild-mid-system-message': { type: 'boolean' },
  cloak: {
    type: 'object',
    properties: {
      mode: { type: 'string', enum: ['auto', 'always', 'never'] },
      'strict-mode': { type: 'boolean' },
      'sensitive-words': STRINGS,
      'cache-user-id': { type: 'boolean' },
    },
  },
  'fingerprint-profile': { type: 'string', enum: ['', 'claude-code-cli', 'oauth-cli'] },
  'experimental-cch-signing': { type: 'boolean' },
});

/** `codex-api-key` items: C plus `websockets` and `alpha-search`; `base-url` required. */
export const CODEX_KEY_SCHEMA = key(
  {
    ...COMMON,
    'base-url': BASE_URL_REQUIRED,
    'request-scoped-errors': { type: 'array', items: ERROR_RULE_SCHEMA },
    websockets: { type: 'boolean' },
    'alpha-search': { type: 'boolean' },
  },
  ['api-key', 'base-url'],
);

/** `xai-api-key` items: C plus `websockets`; `base-url` required. */
export const XAI_KEY_SCHEMA = key(
  {
    ...COMMON,
    'base-url': BASE_URL_REQUIRED,
    'request-scoped-errors': { type: 'array', items: ERROR_RULE_SCHEMA },
    websockets: { type: 'boolean' },
  },
  ['api-key', 'base-url'],
);

/** `vertex-api-key` items: C without `request-scoped-errors`; each model needs `name` and `alias`. */
export const VERTEX_KEY_SCHEMA = key({
  ...COMMON,
  models: {
    type: 'array',
    items: {
      type: 'object',
      required: ['name', 'alias'],
      properties: { ...MODEL_PROPERTIES, alias: NOT_BLANK },
    },
  },
});

/** `openai-compatibility` providers (O). */
export const OPENAI_COMPATIBILITY_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['name', 'base-url'],
  properties: {
    name: NOT_BLANK,
    'base-url': BASE_URL_REQUIRED,
    priority: INTEGER,
    disabled: { type: 'boolean' },
    prefix: COMMON.prefix,
    'api-key-entries': {
      type: 'array',
      items: {
        type: 'object',
        required: ['api-key'],
        properties: { 'api-key': NOT_BLANK, weight: COMMON.weight, 'proxy-url': PROXY_URL },
      },
    },
    // Legacy: kept as stored.
    'api-keys': STRINGS,
    models: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          ...MODEL_PROPERTIES,
          image: { type: 'boolean' },
          'input-modalities': STRINGS,
          'output-modalities': STRINGS,
        },
      },
    },
    headers: COMMON.headers,
    'support-prompt-cache-key': { type: 'boolean' },
    'disable-cooling': COMMON['disable-cooling'],
    'request-retry': COMMON['request-retry'],
    'request-scoped-errors': { type: 'array', items: ERROR_RULE_SCHEMA },
  },
};

/** One alias of `oauth-model-alias`: a model `name` shown as `alias` (they must differ). */
export const MODEL_ALIAS_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['name', 'alias'],
  properties: {
    name: NOT_BLANK,
    alias: NOT_BLANK,
    fork: { type: 'boolean' },
    'display-name': { type: 'string' },
    'force-mapping': { type: 'boolean' },
  },
};
