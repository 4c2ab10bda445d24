import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import Ajv from 'ajv';
import { accessControl } from './http/access';
import { MemoryLockoutStore } from './http/lockout';
import { errorHandler, HttpError } from './http/errors';
import { ManagementError } from './errors';
import { parseOptions, type Settings } from './options';
import { openApiDocument } from './openapi';
import { defineRoutes, jsonParser, type ResourceContext } from './resources/common';
import { authFilesRoutes } from './resources/auth-files';
import { scalarRoutes } from './resources/scalar';
import { stringArrayRoutes } from './resources/string-array';
import { objectArrayRoutes } from './resources/object-array';
import { panelRoutes } from './panel/routes';
import type { ConfigStore } from './store/config-store';
import { StoreError } from './store/errors';
import { fileStorage } from './store/file';
import { configuredSecret, hashSecret, isBcryptHash } from './store/secret';
import type { ManagementHandle, ManagementOptions, ManagementRouter, ResourceDescriptor } from './types';

type Builders = {
  [K in ResourceDescriptor['kind']]?: (router: Router, d: Extract<ResourceDescriptor, { kind: K }>, ctx: ResourceContext) => void;
};

/** One builder per descriptor kind: a row of the table becomes its routes. */
const BUILDERS: Builders = {
  scalar: scalarRoutes,
  'string-array': stringArrayRoutes,
  'object-array': objectArrayRoutes,
  files: authFilesRoutes,
};

function build(router: Router, d: ResourceDescriptor, ctx: ResourceContext): void {
  const builder = BUILDERS[d.kind] as ((r: Router, d: ResourceDescriptor, c: ResourceContext) => void) | undefined;
  if (!builder) throw new ManagementError('ERR_INVALID_DESCRIPTOR', `${d.path}: unknown kind ${JSON.stringify(d.kind)}`);
  builder(router, d, ctx);
}

/**
 * CORS. Runs before access control: a browser's preflight carries no key, and a
 * 401/403/429 must carry `Access-Control-Allow-Origin` too or the panel cannot read the error.
 * `Retry-After`, `Allow` and `Content-Disposition` are not CORS-safelisted response headers, so
 * they are exposed for a panel to read (lock-out wait, 405 methods, download name).
 */
function corsMiddleware(origin: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.set('Access-Control-Allow-Origin', origin);
    if (origin !== '*') res.vary('Origin');
    if (req.method === 'OPTIONS') {
      res.set({
        'Access-Control-Allow-Methods': 'GET, PUT, PATCH, POST, DELETE, OPTIONS',
        'Access-Control-Allow-Headers': 'Authorization, X-Management-Key, Content-Type',
        'Access-Control-Max-Age': '600',
      });
      res.status(204).end();
      return;
    }
    res.set('Access-Control-Expose-Headers', 'Retry-After, Allow, Content-Disposition');
    next();
  };
}

/** Keeps a plaintext management key replaced by its bcrypt hash, at start and after each change. */
function keyHasher(store: ConfigStore, settings: Settings): () => Promise<void> {
  let inFlight: string | undefined;
  return async () => {
    const { path, value } = configuredSecret(store.config);
    if (value === '' || isBcryptHash(value) || inFlight === value) return;
    inFlight = value;
    try {
      const hash = await hashSecret(value, settings.bcryptRounds);
      await store.mutate((doc) => {
        const current = doc.getIn(path);
        if (typeof current === 'string' && current.trim() === value) doc.setIn(path, hash);
      });
    } catch (err) {
      const reason = err instanceof StoreError ? err.reason || err.code : err instanceof HttpError ? err.error : 'error';
      settings.logger.warn(`cli-proxy-management: could not store the hashed management key (${reason}); it is compared in memory until then`);
    } finally {
      inFlight = undefined;
    }
  };
}

/**
 * Build the Management API over `configPath` (a YAML file that must exist) and `authDir`
 * (a folder of JSON token files; `~` is expanded, a missing folder is created 0700 by the first
 * upload).
 *
 * @throws {ManagementError} at once for a missing or invalid config file or a bad option.
 */
export function createManagementRouter(configPath: string, authDir: string, options?: ManagementOptions): ManagementRouter {
  const settings = parseOptions(authDir, options);
  const storage = settings.storage ?? fileStorage({ lockStaleMs: settings.lockStaleMs });
  const opened = storage.open({ configPath, authDir: settings.authDir, watch: settings.watch, logger: settings.logger });
  const store = opened.config;
  const closeStores = async (): Promise<void> => {
    await Promise.all([store.close(), opened.tokens.close()]);
  };
  const ctx: ResourceContext = {
    store,
    ajv: new Ajv({ allErrors: true, strict: true }),
    json: jsonParser(settings.bodyLimit),
    tokens: opened.tokens,
    uploadLimit: settings.uploadLimit,
  };

  const router = express.Router();
  // No key configured: the router is invisible (the host's own 404 answers). Checked on every
  // request, so a key written to the file enables the API without restart.
  router.use((_req, res, next) => {
    if (configuredSecret(store.config).value === '') return next('router');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  const lockout = settings.lockoutStore ?? opened.lockout ?? new MemoryLockoutStore();
  lockout.init?.({ windowMs: settings.lockoutMs });
  const access = accessControl(store, {
    maxAttempts: settings.maxAttempts,
    store: lockout,
    localAddresses: settings.localAddresses,
    now: Date.now,
  });
  if (settings.cors) router.use(corsMiddleware(settings.cors.origin));
  if (settings.panel) {
    router.use(access.remote);
    panelRoutes(router, settings.resources);
    router.use(access.key);
  } else {
    router.use(access.both); // one router layer instead of two on every request
  }
  if (settings.openapi) {
    const doc = openApiDocument(settings.resources);
    // The document names the prefix this request came through as its server.
    defineRoutes(router, '/openapi.json', {
      get: async (req, res) => {
        res.json({ ...doc, servers: [{ url: req.baseUrl || '/' }] });
      },
    });
  }
  try {
    for (const row of settings.resources) build(router, row, ctx);
  } catch (err) {
    void closeStores(); // a bad row must not leave a watcher behind
    throw err;
  }
  router.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  router.use(errorHandler(settings.logger));

  const hashKey = keyHasher(store, settings);
  store.onChange(() => void hashKey());
  if (settings.onChange) store.onChange(settings.onChange);
  const started = store.ready().then(hashKey);

  const handle: ManagementHandle = {
    getConfig: () => store.config,
    onChange: (listener) => store.onChange(listener),
    ready: () => started,
    reload: () => store.reload(),
    close: async () => {
      await started.catch(() => undefined);
      await closeStores();
    },
    resources: settings.resources,
  };
  return Object.assign(router, handle);
}
