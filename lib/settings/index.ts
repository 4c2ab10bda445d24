/**
 * Options and rows in, resolved settings out, before any I/O: `createManagementRouter` calls
 * {@link resolveSettings} first, so every fatal misconfiguration (a bad option, a bad
 * `localAddresses` entry, a bad row, a schema that does not compile) throws its
 * `ManagementError` before a store is opened, a file is read or a watcher is started.
 * Everything after it (the route builders, the OpenAPI document, the panel's `meta.json`)
 * reads the resolved values and never works out a default again.
 */
import type { BlockList } from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import { ManagementError } from '../errors';
import { resolveOAuth, type ResolvedOAuth } from '../oauth/settings';
import type { AuthFileListener } from '../oauth/types';
import {
  booleanOption,
  checkOptionNames,
  describe,
  integerOption,
  invalidOption,
  sizeOption,
} from '../option-check';
import { BUILTIN_RESOURCES } from '../table/index';
import type { Storage } from '../engines/spi';
import type {
  ConfigListener,
  LockoutStore,
  Logger,
  ManagementOptions,
  ResourceDescriptor,
} from '../types';
import { resolveRuntime, type ResolvedRuntime } from '../runtime/settings';
import { buildLocalList } from './local-addresses';
import type { ResolvedRow } from './resolved';
import { resolveRows } from './rows';

export { buildLocalList } from './local-addresses';
export type {
  ResolvedFiles,
  ResolvedMap,
  ResolvedObjectArray,
  ResolvedOf,
  ResolvedRow,
  ResolvedScalar,
  ResolvedStringArray,
} from './resolved';
export { keyPath, resolveRows } from './rows';

/** Every option with its default applied and every row resolved; built once per router. */
export interface Settings {
  /** In bytes. */
  readonly bodyLimit: number;
  readonly uploadLimit: number;
  readonly uploadMaxFiles: number;
  readonly maxAttempts: number;
  readonly lockoutMs: number;
  /** Prefix length by which IPv6 clients are counted for the lock-out. */
  readonly ipv6Subnet: number;
  /** The host's lock-out store; `undefined`: the storage engine's, else a memory one. */
  readonly lockoutStore: LockoutStore | undefined;
  /** `undefined`: the file engine with `lockStaleMs`. */
  readonly storage: Storage | undefined;
  /** `localAddresses` compiled: loopback plus the host's addresses and ranges. */
  readonly localList: BlockList;
  readonly cors: { readonly origin: string } | undefined;
  /** The table as given: the built-in rows, then `options.resources`. */
  readonly resources: readonly ResourceDescriptor[];
  /** The same rows, resolved, in the same order. */
  readonly rows: readonly ResolvedRow[];
  readonly bcryptRounds: number;
  readonly watch: boolean;
  readonly onChange: ConfigListener | undefined;
  readonly logger: Logger;
  /** `~` expanded, resolved to an absolute path. */
  readonly authDir: string;
  readonly panel: boolean;
  readonly openapi: boolean;
  readonly lockStaleMs: number;
  /** `history` resolved: its limits and journal file, `undefined` when off. */
  readonly history:
    | { readonly maxEntries: number; readonly maxBytes: number; readonly file: string | undefined }
    | undefined;
  /** The `X-CPA-*` headers every answer carries (`serverInfo`, unset ones left out). */
  readonly infoHeaders: Readonly<Record<string, string>>;
  /** Hooks and host routes; `undefined` when none mounts a route. */
  readonly runtime: ResolvedRuntime | undefined;
  /** The `oauth` option checked; `undefined` without it. */
  readonly oauth: ResolvedOAuth | undefined;
  readonly onAuthFile: AuthFileListener | undefined;
}

/** Every option name; TypeScript keeps it in step with {@link ManagementOptions}. */
const OPTION_NAMES: Readonly<Record<keyof ManagementOptions, true>> = {
  bodyLimit: true,
  uploadLimit: true,
  uploadMaxFiles: true,
  maxAttempts: true,
  ipv6Subnet: true,
  lockoutMs: true,
  lockoutStore: true,
  storage: true,
  localAddresses: true,
  cors: true,
  resources: true,
  bcryptRounds: true,
  watch: true,
  onChange: true,
  logger: true,
  panel: true,
  openapi: true,
  lockStaleMs: true,
  history: true,
  serverInfo: true,
  runtime: true,
  routes: true,
  hookTimeoutMs: true,
  apiCallTimeoutMs: true,
  apiCallMaxBytes: true,
  oauth: true,
  onAuthFile: true,
};
const KNOWN = Object.keys(OPTION_NAMES);

