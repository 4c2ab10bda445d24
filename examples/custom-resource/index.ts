/**
 * A host that adds config keys of its own to the Management API, one descriptor each:
 *
 * - `deepseek-api-key`: a list of objects matched by `api-key` (what the original Go server needs a
 *   new hand-written handler file for), with full GET / PUT / PATCH / DELETE;
 * - `excluded-models`: a list of strings.
 *
 *   npx tsx examples/custom-resource/index.ts [config.yaml]   # listens on 127.0.0.1:8318
 *
 * Without an argument it uses demo-data/custom/config.yaml, created on first run with a random
 * management key that is printed once (the file keeps only its bcrypt hash).
 */
import express, { type Express } from 'express';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  createManagementRouter,
  type ManagementOptions,
  type ManagementRouter,
  type ObjectArrayDescriptor,
  type StringArrayDescriptor,
} from '../../lib';

/** `deepseek-api-key`: `[{ "api-key": "...", "base-url": "...", "proxy-url": "..." }]`, matched by `api-key`. */
export const DEEPSEEK_API_KEY: ObjectArrayDescriptor = {
  kind: 'object-array',
  path: '/deepseek-api-key',
  key: 'deepseek-api-key',
  matchField: 'api-key',
  itemSchema: {
    type: 'object',
    required: ['api-key'],
    properties: {
      'api-key': { type: 'string', pattern: '\\S' },
      'base-url': {
        type: 'string',
        pattern: '^$|^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+(?:[/?#]\\S*)?$',
      },
      'proxy-url': { type: 'string' },
    },
  },
  description: 'DeepSeek API keys, each with an optional base URL and proxy.',
};

/** `excluded-models`: model names the proxy never routes to. */
export const EXCLUDED_MODELS: StringArrayDescriptor = {
  kind: 'string-array',
  path: '/excluded-models',
  key: 'excluded-models',
  description: 'Models the proxy must not use.',
};

export interface CustomHost {
  app: Express;
  management: ManagementRouter;
}

/** Build the host app: the Management API with the two extra rows, mounted at `/v0/management`. */
export function createCustomHost(
  configPath: string,
  authDir: string,
  options: ManagementOptions = {},
): CustomHost {
  const management = createManagementRouter(configPath, authDir, {
    ...options,
    resources: [DEEPSEEK_API_KEY, EXCLUDED_MODELS, ...(options.resources ?? [])],
  });
  const app = express();
  app.use('/v0/management', management);
  return { app, management };
}

if (require.main === module) {
  let configPath = process.argv[2];
  let createdKey: string | undefined;
  if (!configPath) {
    const dir = path.resolve(__dirname, '../../demo-data/custom');
    configPath = path.join(dir, 'config.yaml');
    if (!existsSync(configPath)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      createdKey = randomBytes(18).toString('base64url');
      const sample = [
        'remote-management:',
        `  secret-key: "${createdKey}" # hashed on first start`,
        '',
        '# DeepSeek keys, managed through /v0/management/deepseek-api-key',
        'deepseek-api-key:',
        '  - api-key: "sk-ds-example" # replace me',
        '',
      ].join('\n');
      writeFileSync(configPath, sample, { mode: 0o600 });
    }
  }
  const { app, management } = createCustomHost(
    configPath,
    path.join(path.dirname(configPath), 'auths'),
  );
  const port = Number(process.env.PORT ?? 8318);
  const server = app.listen(port, '127.0.0.1', () => {
    const base = `http://127.0.0.1:${port}/v0/management`;
    console.log(`custom-resource host on ${base} (config: ${configPath})`);
    if (createdKey) console.log(`management key (shown once): ${createdKey}`);
    const key = createdKey ?? '<your key>';
    console.log(`  curl -H "Authorization: Bearer ${key}" ${base}/deepseek-api-key`);
    console.log(
      `  curl -X PATCH -H "Authorization: Bearer ${key}" -d '{"api-key":"sk-ds-example","value":{"api-key":"sk-new"}}' ${base}/deepseek-api-key`,
    );
  });
  const stop = (): void => {
    server.close();
    void management.close();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
