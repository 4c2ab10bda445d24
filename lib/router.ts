// Assembles the router from resolved settings; holds no rule of its own. In order: settings
// (every check, before any I/O), the stores, then the layers: access gate, CORS, remote check,
// [panel files], key check, [OpenAPI], the whole-config routes, one set of routes per row, JSON 404, JSON errors.
import express from 'express';
import { accessControl } from './http/access';
import { corsMiddleware } from './http/cors';
import { errorHandler } from './http/errors';
import { jsonParser } from './http/json-body';
import { MemoryLockoutStore } from './http/lockout';
import { sendJson } from './http/reply';
import { RouteTable } from './http/routes';
import { openApiFromRows } from './openapi';
import { panelRoutes } from './panel/routes';
import { authFilesRoutes } from './resources/auth-files';
import type { ResourceContext } from './resources/context';
import { mapRoutes } from './resources/map';
import { objectArrayRoutes } from './resources/object-array';
import { scalarRoutes } from './resources/scalar';
import { stringArrayRoutes } from './resources/string-array';
import { wholeConfigRoutes } from './resources/whole-config';
import { resolveSettings, type ResolvedOf, type ResolvedRow } from './settings';
import { fileStorage } from './store/file';
import { keyHasher } from './store/key-hashing';
import type { ManagementHandle, ManagementOptions, ManagementRouter } from './types';

type Builders = {
  [K in ResolvedRow['kind']]: (routes: RouteTable, row: ResolvedOf<K>, ctx: ResourceContext) => void;
};

/** One builder per descriptor kind: a resolved row becomes its routes (its resolver is in `settings/rows.ts`). */
const BUILDERS: Builders = {
  scalar: scalarRoutes,
  'string-array': stringArrayRoutes,
  'object-array': objectArrayRoutes,
  map: mapRoutes,
  files: authFilesRoutes,
};

function build(routes: RouteTable, row: ResolvedRow, ctx: ResourceContext): void {
  (BUILDERS[row.kind] as (r: RouteTable, row: ResolvedRow, c: ResourceContext) => void)(routes, row, ctx);
}

/**
 * Build the Management API over `configPath` (a YAML file that must exist) and `authDir`
 * (a folder of JSON token files; `~` is expanded, a missing folder is created 0700 by the first
 * upload).
 *
 * @throws {ManagementError} at once for a bad option or resource row (before any file is
 *   touched), then for a missing or invalid config file.
 */
export function createManagementRouter(configPath: string, authDir: string, options?: ManagementOptions): ManagementRouter {
  const settings = resolveSettings(configPath, authDir, options);
  const storage = settings.storage ?? fileStorage({ lockStaleMs: settings.lockStaleMs });
  const opened = storage.open({ configPath, authDir: settings.authDir, watch: settings.watch, logger: settings.logger, bcryptRounds: settings.bcryptRounds });
  const store = opened.config;
  const closeStores = async (): Promise<void> => {
    await Promise.all([store.close(), opened.tokens.close()]);
  };
  const ctx: ResourceContext = {
    store,
    json: jsonParser(settings.bodyLimit),
    tokens: opened.tokens,
    uploadLimit: settings.uploadLimit,
    bodyLimit: settings.bodyLimit,
    uploadMaxFiles: settings.uploadMaxFiles,
    logger: settings.logger,
  };
  const lockout = settings.lockoutStore ?? opened.lockout ?? new MemoryLockoutStore();
  const router = express.Router();
  try {
    lockout.init?.({ windowMs: settings.lockoutMs });
    const access = accessControl(store, {
      maxAttempts: settings.maxAttempts,
      store: lockout,
      localList: settings.localList,
      now: Date.now,
      headers: settings.infoHeaders,
      ipv6Subnet: settings.ipv6Subnet,
    });
    // Every route is an exact path: one table (a Map lookup per request).
    const routes = new RouteTable();
    // No key configured: the router is invisible (the host's own 404 answers). Decided on every
    // request, so a key written to the file enables the API without restart.
    if (!settings.cors && !settings.panel) {
      router.use(access.guard(routes.dispatch)); // the checks and the routes: one router layer
    } else {
      router.use(access.gate);
      if (settings.cors) router.use(corsMiddleware(settings.cors.origin));
      if (settings.panel) {
        router.use(access.remote);
        panelRoutes(router, settings.rows);
        router.use(access.key);
      } else {
        router.use(access.both);
      }
      router.use(routes.dispatch);
    }
    if (settings.openapi) {
      const doc = openApiFromRows(settings.rows);
      // The document names the prefix this request came through as its server.
      routes.define('/openapi.json', {
        get: async (req, res) => {
          sendJson(res, { ...doc, servers: [{ url: req.baseUrl || '/' }] });
        },
      });
    }
    wholeConfigRoutes(routes, settings.rows, ctx, settings.bcryptRounds);
    for (const row of settings.rows) build(routes, row, ctx);
  } catch (err) {
    void closeStores(); // nothing expected to throw here, but never leave a watcher behind
    throw err;
  }
  router.use((_req, res) => {
    sendJson(res, { error: 'not found' }, 404);
  });
  router.use(errorHandler(settings.logger));

  const hashKey = keyHasher(store, settings.bcryptRounds, settings.logger);
  store.onChange(() => void hashKey());
  if (settings.onChange) store.onChange(settings.onChange);
  let storeStarted = false;
  const started = store.ready().then(() => {
    storeStarted = true;
    return hashKey();
  });
  // A store that cannot start (no config anywhere) rejects ready(); a host that never asks must not crash.
  void started.catch(() => undefined);

  const handle: ManagementHandle = {
    getConfig: () => store.config,
    onChange: (listener) => store.onChange(listener),
    ready: () => started,
    reload: () => store.reload(),
    close: async () => {
      // Key hashing in flight finishes first; but a store still starting (a database that cannot
      // be reached) is closed at once, which ends its start. (One turn first: a store that is
      // ready at once has run its start by then.)
      await new Promise((resolve) => setImmediate(resolve));
      if (storeStarted) await started.catch(() => undefined);
      await closeStores();
      await started.catch(() => undefined);
    },
    resources: settings.resources,
  };
  return Object.assign(router, handle);
}