const MiB = 1024 * 1024;
const positiveInt = integerOption;
const optionalBoolean = booleanOption;

/** The two paths: each a non-empty string; both named when both are wrong (no arguments at all). */
function checkPaths(configPath: unknown, authDir: unknown): void {
  const bad = [
    typeof configPath !== 'string' || configPath.trim() === ''
      ? 'configPath (the YAML config file)'
      : undefined,
    typeof authDir !== 'string' || authDir.trim() === ''
      ? 'authDir (the folder of auth files)'
      : undefined,
  ].filter((b) => b !== undefined);
  if (bad.length > 0) {
    throw invalidOption(
      `createManagementRouter(configPath, authDir, options?): ${bad.join(' and ')} must be ${bad.length > 1 ? 'non-empty paths' : 'a non-empty path'}`,
    );
  }
}

/** `history`: `false` (off), or limits (default 1000 entries, 8 MiB) and a journal file name. */
function resolveHistory(value: ManagementOptions['history']): Settings['history'] {
  if (value === false) return undefined;
  if (
    value !== undefined &&
    (typeof value !== 'object' || value === null || Array.isArray(value))
  ) {
    throw invalidOption('history must be false or { maxEntries, maxBytes, file }');
  }
  const given = value ?? {};
  const file = given.file;
  if (file !== undefined && (typeof file !== 'string' || file === ''))
    throw invalidOption('history.file must be a non-empty string');
  return {
    maxEntries: positiveInt('history.maxEntries', given.maxEntries, 1000, 1, 1_000_000),
    maxBytes: positiveInt('history.maxBytes', given.maxBytes, 8 * MiB, 1024),
    file,
  };
}

const INFO_HEADERS = {
  version: 'X-CPA-VERSION',
  commit: 'X-CPA-COMMIT',
  buildDate: 'X-CPA-BUILD-DATE',
} as const;

/** `serverInfo` as response headers (plus `X-CPA-SUPPORT-PLUGIN: false`); a value a header cannot carry throws. */
function infoHeaders(info: unknown): Record<string, string> {
  const headers: Record<string, string> = {};
  if (info !== undefined) {
    if (typeof info !== 'object' || info === null || Array.isArray(info))
      throw invalidOption('serverInfo must be an object { version?, commit?, buildDate? }');
    for (const [name, header] of Object.entries(INFO_HEADERS)) {
      const value: unknown = (info as Record<string, unknown>)[name];
      if (value === undefined) continue;
      // Printable ASCII only: anything else is not a valid header value (or would be mangled).
      if (
        typeof value !== 'string' ||
        !/^[\x20-\x7e]{1,200}$/.test(value) ||
        value.trim() !== value
      ) {
        throw invalidOption(
          `serverInfo.${name} must be a printable ASCII string of 1 to 200 characters without outer spaces`,
        );
      }
      headers[header] = value;
    }
  }
  // The host's plugins are not managed here: the panel hides its plugin pages.
  headers['X-CPA-SUPPORT-PLUGIN'] = 'false';
  return headers;
}

/** `~` and `~/x` are the user's home folder. */
export function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/') || p.startsWith('~\\')) return path.join(homedir(), p.slice(2));
  return p;
}

/**
 * Check and default every option, resolve every row of the table (built-in rows plus
 * `options.resources`) and compile `localAddresses`. Throws `ManagementError`
 * (`ERR_INVALID_OPTION`, `ERR_INVALID_DESCRIPTOR`) for a fatal misconfiguration, an option name
 * it does not know included (with the nearest known name). Touches no file. The caller's
 * objects are never mutated.
 */
