import { homedir } from 'node:os';
import path from 'node:path';
import { ManagementError } from './errors';
import { keyPath } from './resources/common';
import { objectArrayShape } from './resources/object-array';
import { BUILTIN_RESOURCES } from './resources/table';
import type { Storage } from './store/storage';
import type { ConfigListener, LockoutStore, Logger, ManagementOptions, ResourceDescriptor } from './types';

/** Every option with its default applied; built once per router. */
export interface Settings {
  readonly bodyLimit: number | string;
  readonly uploadLimit: number;
  readonly maxAttempts: number;
  readonly lockoutMs: number;
  /** The host's lock-out store; `undefined`: the storage engine's, else a memory one. */
  readonly lockoutStore: LockoutStore | undefined;
  /** `undefined`: the file engine with `lockStaleMs`. */
  readonly storage: Storage | undefined;
  readonly localAddresses: readonly string[];
  readonly cors: { readonly origin: string } | undefined;
  readonly resources: readonly ResourceDescriptor[];
  readonly bcryptRounds: number;
  readonly watch: boolean;
  readonly onChange: ConfigListener | undefined;
  readonly logger: Logger;
  readonly authDir: string;
  readonly panel: boolean;
  readonly openapi: boolean;
  readonly lockStaleMs: number;
  /** The `X-CPA-*` headers every answer carries (unset ones left out). */
  readonly infoHeaders: Readonly<Record<string, string>>;
}

const MiB = 1024 * 1024;

function positiveInt(name: string, value: unknown, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new ManagementError('ERR_INVALID_OPTION', `${name} must be an integer ${range}`);
  }
  return value;
}

/** `~` and `~/x` are the user's home folder. */
export function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/') || p.startsWith('~\\')) return path.join(homedir(), p.slice(2));
  return p;
}

/** Routes the router defines besides the rows (section 10.3). */
const RESERVED_PATHS = new Set(['/config', '/config.yaml']);

const ROUTE_RE = /^(?:\/[a-z0-9][a-z0-9._-]*)+$/;

/** Fatal misconfigurations of the table throw here, at construction, not at the first request. */
export function validateResources(rows: readonly ResourceDescriptor[]): void {
  const paths = new Map<string, string>();
  const keys = new Map<string, string>();
  for (const row of rows) {
    const where = `resource ${JSON.stringify(row.path)}`;
    if (typeof row.path !== 'string' || !ROUTE_RE.test(row.path)) {
      throw new ManagementError('ERR_INVALID_DESCRIPTOR', `${where}: path must look like /lower-case/segments`);
    }
    if (RESERVED_PATHS.has(row.path)) throw new ManagementError('ERR_INVALID_DESCRIPTOR', `${where}: path is taken by the whole-config endpoints`);
    if (paths.has(row.path)) throw new ManagementError('ERR_INVALID_DESCRIPTOR', `${where}: path is used by another row`);
    paths.set(row.path, row.kind);
    if (row.kind === 'files') continue;
    if (row.kind === 'object-array') objectArrayShape(row);
    const kp = keyPath(row.key);
    if (kp.length === 0 || kp.some((k) => typeof k !== 'string' || k === '' || k === '__proto__' || k === 'constructor' || k === 'prototype')) {
      throw new ManagementError('ERR_INVALID_DESCRIPTOR', `${where}: key must be a non-empty string or path of strings`);
    }
    const joined = kp.join('\u0000');
    for (const [other, otherPath] of keys) {
      if (other === joined || other.startsWith(`${joined}\u0000`) || joined.startsWith(`${other}\u0000`)) {
        throw new ManagementError('ERR_INVALID_DESCRIPTOR', `${where}: YAML key ${kp.join('.')} collides with the row ${otherPath}`);
      }
    }
    keys.set(joined, row.path);
    if (kp[0] === 'remote-management' || kp[0] === 'remote-management-key' || kp[0] === 'allow-remote-management') {
      throw new ManagementError('ERR_INVALID_DESCRIPTOR', `${where}: the management settings cannot be exposed through the API`);
    }
  }
}

const INFO_HEADERS = { version: 'X-CPA-VERSION', commit: 'X-CPA-COMMIT', buildDate: 'X-CPA-BUILD-DATE' } as const;

