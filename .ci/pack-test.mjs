/* global process, console */
// The package as its users get it: `npm pack`, then in fresh projects (one per Express major)
// install the tarball and
//   - require() it from CommonJS, import it from an ES module: mount the router on a real
//     listening server and make one authenticated request (and one unauthenticated); the main
//     entry must not load pg, the `cli-proxy-management/postgres` subpath must (pg installed);
//   - type-check a TypeScript consumer with moduleResolution node16 (.cts -> the require types,
//     .mts -> the import types) and bundler (the import types), against that major's @types.
// Run by .ci/run after `npm test`; `npm run test:pack` runs it alone.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const MAJORS = {
  4: { express: 'express@4.21.2', types: '@types/express@4.17.25' },
  5: { express: 'express@5.3.0', types: '@types/express@5.0.6' },
};

// The optional peer of the postgres subpath, at the versions of the dev dependencies.
const devDeps = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).devDependencies;
const PG = `pg@${devDeps.pg}`;
const PG_TYPES = `@types/pg@${devDeps['@types/pg']}`;

const work = mkdtempSync(path.join(tmpdir(), 'cli-proxy-management-pack-test-'));
const npm = (cwd, ...args) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
let checks = 0;
const check = (label, fn) => {
  const start = Date.now();
  fn();
  checks++;
  console.log(`  ok  ${label} (${Date.now() - start} ms)`);
};

const KEY = 'pack-test-key';
const CONFIG = JSON.stringify(`remote-management:\n  secret-key: "${KEY}"\n`);

// One script body for both module systems; only the import lines differ.
const program = (imports) => `${imports}
const major = Number(process.argv[2]);
const expressVersion = process.env.EXPRESS_VERSION;
if (Number(expressVersion.split('.')[0]) !== major) throw new Error('wrong express ' + expressVersion);
for (const fn of [createManagementRouter, createTempConfig, openApiDocument]) {
  if (typeof fn !== 'function') throw new Error('missing named export');
}
if (!(new ManagementError('ERR_INVALID_OPTION', 'x') instanceof Error)) throw new Error('ManagementError');
if (typeof postgresStorage({ connectionString: 'postgres://u:p@127.0.0.1:1/x' }).open !== 'function') throw new Error('postgresStorage');
try {
  postgresStorage({});
  throw new Error('postgresStorage accepted no connection');
} catch (err) {
  if (!(err instanceof ManagementError) || err.code !== 'ERR_INVALID_OPTION') throw err;
}
if (openApiDocument().openapi !== '3.1.0') throw new Error('openApiDocument');
const tmp = createTempConfig(${CONFIG});
const management = createManagementRouter(tmp.configPath, tmp.authDir, { bcryptRounds: 4, watch: false });
const app = express();
app.use('/v0/management', management);
const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
try {
  const base = 'http://127.0.0.1:' + server.address().port + '/v0/management';
  const res = await fetch(base + '/request-retry', { headers: { Authorization: 'Bearer ${KEY}' } });
  const body = await res.json();
  if (res.status !== 200 || JSON.stringify(body) !== '{"request-retry":0}') throw new Error('GET ' + res.status + ' ' + JSON.stringify(body));
  const put = await fetch(base + '/debug', { method: 'PUT', headers: { 'X-Management-Key': '${KEY}' }, body: '{"value":true}' });
  if (put.status !== 200 || management.getConfig().debug !== true) throw new Error('PUT ' + put.status);
  const denied = await fetch(base + '/debug');
  if (denied.status !== 401) throw new Error('no key: ' + denied.status);
} finally {
  server.close();
  await management.close();
  tmp.cleanup();
}
`;

