// The host runtime's routes, mounted only for the hooks and host routes given: a router built
// without them is the router as before, layer for layer.
import type { Request, RequestHandler, Response } from 'express';
import { ManagementError } from '../errors';
import type { Logger, ProxyConfig } from '../types';
import { apiCallRoute } from './api-call';
import { authFileStateMerge, type AuthFileStateMerge } from './auth-file-state';
import type { RuntimeContext } from './context';
import { downloadRoutes } from './downloads';
import { clientGone, HookRunner, hookFailure } from './hook-call';
import { logsRoutes } from './logs';
import { modelRoutes } from './models';
import { PatternRoutes, type PatternHandler } from './patterns';
import type { ResolvedRuntime } from './settings';

export { resolveRuntime, type ResolvedRuntime, type RuntimeOptions } from './settings';
export type { AuthFileStateMerge } from './auth-file-state';

/** What {@link runtimeRoutes} needs from the router. */
export interface RuntimeMount {
  readonly runtime: ResolvedRuntime;
  readonly json: RequestHandler;
  readonly logger: Logger;
  /** The config snapshot the request was admitted on. */
  readonly snapshot: (req: Request) => ProxyConfig;
  /** Whether the router's exact-path table has `path` (a built-in or resource route). */
  readonly taken: (path: string) => boolean;
}

/** The listing merge of `authFileState`, and the routes (built once the router's table is complete). */
export interface RuntimeRoutes {
  readonly authFileState: AuthFileStateMerge | undefined;
  /** Add the runtime's and the host's routes; throws `ERR_INVALID_OPTION` for a host route on a path the router has. */
  build(): PatternRoutes;
}

/** The runtime's routes and the host's routes, for mounting after the router's table. */
export function runtimeRoutes(mount: RuntimeMount): RuntimeRoutes {
  const { runtime, logger } = mount;
  const routes = new PatternRoutes();
  const runner = new HookRunner(runtime.hookTimeoutMs, logger, mount.snapshot);
  const rc: RuntimeContext = {
    runtime,
    runner,
    json: mount.json,
    logger,
    add(path, method, handler, before = []) {
      if (mount.taken(path))
        throw new ManagementError(
          'ERR_INVALID_OPTION',
          `${method} ${path}: the path is taken by a route of the router`,
        );
      if (routes.has(path, method))
        throw new ManagementError('ERR_INVALID_OPTION', `${method} ${path} is defined twice`);
      routes.add(path, method, [...before, handler]);
    },
  };
  const build = (): PatternRoutes => {
    modelRoutes(rc);
    logsRoutes(rc);
    downloadRoutes(rc);
    apiCallRoute(rc);
    for (const route of runtime.routes) {
      const name = `route ${route.method} ${route.path}`;
      const handler: PatternHandler = async (req: Request, res: Response) => {
        const gone = clientGone(res);
        try {
          await route.handler(req, res, { config: mount.snapshot(req), signal: gone.signal });
        } catch (err) {
          if (res.headersSent) {
            hookFailure(name, err, logger);
            res.destroy();
            return;
          }
          throw hookFailure(name, err, logger);
        } finally {
          gone.done();
        }
      };
      const body = route.body ?? (route.method === 'GET' ? 'raw' : 'json');
      rc.add(route.path, route.method, handler, body === 'json' ? [mount.json] : []);
    }
    return routes;
  };
  return { authFileState: authFileStateMerge(rc), build };
}