export function resolveSettings(
  configPath: string,
  authDir: string,
  options: ManagementOptions = {},
): Settings {
  checkPaths(configPath, authDir);
  checkOptionNames('createManagementRouter', options, KNOWN);
  const logger = options.logger ?? console;
  if (typeof logger?.warn !== 'function') throw invalidOption('logger must have a warn method');
  if (logger.error !== undefined && typeof logger.error !== 'function')
    throw invalidOption('logger.error must be a function when given');
  const bodyLimit = sizeOption('bodyLimit', options.bodyLimit, MiB);
  const store = options.lockoutStore;
  if (
    store !== undefined &&
    (typeof store?.get !== 'function' ||
      typeof store.increment !== 'function' ||
      typeof store.reset !== 'function' ||
      (store.init !== undefined && typeof store.init !== 'function'))
  ) {
    throw invalidOption(
      'lockoutStore must implement get, increment and reset (and init, when given, must be a function)',
    );
  }
  if (options.storage !== undefined && typeof options.storage?.open !== 'function') {
    throw invalidOption(
      `storage must be a storage engine such as fileStorage() or postgresStorage(...) (got ${describe(options.storage)})`,
    );
  }
  if (options.storage !== undefined && options.lockStaleMs !== undefined) {
    throw invalidOption(
      'lockStaleMs is a setting of the file engine: with storage given it would be ignored; pass it to fileStorage({ lockStaleMs }) instead',
    );
  }
  let cors: Settings['cors'];
  if (options.cors === true) cors = { origin: '*' };
  else if (options.cors && typeof options.cors === 'object') {
    if (typeof options.cors.origin !== 'string' || options.cors.origin === '')
      throw invalidOption('cors.origin must be a non-empty string');
    cors = { origin: options.cors.origin };
  } else if (options.cors !== undefined && options.cors !== false) {
    throw invalidOption('cors must be a boolean or { origin }');
  }
  const extra = options.resources ?? [];
  if (!Array.isArray(extra)) throw invalidOption('resources must be an array of descriptors');
  const resources = [...BUILTIN_RESOURCES, ...extra];
  const rows = resolveRows(resources, { builtIn: BUILTIN_RESOURCES.length });
  const openapi = optionalBoolean('openapi', options.openapi, false);
  if (openapi && resources.some((r) => r.path === '/openapi.json')) {
    throw new ManagementError(
      'ERR_INVALID_DESCRIPTOR',
      'resource "/openapi.json": path is taken by the openapi option',
    );
  }
  const localAddresses = options.localAddresses ?? [];
  if (!Array.isArray(localAddresses) || localAddresses.some((a) => typeof a !== 'string')) {
    throw invalidOption('localAddresses must be an array of strings');
  }
  if (options.onChange !== undefined && typeof options.onChange !== 'function')
    throw invalidOption('onChange must be a function');
  if (options.onAuthFile !== undefined && typeof options.onAuthFile !== 'function')
    throw invalidOption('onAuthFile must be a function');
  return {
    bodyLimit,
    uploadLimit: positiveInt('uploadLimit', options.uploadLimit, MiB),
    uploadMaxFiles: positiveInt('uploadMaxFiles', options.uploadMaxFiles, 50, 1, 10_000),
    maxAttempts: positiveInt('maxAttempts', options.maxAttempts, 5),
    lockoutMs: positiveInt('lockoutMs', options.lockoutMs, 30 * 60_000),
    ipv6Subnet: positiveInt('ipv6Subnet', options.ipv6Subnet, 56, 32, 128),
    lockoutStore: store,
    storage: options.storage,
    localList: buildLocalList(localAddresses),
    cors,
    resources,
    rows,
    bcryptRounds: positiveInt('bcryptRounds', options.bcryptRounds, 10, 4, 31),
    watch: optionalBoolean('watch', options.watch, true),
    onChange: options.onChange,
    logger,
    authDir: path.resolve(expandHome(authDir)),
    panel: optionalBoolean('panel', options.panel, false),
    openapi,
    lockStaleMs: positiveInt('lockStaleMs', options.lockStaleMs, 10_000, 2000),
    history: resolveHistory(options.history),
    infoHeaders: infoHeaders(options.serverInfo),
    runtime: resolveRuntime(options, logger),
    oauth: resolveOAuth(options.oauth, logger),
    onAuthFile: options.onAuthFile,
  };
}
