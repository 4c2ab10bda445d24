/**
 * A host app as a user would write it, and the way to unit-test it (see `app.test.ts` beside
 * this file): the app is built by a function that takes its config paths, so a test can hand it
 * a throw-away config made by `createTempConfig`.
 *
 *   npx tsx examples/testing/app.ts
 *
 * Without `CONFIG` (and `AUTH_DIR`) it uses the demo's `demo-data/config.yaml`; `PORT`/`HOST`
 * set where it listens (see `examples/demo/cli.ts`).
 */
import express, { type Express } from 'express';
import { createManagementRouter, type ManagementOptions, type ManagementRouter } from '../../lib'; // 'cli-proxy-management'
import { runExample } from '../demo/cli';

export interface HostApp {
  app: Express;
  management: ManagementRouter;
}

/** The host's own routes plus the Management API at `/v0/management`. */
export function createApp(
  configPath: string,
  authDir: string,
  options?: ManagementOptions,
): HostApp {
  const management = createManagementRouter(configPath, authDir, options);
  const app = express();
  app.get('/health', (_req, res) => {
    res.json({ ok: true, debug: management.getConfig().debug === true });
  });
  app.use('/v0/management', management);
  app.use((_req, res) => {
    res.status(404).json({ error: 'no such route in the host app' });
  });
  return { app, management };
}

if (require.main === module) {
  runExample('examples/testing/app.ts', createApp, (origin) => [
    `health: ${origin}/health`,
    `Management API: ${origin}/v0/management`,
  ]);
}