const CJS = `(async () => {
${program(`const express = require('express');
const { createManagementRouter, createTempConfig, openApiDocument, ManagementError } = require('cli-proxy-management');
if (require.resolve('cli-proxy-management').split(require('path').sep).join('/').indexOf('/dist/cjs/') < 0) throw new Error('not the CJS build');
const loadedPg = () => Object.keys(require.cache).some((p) => p.split(require('path').sep).includes('pg'));
if (loadedPg()) throw new Error('the main entry loaded pg');
const { postgresStorage } = require('cli-proxy-management/postgres');
if (!require.resolve('cli-proxy-management/postgres').split(require('path').sep).join('/').endsWith('/dist/cjs/postgres.js')) throw new Error('not the CJS postgres build');
if (!loadedPg()) throw new Error('the postgres subpath did not load pg');`)}
})().catch((err) => { console.error(err); process.exit(1); });
`;
const ESM = program(`import express from 'express';
import { createManagementRouter, createTempConfig, openApiDocument, ManagementError } from 'cli-proxy-management';
if (!import.meta.resolve('cli-proxy-management').includes('/dist/esm/')) throw new Error('not the ES module build');
import { createRequire } from 'node:module';
const loadedPg = () => Object.keys(createRequire(import.meta.url).cache).some((p) => p.split('/').includes('pg'));
if (loadedPg()) throw new Error('the main entry loaded pg');
const { postgresStorage } = await import('cli-proxy-management/postgres');
if (!import.meta.resolve('cli-proxy-management/postgres').endsWith('/dist/esm/postgres.mjs')) throw new Error('not the ES module postgres build');
if (!loadedPg()) throw new Error('the postgres subpath did not load pg');`);

// A typed consumer: wrong option types must be errors (so the types are not `any`).
const TS = (importLine) => `${importLine}

const tmp: TempConfig = createTempConfig('debug: true\\n');
const management: ManagementRouter = createManagementRouter(tmp.configPath, tmp.authDir, { cors: { origin: 'https://x' }, openapi: true });
const app = express();
app.use('/v0/management', management);
const retry: number | undefined = management.getConfig()['request-retry'];
const off: () => void = management.onChange((config, change) => {
  const source: 'api' | 'file' = change.source;
  void config.debug;
  void source;
});
const rows: readonly ResourceDescriptor[] = management.resources;
const doc: OpenApiDocument = openApiDocument(rows, { serverUrl: '/v0/management' });
const err: ManagementErrorCode = 'ERR_INVALID_OPTION';
// @ts-expect-error maxAttempts is a number
createManagementRouter('a', 'b', { maxAttempts: 'five' });
// @ts-expect-error no such option
createManagementRouter('a', 'b', { nope: true });
// @ts-expect-error the config is read-only
management.getConfig().debug = true;
const storage: Storage = postgresStorage({ connectionString: 'postgres://localhost/x', namespace: 'n' });
const pgOptions: PostgresStorageOptions = { namespace: 'n' };
// @ts-expect-error namespace is a string
postgresStorage({ connectionString: 'x', namespace: 1 });
void [retry, off, doc, err, ManagementError, storage, pgOptions];
`;
const TS_IMPORT = `import express from 'express';
import { createManagementRouter, createTempConfig, openApiDocument, ManagementError, type ManagementErrorCode, type ManagementRouter, type OpenApiDocument, type ResourceDescriptor, type Storage, type TempConfig } from 'cli-proxy-management';
import { postgresStorage, type PostgresStorageOptions } from 'cli-proxy-management/postgres';`;
const TS_REQUIRE = `import express = require('express');
import cpm = require('cli-proxy-management');
const { createManagementRouter, createTempConfig, openApiDocument, ManagementError } = cpm;
type ManagementErrorCode = cpm.ManagementErrorCode;
type ManagementRouter = cpm.ManagementRouter;
type OpenApiDocument = cpm.OpenApiDocument;
type ResourceDescriptor = cpm.ResourceDescriptor;
type TempConfig = cpm.TempConfig;
type Storage = cpm.Storage;
import cpmPostgres = require('cli-proxy-management/postgres');
const { postgresStorage } = cpmPostgres;
type PostgresStorageOptions = cpmPostgres.PostgresStorageOptions;`;

