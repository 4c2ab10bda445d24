// The runtime options checked before any I/O: hooks are functions, host routes well formed and
// unique, limits in range. Hooks are only looked up here, never called.
import { ManagementError } from '../errors';
import type { Logger } from '../types';
import { parsePattern, patternKey } from './patterns';
import type { HostRoute, ManagementRuntime } from './types';

/** The runtime options of a router, checked; `undefined` when nothing is mounted (the router as without them). */
export interface ResolvedRuntime {
  readonly hooks: ManagementRuntime;
  readonly routes: readonly HostRoute[];
  readonly hookTimeoutMs: number;
  readonly apiCallTimeoutMs: number;
  readonly apiCallMaxBytes: number;
}

/** Every hook name; TypeScript keeps it in step with {@link ManagementRuntime}. */
const HOOK_NAMES: Readonly<Record<keyof ManagementRuntime, true>> = {
  apiKeyUsage: true,
  authFileState: true,
  readLogs: true,
  clearLogs: true,
  listErrorLogs: true,
  openErrorLog: true,
  openRequestLog: true,
  apiCallCredential: true,
  apiCallFetch: true,
  authFileModels: true,
  modelDefinitions: true,
  latestVersion: true,
};

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

const invalid = (message: string): ManagementError =>
  new ManagementError('ERR_INVALID_OPTION', message);

function limit(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
    throw invalid(`${name} must be an integer >= ${min}`);
  return value;
}

/** What the options say about the runtime. */
export interface RuntimeOptions {
  readonly runtime?: ManagementRuntime;
  readonly routes?: readonly HostRoute[];
  readonly hookTimeoutMs?: number;
  readonly apiCallTimeoutMs?: number;
  readonly apiCallMaxBytes?: number;
}

/**
 * Check the runtime options: a hook that is not a function, a bad or repeated host route, a
 * limit out of range throw `ERR_INVALID_OPTION`; an unknown hook name is warned about.
 */
export function resolveRuntime(
  options: RuntimeOptions,
  logger: Logger,
): ResolvedRuntime | undefined {
  const { runtime = {}, routes = [] } = options;
  if (typeof runtime !== 'object' || runtime === null || Array.isArray(runtime))
    throw invalid('runtime must be an object of hooks');
  const hooks: Record<string, unknown> = {};
  for (const name of Object.keys(runtime)) {
    const hook: unknown = (runtime as Record<string, unknown>)[name];
    if (!Object.prototype.hasOwnProperty.call(HOOK_NAMES, name)) {
      logger.warn(`cli-proxy-management: unknown runtime hook ${JSON.stringify(name)} is ignored`);
      continue;
    }
    if (hook === undefined) continue;
    if (typeof hook !== 'function') throw invalid(`runtime.${name} must be a function`);
    hooks[name] = hook;
  }
  if (hooks.apiCallFetch && !hooks.apiCallCredential) {
    logger.warn(
      'cli-proxy-management: runtime.apiCallFetch is unused without runtime.apiCallCredential (POST /api-call is not mounted)',
    );
  }
  if (!Array.isArray(routes)) throw invalid('routes must be an array of host routes');
  const seen = new Set<string>();
  for (const [i, route] of routes.entries()) {
    const at = `routes[${i}]`;
    if (typeof route !== 'object' || route === null)
      throw invalid(`${at} must be an object { method, path, handler }`);
    if (!METHODS.has(route.method))
      throw invalid(`${at}.method must be one of GET, POST, PUT, PATCH, DELETE`);
    const parsed = parsePattern(route.path);
    if (!parsed)
      throw invalid(
        `${at}.path must start with / and hold at most 16 segments, each literal (A-Za-z0-9._~-) or :name`,
      );
    if (typeof route.handler !== 'function') throw invalid(`${at}.handler must be a function`);
    if (route.body !== undefined && route.body !== 'json' && route.body !== 'raw')
      throw invalid(`${at}.body must be 'json' or 'raw'`);
    if (route.description !== undefined && typeof route.description !== 'string')
      throw invalid(`${at}.description must be a string`);
    const key = `${route.method} ${patternKey(parsed.segments)}`;
    if (seen.has(key)) throw invalid(`${at}: ${route.method} ${route.path} is defined twice`);
    seen.add(key);
  }
  const resolved: ResolvedRuntime = {
    hooks: hooks as ManagementRuntime,
    routes: [...routes],
    hookTimeoutMs: limit('hookTimeoutMs', options.hookTimeoutMs, 30_000, 100),
    apiCallTimeoutMs: limit('apiCallTimeoutMs', options.apiCallTimeoutMs, 60_000, 100),
    apiCallMaxBytes: limit('apiCallMaxBytes', options.apiCallMaxBytes, 10 * 1024 * 1024, 1),
  };
  const mounts = Object.keys(hooks).some((n) => n !== 'apiCallFetch') || routes.length > 0;
  return mounts ? resolved : undefined;
}
