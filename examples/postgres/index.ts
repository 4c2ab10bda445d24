/**
 * Several machines, one config: a host whose Management API keeps its config, auth files and
 * lock-out in PostgreSQL. Start it twice (two "machines", each with its own mirror folder) on
 * one database; a change made through either is served by both at once, and `config.yaml` and
 * `auths/` of each are kept as mirrors for a proxy that reads its files.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test PORT=8317 CONFIG=./a/config.yaml AUTH_DIR=./a/auths npx tsx examples/postgres/index.ts
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test PORT=8318 CONFIG=./b/config.yaml AUTH_DIR=./b/auths npx tsx examples/postgres/index.ts
 *
 * The first to start seeds the database from its `config.yaml` (which must exist then, with a
 * `remote-management.secret-key`); the second needs no local config. No server at hand:
 * `docker run --rm -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`.
 */
import express, { type Express } from 'express';
import path from 'node:path';
import { createManagementRouter, type ManagementOptions, type ManagementRouter } from '../../lib'; // 'cli-proxy-management'
import { postgresStorage } from '../../lib/postgres'; // 'cli-proxy-management/postgres'

export interface ReplicaOptions {
  readonly connectionString: string;
  readonly configPath: string;
  readonly authDir: string;
  /** Replicas of one namespace share everything. Default: `'default'`. */
  readonly namespace?: string;
  readonly management?: ManagementOptions;
}

export interface ReplicaApp {
  app: Express;
  management: ManagementRouter;
}

/** One replica: the Management API at `/v0/management` over the shared database, and `/` telling what it serves. */
export function createReplicaApp(options: ReplicaOptions): ReplicaApp {
  const storage = postgresStorage({
    connectionString: options.connectionString,
    namespace: options.namespace ?? 'default',
  });
  const management = createManagementRouter(options.configPath, options.authDir, {
    ...options.management,
    storage,
  });
  const app = express();
  app.use('/v0/management', management);
  app.get('/', (_req, res) => {
    // From memory: always the newest config, whichever replica changed it.
    res.json({
      debug: management.getConfig().debug ?? false,
      'request-retry': management.getConfig()['request-retry'] ?? 0,
    });
  });
  return { app, management };
}

if (require.main === module) {
  const connectionString = process.env.DATABASE_URL;
  if (!connectionString) throw new Error('set DATABASE_URL');
  const { app, management } = createReplicaApp({
    connectionString,
    configPath: path.resolve(process.env.CONFIG ?? 'config.yaml'),
    authDir: process.env.AUTH_DIR ?? 'auths',
    namespace: process.env.NAMESPACE ?? 'default',
  });
  const port = Number(process.env.PORT ?? 8317);
  // Listen once the replica serves the database's config (it seeds an empty namespace first).
  management.ready().then(
    () => {
      const server = app.listen(port, '127.0.0.1', () =>
        console.log(`management API on http://127.0.0.1:${port}/v0/management`),
      );
      const stop = (): void => {
        server.close();
        void management.close();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : 'cannot start');
      process.exitCode = 1;
      void management.close();
    },
  );
}
