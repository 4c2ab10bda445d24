/**
 * Mounting under a custom prefix: one router (one config store, one file watcher, one
 * lock-out counter) answering at two prefixes of the same app, `/admin/api` for a new panel
 * and `/v0/management` for the clients and scripts that expect the original path.
 *
 *   npx tsx examples/prefix/index.ts
 *
 * Without `CONFIG` (and `AUTH_DIR`) it uses the demo's `demo-data/config.yaml`; `PORT`/`HOST`
 * set where it listens (see `examples/demo/cli.ts`).
 */
import express, { type Express } from 'express';
import { createManagementRouter, type ManagementOptions, type ManagementRouter } from '../../lib'; // 'cli-proxy-management'
import { runExample } from '../demo/cli';

export const PREFIXES = ['/admin/api', '/v0/management'] as const;

export interface PrefixedApp {
  app: Express;
  management: ManagementRouter;
}

/** The host app with the Management API mounted at every prefix of {@link PREFIXES}. */
export function createPrefixedApp(
  configPath: string,
  authDir: string,
  options?: ManagementOptions,
): PrefixedApp {
  const management = createManagementRouter(configPath, authDir, options);
  const app = express();
  app.use([...PREFIXES], management); // Express accepts an array of paths for one middleware
  app.get('/', (_req, res) => {
    res.json({ management: PREFIXES });
  });
  return { app, management };
}

if (require.main === module) {
  runExample(
    'examples/prefix/index.ts',
    (configPath, authDir) => createPrefixedApp(configPath, authDir, { openapi: true }),
    (origin) => PREFIXES.map((prefix) => `Management API: ${origin}${prefix}`),
  );
}
