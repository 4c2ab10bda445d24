import bcrypt from 'bcrypt';
import express, { type Express } from 'express';
import request from 'supertest';
import { parse } from 'yaml';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createManagementRouter } from '../lib';
import type { ManagementOptions, ManagementRouter, ProxyConfig } from '../lib';
import { ConfigCore } from '../lib/config/store';
import { FileConfigBackend } from '../lib/engines/file/config-file';

export const KEY = 'test-management-key';
/** Real bcrypt at the lowest cost, so the suite stays fast; hashed once per process. */
export const KEY_HASH = bcrypt.hashSync(KEY, 4);
export const FIXTURE = readFileSync(
  path.join(__dirname, 'fixtures', 'config.example.yaml'),
  'utf8',
);

export const auth = { Authorization: `Bearer ${KEY}` };

/** A path under the default mount point. */
export const api = (path: string): string => `/v0/management${path}`;

export interface Harness {
  dir: string;
  configPath: string;
  authDir: string;
  router: ManagementRouter;
  app: Express;
  read(): string;
  /** The config file parsed (YAML 1.2, as a test compares it). */
  onDisk(): Record<string, unknown>;
  write(text: string): void;
  /** Resolves at the next config change the router sees (from the API or the disk). */
  nextChange(): Promise<ProxyConfig>;
  close(): Promise<void>;
}

/** The fixture with the management key set to `secret` (the bcrypt hash of KEY by default). */
export const fixtureWith = (secret = KEY_HASH): string =>
  FIXTURE.replace('KEY_PLACEHOLDER', secret);

/** A router on a real temp config (text, or exact bytes), mounted at `/v0/management` of a fresh Express app. */
export function harness(
  configText: string | Buffer = fixtureWith(),
  options: ManagementOptions = {},
  mount = '/v0/management',
): Harness {
  const dir = mkdtempSync(path.join(tmpdir(), 'cpm-test-'));
  const configPath = path.join(dir, 'config.yaml');
  const authDir = path.join(dir, 'auths');
  writeFileSync(configPath, configText, { mode: 0o600 });
  const router = createManagementRouter(configPath, authDir, {
    bcryptRounds: 4,
    logger: { warn: () => undefined },
    ...options,
  });
  const app = express();
  app.use(mount, router);
  return {
    dir,
    configPath,
    authDir,
    router,
    app,
    read: () => readFileSync(configPath, 'utf8'),
    onDisk: () => parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>,
    write: (text) => writeFileSync(configPath, text),
    nextChange: () =>
      new Promise((resolve) => {
        const off = router.onChange((config) => {
          off();
          resolve(config);
        });
      }),
    close: async () => {
      await router.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Poll `check` until it is true or `ms` pass (for changes made by another process or the watcher). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms = 3000,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Check that `check` stays true for `ms` (polled): for "this must not happen while ..." claims.
 * A slow machine can only make it look more often, never fail a correct program.
 */
export async function staysTrue(
  check: () => boolean | Promise<boolean>,
  ms: number,
): Promise<void> {
  const end = Date.now() + ms;
  do {
    if (!(await check())) throw new Error('condition broken');
    await new Promise((r) => setTimeout(r, 10));
  } while (Date.now() < end);
  if (!(await check())) throw new Error('condition broken');
}

/** The core over the file engine's text backend alone (no lock, no token folder): what a router's config store is. */
export function fileConfig(
  file: string,
  options: { watch?: boolean; logger?: { warn(message: string): void } } = {},
): ConfigCore {
  const logger = options.logger ?? { warn: () => undefined };
  return new ConfigCore(new FileConfigBackend(file, { watch: options.watch ?? false, logger }), {
    logger,
    bcryptRounds: 4,
    source: file,
  });
}

/** A request to `app` with the key, and `body` (when given) as a JSON body. */
export function send(
  app: Express,
  method: 'put' | 'patch' | 'delete' | 'post',
  p: string,
  body?: unknown,
) {
  const req = request(app)[method](api(p)).set(auth);
  return body === undefined
    ? req
    : req.set('Content-Type', 'application/json').send(JSON.stringify(body));
}
