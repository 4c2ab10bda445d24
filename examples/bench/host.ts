/**
 * The server side of the benchmarks, run as a child process (`fork` with `--import tsx`) so the
 * load generator in the parent does not steal its CPU. It listens on 127.0.0.1 (random port)
 * and reports `{ port }` over IPC. Modes:
 *
 * - `plain`: an Express app with the management router at `/v0/management` and a bare route
 *   `GET /bare/debug` answering the same JSON (`{"debug": <value>}`) from a constant.
 * - `demo`: the demo host of `examples/demo` (CORS on, change logging) over `<dir>/config.yaml`.
 * - `postgres`: like `plain`, with the PostgreSQL engine on `CPM_BENCH_DATABASE_URL`, namespace
 *   `CPM_BENCH_NAMESPACE` (`<dir>` holds this replica's mirrors).
 *
 * IPC requests (`{ id, cmd }`): `rss` (RSS, then the heap after a GC), `stats` (group-commit counters
 * from the store's diagnostics channel, see below), `reset`, `exit`.
 */
import { subscribe } from 'node:diagnostics_channel';
import express from 'express';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createManagementRouter, type ManagementRouter } from '../../lib';
import { COMMIT_CHANNEL, type CommitMessage } from '../../lib/config/store';
import { createDemo } from '../demo';
import { postgresStorage } from '../../lib/postgres';

interface Request {
  id: number;
  cmd: 'rss' | 'stats' | 'reset' | 'exit';
}

const [mode = 'plain', dir = ''] = process.argv.slice(2);

const stats = { commits: 0, written: 0, mutations: 0, failed: 0, maxBatch: 0 };
subscribe(COMMIT_CHANNEL, (message) => {
  const m = message as CommitMessage;
  stats.commits++;
  if (m.written) stats.written++;
  stats.mutations += m.mutations;
  stats.failed += m.failed;
  stats.maxBatch = Math.max(stats.maxBatch, m.mutations + m.failed);
});

let management: ManagementRouter;
let app: express.Express;
if (mode === 'demo') {
  const demo = createDemo(dir);
  management = demo.management;
  app = demo.app;
} else {
  const storage =
    mode === 'postgres'
      ? {
          storage: postgresStorage({
            connectionString: process.env.CPM_BENCH_DATABASE_URL ?? '',
            namespace: process.env.CPM_BENCH_NAMESPACE ?? 'bench',
          }),
        }
      : {};
  // `plain-no-history`: the same host with history off (the history bench compares the two).
  const history = mode === 'plain-no-history' ? { history: false as const } : {};
  management = createManagementRouter(path.join(dir, 'config.yaml'), path.join(dir, 'auths'), {
    logger: { warn: () => undefined },
    ...storage,
    ...history,
  });
  app = express();
  app.use('/v0/management', management);
  // The baseline: the cheapest honest Express route returning the same JSON.
  app.get('/bare/debug', (_req, res) => {
    res.json({ debug: false });
  });
}

void management.ready().then(() => {
  const server = app.listen(0, '127.0.0.1', () => {
    process.send?.({ port: (server.address() as AddressInfo).port });
  });
  server.keepAliveTimeout = 60_000;
  process.on('message', (raw) => {
    const req = raw as Request;
    const reply = (data: unknown): void => void process.send?.({ id: req.id, data });
    if (req.cmd === 'rss') {
      // RSS as the OS sees it; then the live heap after a full GC (with --expose-gc), which is
      // what would grow if something leaked.
      const rss = process.memoryUsage().rss;
      (globalThis as { gc?: () => void }).gc?.();
      reply({ rss, heapAfterGc: process.memoryUsage().heapUsed });
    } else if (req.cmd === 'stats') {
      reply({ ...stats });
    } else if (req.cmd === 'reset') {
      Object.assign(stats, { commits: 0, written: 0, mutations: 0, failed: 0, maxBatch: 0 });
      reply(true);
    } else if (req.cmd === 'exit') {
      server.close();
      server.closeAllConnections();
      void management.close().then(() => {
        reply(true);
        process.disconnect();
      });
    }
  });
});