const tsconfig = (moduleKind, resolution, files) =>
  JSON.stringify({
    compilerOptions: {
      module: moduleKind,
      moduleResolution: resolution,
      target: 'ES2022',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      esModuleInterop: true,
      types: ['node'],
    },
    files,
  });

const started = Date.now();
try {
  console.log('pack test: npm run build, npm pack');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  // prepack would build again and print to stdout, which must hold only the JSON here.
  const packed = JSON.parse(npm(root, 'pack', '--json', '--ignore-scripts', '--pack-destination', work).toString())[0];
  const tarball = path.join(work, packed.filename);
  const listed = packed.files.map((f) => f.path);
  check(`tarball holds only dist, README, CHANGELOG, package.json (${listed.length} files)`, () => {
    const stray = listed.filter((f) => !/^(dist\/(cjs\/.*\.(js|d\.ts)|esm\/.*\.(mjs|d\.mts))|README\.md|CHANGELOG\.md|package\.json|LICENSE)$/.test(f));
    if (stray.length > 0) throw new Error(`unexpected files in the tarball: ${stray.join(', ')}`);
    for (const need of ['dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/index.mjs', 'dist/esm/index.d.mts', 'dist/cjs/postgres.js', 'dist/cjs/postgres.d.ts', 'dist/esm/postgres.mjs', 'dist/esm/postgres.d.mts']) {
      if (!listed.includes(need)) throw new Error(`missing ${need}`);
    }
  });

  for (const [major, deps] of Object.entries(MAJORS)) {
    const dir = path.join(work, `express${major}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-express${major}`, private: true, version: '0.0.0' }));
    console.log(`express ${major}: npm install ${path.basename(tarball)} ${deps.express} ${deps.types}`);
    npm(dir, 'install', tarball, deps.express, deps.types, '@types/node@20', PG, PG_TYPES);
    const version = JSON.parse(execFileSync(process.execPath, ['-p', 'JSON.stringify(require("express/package.json").version)'], { cwd: dir }).toString());
    const env = { ...process.env, EXPRESS_VERSION: version };
    writeFileSync(path.join(dir, 'cjs.cjs'), CJS);
    writeFileSync(path.join(dir, 'esm.mjs'), ESM);
    writeFileSync(path.join(dir, 'consumer.cts'), TS(TS_REQUIRE));
    writeFileSync(path.join(dir, 'consumer.mts'), TS(TS_IMPORT));
    writeFileSync(path.join(dir, 'consumer.ts'), TS(TS_IMPORT));
    writeFileSync(path.join(dir, 'tsconfig.node16.json'), tsconfig('node16', 'node16', ['consumer.cts', 'consumer.mts']));
    writeFileSync(path.join(dir, 'tsconfig.bundler.json'), tsconfig('esnext', 'bundler', ['consumer.ts']));
    const run = (file) => execFileSync(process.execPath, [file, major], { cwd: dir, env, stdio: 'inherit' });
    check(`express ${version}: require() from CommonJS, mount, authenticated requests`, () => run('cjs.cjs'));
    check(`express ${version}: import from an ES module, mount, authenticated requests`, () => run('esm.mjs'));
    const typecheck = (project) => execFileSync(process.execPath, [tsc, '-p', project], { cwd: dir, stdio: 'inherit' });
    check(`express ${version}: TypeScript, moduleResolution node16 (.cts require types, .mts import types)`, () => typecheck('tsconfig.node16.json'));
    check(`express ${version}: TypeScript, moduleResolution bundler`, () => typecheck('tsconfig.bundler.json'));
  }
  console.log(`pack test: all ${checks} checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (err) {
  console.error(`pack test FAILED after ${checks} checks: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
} finally {
  if (process.env.PACK_TEST_KEEP) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
