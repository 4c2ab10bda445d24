/**
 * The demo host: a real Express app that mounts the Management API at /v0/management over
 * demo-data/config.yaml (created from a commented sample on first run, with a random key that
 * is printed once and then stored only as its bcrypt hash).
 *
 *   npm start                # listens on 127.0.0.1:8317 (PORT and HOST override)
 */
import express, { type Express } from 'express';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createManagementRouter, type ManagementRouter } from '../../lib';

export interface Demo {
  app: Express;
  management: ManagementRouter;
  /** The plaintext key when this call created the config, else undefined (only its hash is stored). */
  createdKey: string | undefined;
}

/** Create (if needed) `dataDir/config.yaml` and build the demo app over it. */
export function createDemo(dataDir = path.resolve(__dirname, '../../demo-data')): Demo {
  const configPath = path.join(dataDir, 'config.yaml');
  let createdKey: string | undefined;
  if (!existsSync(configPath)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    createdKey = randomBytes(18).toString('base64url');
    const sample = readFileSync(path.join(__dirname, 'config.sample.yaml'), 'utf8');
    writeFileSync(configPath, sample.replace('MANAGEMENT_KEY', createdKey), { mode: 0o600 });
  }
  const management = createManagementRouter(configPath, path.join(dataDir, 'auths'), { cors: true, panel: true });
  const app = express();
  app.get('/', (_req, res) => {
    res.json({ service: 'cli-proxy-management demo', management: '/v0/management' });
  });
  app.use('/v0/management', management);
  management.onChange((_config, change) => {
    console.log(`config changed (${change.source})`);
  });
  return { app, management, createdKey };
}

if (require.main === module) {
  const port = Number(process.env.PORT ?? 8317);
  const host = process.env.HOST ?? '127.0.0.1';
  const { app, management, createdKey } = createDemo();
  const server = app.listen(port, host, () => {
    const base = `http://${host}:${port}/v0/management`;
    console.log(`cli-proxy-management demo listening on ${base}`);
    console.log(`config: demo-data/config.yaml`);
    console.log(`web panel: ${base}/panel/`);
    if (createdKey) {
      console.log(`\nmanagement key (shown once; the file keeps only its bcrypt hash):\n  ${createdKey}\n`);
    } else {
      console.log('\nusing the existing demo-data/config.yaml; its key was printed when it was created');
      console.log('(delete demo-data/ to start over with a new key)\n');
    }
    const key = createdKey ?? '<your key>';
    console.log('try:');
    console.log(`  curl -H "Authorization: Bearer ${key}" ${base}/debug`);
    console.log(`  curl -X PUT -H "Authorization: Bearer ${key}" -d '{"value":true}' ${base}/debug`);
  });
  const stop = (): void => {
    server.close();
    void management.close();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
