// Assembles the router from resolved settings; holds no rule of its own. In order: settings
// (every check, before any I/O), the stores, then the layers: access gate, CORS, remote check,
// [panel files], key check, [OpenAPI], the whole-config routes, one set of routes per row, JSON 404, JSON errors.
import express, { type Request } from 'express';
import { accessControl } from './http/access';
import { corsMiddleware } from './http/cors';
import { errorHandler } from './http/errors';
import { jsonParser } from './http/json-body';
import { MemoryLockoutStore } from './http/lockout';
import { sendJson } from './http/reply';
import { RouteTable } from './http/routes';
import { openApiFromRows, type OpenApiDocument } from './openapi';
import { runtimeRoutes } from './runtime';
import { runtimePaths } from './runtime/openapi';
import { authFileNotifier, mountOAuth } from './oauth';
import { panelRoutes } from './panel/routes';
import type { ResourceContext } from './kinds/context';
import { kindOf } from './kinds/index';
import { configTextCheck, wholeConfigRoutes } from './kinds/whole-config';
import { historyRoutes } from './history/routes';
import { resolveSettings } from './settings';
import { fileStorage } from './engines/file';
import { openStores } from './config/open';
import type { ManagementHandle, ManagementOptions, ManagementRouter, ProxyConfig } from './types';

/**
 * Build the Management API over `configPath` (a YAML file that must exist) and `authDir`
 * (a folder of JSON token files; `~` is expanded, a missing folder is created 0700 by the first
 * upload).
 *
 * @throws {ManagementError} at once for a bad option or resource row (before any file is
 *   touched), then for a missing or invalid config file.
 */
export function createManagementRouter(
  configPath: string,
  authDir: string,
  options?: ManagementOptions,
): ManagementRouter {
  const settings = resolveSettings(configPath, authDir, options);
  const storage = settings.storage ?? fileStorage({ lockStaleMs: settings.lockStaleMs });
  const opened = openStores(
    storage,
    {
      configPath,
      authDir: settings.authDir,
      watch: settings.watch,
      logger: settings.logger,
      history: settings.history,
    },
    settings.bcryptRounds,
  );
  const store = opened.config;
  const closeStores = async (): Promise<void> => {
    await oauth.close();
    await Promise.all([store.close(), opened.tokens.close()]);
  };
  const json = jsonParser(settings.bodyLimit);
  const routes = new RouteTable();
  let snapshot: (req: Request) => ProxyConfig = () => store.config;
  // The host runtime (hooks, host routes): absent, the router is as without it, layer for layer.
  const runtime = settings.runtime
    ? runtimeRoutes({
        runtime: settings.runtime,
        json,
        logger: settings.logger,
        snapshot: (req) => snapshot(req),
        taken: (path) => routes.has(path),
      })
    : undefined;
  const ctx: ResourceContext = {
    store,
    json,
    tokens: opened.tokens,
    uploadLimit: settings.uploadLimit,
    bodyLimit: settings.bodyLimit,
    uploadMaxFiles: settings.uploadMaxFiles,
    logger: settings.logger,
    ...(runtime?.authFileState ? { authFileState: runtime.authFileState } : {}),
    authFileWritten: authFileNotifier(settings.onAuthFile, settings.logger),
  };
  const oauth = mountOAuth({
    oauth: settings.oauth,
    opened,
    config: () => store.config,
    logger: settings.logger,
    onAuthFile: ctx.authFileWritten,
    uploadLimit: settings.uploadLimit,
    json: ctx.json,
  });
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
    snapshot = (req) => access.snapshot(req).config;
    // Every route is an exact path: one table (a Map lookup per request); the runtime's routes
    // (with `:name` segments) come after it.
    // The keyless GET /oauth-callback (a provider's redirect): ahead of the key check.
    const callback = oauth.publicCallback(access, {
      store: lockout,
      maxAttempts: settings.maxAttempts,
      ipv6Subnet: settings.ipv6Subnet,
    });
    if (callback) router.use(callback);
    // No key configured: the router is invisible (the host's own 404 answers). Decided on every
    // request, so a key written to the file enables the API without restart.
    if (!settings.cors && !settings.panel && !runtime) {
      router.use(access.guard(routes.dispatch)); // the checks and the routes: one router layer
    } else {
      router.use(access.gate);
      if (settings.cors) router.use(corsMiddleware(settings.cors.origin));
      if (settings.panel) {
        router.use(access.remote);
        panelRoutes(router, settings.rows, { history: !!opened.history });
        router.use(access.key);
      } else {
        router.use(access.both);
      }
      router.use(routes.dispatch);
    }
    let doc: OpenApiDocument | undefined;
    if (settings.openapi) {
      // The document names the prefix this request came through as its server.
      routes.define('/openapi.json', {
        get: async (req, res) => {
          sendJson(res, { ...doc, servers: [{ url: req.baseUrl || '/' }] });
        },
      });
    }
    wholeConfigRoutes(routes, settings.rows, ctx);
    // History: when it is on and the engine keeps one (a host's own engine may not).
    if (opened.history)
      historyRoutes(routes, {
        history: opened.history,
        store,
        check: configTextCheck(settings.rows),
      });
    oauth.define(routes);
    for (const row of settings.rows) kindOf(row).routes(routes, row, ctx);
    const hostRoutes = runtime?.build();
    if (hostRoutes) router.use(hostRoutes.dispatch);
    if (settings.openapi) {
      const rowsDoc = openApiFromRows(settings.rows, { history: !!opened.history });
      doc = hostRoutes
        ? {
            ...rowsDoc,
            paths: {
              ...rowsDoc.paths,
              ...runtimePaths(hostRoutes, settings.runtime?.routes ?? []),
            },
          }
        : rowsDoc;
    }
  } catch (err) {
    void closeStores(); // nothing expected to throw here, but never leave a watcher behind
    throw err;
  }
  router.use((_req, res) => {
    sendJson(res, { error: 'not found' }, 404);
  });
  router.use(errorHandler(settings.logger));

  const hashKey = (): Promise<void> => store.keyUpkeep();
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