/** `serverInfo` as response headers; a value a header cannot carry is a construction error. */
function infoHeaders(info: unknown): Record<string, string> {
  const headers: Record<string, string> = { 'X-CPA-SUPPORT-PLUGIN': 'false' };
  if (info === undefined) return headers;
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    throw new ManagementError('ERR_INVALID_OPTION', 'serverInfo must be an object { version?, commit?, buildDate? }');
  }
  for (const [name, header] of Object.entries(INFO_HEADERS)) {
    const value: unknown = (info as Record<string, unknown>)[name];
    if (value === undefined) continue;
    // Printable ASCII only: anything else is not a valid header value (or would be mangled).
    if (typeof value !== 'string' || !/^[\x20-\x7e]{1,200}$/.test(value) || value.trim() !== value) {
      throw new ManagementError('ERR_INVALID_OPTION', `serverInfo.${name} must be a printable ASCII string of 1 to 200 characters without outer spaces`);
    }
    headers[header] = value;
  }
  return headers;
}

export function parseOptions(authDir: string, options: ManagementOptions = {}): Settings {
  if (typeof options !== 'object' || options === null) throw new ManagementError('ERR_INVALID_OPTION', 'options must be an object');
  if (typeof authDir !== 'string' || authDir.trim() === '') throw new ManagementError('ERR_INVALID_OPTION', 'authDir must be a non-empty path');
  const bodyLimit = options.bodyLimit ?? MiB;
  if (!(typeof bodyLimit === 'string' || (typeof bodyLimit === 'number' && bodyLimit > 0))) {
    throw new ManagementError('ERR_INVALID_OPTION', 'bodyLimit must be a positive number of bytes or a size string');
  }
  const store = options.lockoutStore;
  if (store !== undefined && (typeof store?.get !== 'function' || typeof store.increment !== 'function' || typeof store.reset !== 'function')) {
    throw new ManagementError('ERR_INVALID_OPTION', 'lockoutStore must implement get, increment and reset');
  }
  if (options.storage !== undefined && typeof options.storage?.open !== 'function') {
    throw new ManagementError('ERR_INVALID_OPTION', 'storage must be a storage engine (fileStorage(), postgresStorage(...))');
  }
  let cors: Settings['cors'];
  if (options.cors === true) cors = { origin: '*' };
  else if (options.cors && typeof options.cors === 'object') {
    if (typeof options.cors.origin !== 'string' || options.cors.origin === '') {
      throw new ManagementError('ERR_INVALID_OPTION', 'cors.origin must be a non-empty string');
    }
    cors = { origin: options.cors.origin };
  } else if (options.cors !== undefined && options.cors !== false) {
    throw new ManagementError('ERR_INVALID_OPTION', 'cors must be a boolean or { origin }');
  }
  const extra = options.resources ?? [];
  if (!Array.isArray(extra)) throw new ManagementError('ERR_INVALID_OPTION', 'resources must be an array of descriptors');
  const resources = [...BUILTIN_RESOURCES, ...extra];
  validateResources(resources);
  if (options.openapi !== undefined && typeof options.openapi !== 'boolean') {
    throw new ManagementError('ERR_INVALID_OPTION', 'openapi must be a boolean');
  }
  if (options.openapi && resources.some((r) => r.path === '/openapi.json')) {
    throw new ManagementError('ERR_INVALID_DESCRIPTOR', 'resource "/openapi.json": path is taken by the openapi option');
  }
  const localAddresses = options.localAddresses ?? [];
  if (!Array.isArray(localAddresses) || localAddresses.some((a) => typeof a !== 'string')) {
    throw new ManagementError('ERR_INVALID_OPTION', 'localAddresses must be an array of strings');
  }
  if (options.onChange !== undefined && typeof options.onChange !== 'function') {
    throw new ManagementError('ERR_INVALID_OPTION', 'onChange must be a function');
  }
  if (options.panel !== undefined && typeof options.panel !== 'boolean') {
    throw new ManagementError('ERR_INVALID_OPTION', 'panel must be a boolean');
  }
  const settings: Settings = {
    bodyLimit,
    uploadLimit: positiveInt('uploadLimit', options.uploadLimit, MiB),
    maxAttempts: positiveInt('maxAttempts', options.maxAttempts, 5),
    lockoutMs: positiveInt('lockoutMs', options.lockoutMs, 30 * 60_000),
    lockoutStore: store,
    storage: options.storage,
    localAddresses: [...localAddresses],
    cors,
    resources,
    bcryptRounds: positiveInt('bcryptRounds', options.bcryptRounds, 10, 4, 31),
    watch: options.watch ?? true,
    onChange: options.onChange,
    logger: options.logger ?? console,
    authDir: path.resolve(expandHome(authDir)),
    panel: options.panel ?? false,
    openapi: options.openapi ?? false,
    lockStaleMs: positiveInt('lockStaleMs', options.lockStaleMs, 10_000, 2000),
    infoHeaders: infoHeaders(options.serverInfo),
  };
  return settings;
}
