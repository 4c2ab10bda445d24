/**
 * The demo host: a real Express app that mounts the Management API at /v0/management over
 * demo-data/config.yaml (created from a commented sample on first run, with a random key that
 * is printed once and then stored only as its bcrypt hash), with the web panel and CORS on.
 *
 *   npm start                          # listens on 127.0.0.1 at the config's port (8317 when new)
 *   PORT=8318 HOST=0.0.0.0 npm start   # elsewhere (the config's port: line records 8318)
 *
 * It prints the panel's URL first. When the port is taken it says so, suggests `PORT=`, and
 * exits with status 1. `DEMO_DATA` names another data folder (the tests use a temp one).
 */
import express, { type Express } from 'express';
import { createManagementRouter, type ManagementRouter } from '../../lib';
import { demoConfig, demoDataDir, serve } from './cli';

export interface Demo {
  app: Express;
  configPath: string;
  management: ManagementRouter;
  /** The plaintext key when this call created the config, else undefined (only its hash is stored). */
  createdKey: string | undefined;
}

/** Create (if needed) `dataDir/config.yaml` and build the demo app over it. */
export function createDemo(dataDir = demoDataDir()): Demo {
  const { configPath, authDir, createdKey } = demoConfig(dataDir);
  const management = createManagementRouter(configPath, authDir, { cors: true, panel: true });
  const app = express();
  app.get('/', (_req, res) => {
    res.json({ service: 'cli-proxy-management demo', management: '/v0/management' });
  });
  app.use('/v0/management', management);
  // Subscribed once start-up is done: the key hashing of a new config is not a change to report.
  const report = (): void => {
    management.onChange((_config, change) => {
      console.log(`config changed (${change.source})`);
    });
  };
  management.ready().then(report, report);
  return { app, configPath, management, createdKey };
}

/** What the demo prints once it listens: the panel URL first, then the key and curl lines. */
export function banner(base: string, createdKey: string | undefined): string {
  const key = createdKey ?? '<your key>';
  return [
    `web panel: ${base}/panel/`,
    `Management API: ${base}`,
    'config: demo-data/config.yaml',
    '',
    createdKey
      ? `management key (shown once; the file keeps only its bcrypt hash):\n  ${createdKey}`
      : 'using the existing demo-data/config.yaml; its key was printed when it was created\n(delete demo-data/ to start over with a new key)',
    '',
    'try:',
    `  curl -H "Authorization: Bearer ${key}" ${base}/debug`,
    `  curl -X PUT -H "Authorization: Bearer ${key}" -d '{"value":true}' ${base}/debug`,
  ].join('\n');
}

if (require.main === module) {
  const { app, configPath, management, createdKey } = createDemo();
  serve(
    app,
    management,
    { defaultPort: 8317, configPath, command: 'npm start', name: 'cli-proxy-management demo' },
    (base) => banner(`${base}/v0/management`, createdKey),
  );
}
