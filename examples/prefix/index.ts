/**
 * Mounting under a custom prefix: one router (one config store, one file watcher, one
 * lock-out counter) answering at two prefixes of the same app, `/admin/api` for a new panel
 * and `/v0/management` for the clients and scripts that expect the original path.
 *
 *   CONFIG=./config.yaml AUTH_DIR=./auths npx tsx examples/prefix/index.ts
 */
import express, { type Express } from 'express';
import path from 'node:path';
import { createManagementRouter, type ManagementOptions, type ManagementRouter } from '../../lib'; // 'cli-proxy-management'

export const PREFIXES = ['/admin/api', '/v0/management'] as const;

export interface PrefixedApp {
  app: Express;
  management: ManagementRouter;
}

/** The host app with the Management API mounted at every prefix of {@link PREFIXES}. */
export function createPrefixedApp(configPath: string, authDir: string, options?: ManagementOptions): PrefixedApp {
  const management = createManagementRouter(configPath, authDir, options);
  const app = express();
  app.use([...PREFIXES], management); // Express accepts an array of paths for one middleware
  app.get('/', (_req, res) => {
    res.json({ management: PREFIXES });
  });
  return { app, management };
}

if (require.main === module) {
  const { app, management } = createPrefixedApp(path.resolve(process.env.CONFIG ?? 'config.yaml'), process.env.AUTH_DIR ?? '~/.cli-proxy-api', {
    openapi: true,
  });
  const port = Number(process.env.PORT ?? 8317);
  const server = app.listen(port, '127.0.0.1', () => {
    for (const prefix of PREFIXES) console.log(`management API on http://127.0.0.1:${port}${prefix}`);
  });
  const stop = (): void => {
    server.close();
    void management.close();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
