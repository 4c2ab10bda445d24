import type { ResourceDescriptor } from '../types';

/**
 * The original Management API as data: one row per endpoint family. A host adds rows of its own
 * through `options.resources`; each row gets its full set of routes from its kind's builder.
 */
export const BUILTIN_RESOURCES: readonly ResourceDescriptor[] = [
  { kind: 'scalar', path: '/debug', key: 'debug', schema: { type: 'boolean' }, description: 'Verbose logging of the proxy.' },
  {
    kind: 'scalar',
    path: '/proxy-url',
    key: 'proxy-url',
    // Empty, or a URL with an http, https, socks5 or socks5h scheme and a host; no whitespace or
    // control characters anywhere (a NUL or BEL would be written to the file as part of the URL).
    schema: {
      type: 'string',
      pattern: '^(?:(?:[Hh][Tt][Tt][Pp][Ss]?|[Ss][Oo][Cc][Kk][Ss]5[Hh]?)://[^\\s/?#\\u0000-\\u001f\\u007f]+(?:[/?#][^\\s\\u0000-\\u001f\\u007f]*)?)?$',
    },
    resetValue: '',
    description: 'Upstream proxy for outgoing requests: empty, or an http(s):// or socks5(h):// URL.',
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
  { kind: 'scalar', path: '/request-log', key: 'request-log', schema: { type: 'boolean' }, description: 'Log every proxied request.' },
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
    description: "Let loopback clients use the proxy's client API without a key (never the Management API).",
  },
];
