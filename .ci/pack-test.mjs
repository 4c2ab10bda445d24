/* global process, console */
// The package as its users get it: `npm pack`, then in fresh projects (one per Express major)
// install the tarball and
//   - require() it from CommonJS, import it from an ES module: mount the router on a real
//     listening server and make one authenticated request (and one unauthenticated);
//   - type-check a TypeScript consumer with moduleResolution node16 (.cts -> the require types,
//     .mts -> the import types) and bundler (the import types), against that major's @types.
// Run by .ci/run after `npm test`; `npm run test:pack` runs it alone.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const MAJORS = {
  4: { express: 'express@4.21.2', types: '@types/express@4.17.25' },
  5: { express: 'express@5.3.0', types: '@types/express@5.0.6' },
};

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
if (require.resolve('cli-proxy-management').split(require('path').sep).join('/').indexOf('/dist/cjs/') < 0) throw new Error('not the CJS build');`)}
})().catch((err) => { console.error(err); process.exit(1); });
`;
const ESM = program(`import express from 'express';
import { createManagementRouter, createTempConfig, openApiDocument, ManagementError } from 'cli-proxy-management';
if (!import.meta.resolve('cli-proxy-management').includes('/dist/esm/')) throw new Error('not the ES module build');`);

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
void [retry, off, doc, err, ManagementError];
`;
const TS_IMPORT = `import express from 'express';
import { createManagementRouter, createTempConfig, openApiDocument, ManagementError, type ManagementErrorCode, type ManagementRouter, type OpenApiDocument, type ResourceDescriptor, type TempConfig } from 'cli-proxy-management';`;
const TS_REQUIRE = `import express = require('express');
import cpm = require('cli-proxy-management');
const { createManagementRouter, createTempConfig, openApiDocument, ManagementError } = cpm;
type ManagementErrorCode = cpm.ManagementErrorCode;
type ManagementRouter = cpm.ManagementRouter;
type OpenApiDocument = cpm.OpenApiDocument;
type ResourceDescriptor = cpm.ResourceDescriptor;
type TempConfig = cpm.TempConfig;`;

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
  check(`tarball holds only dist, README, CHANGELOG, LICENSE, SECURITY, package.json (${listed.length} files)`, () => {
    const stray = listed.filter((f) => !/^(dist\/(cjs\/.*\.(js|d\.ts)|esm\/.*\.(mjs|d\.mts))|README\.md|CHANGELOG\.md|SECURITY\.md|package\.json|LICENSE)$/.test(f));
    if (stray.length > 0) throw new Error(`unexpected files in the tarball: ${stray.join(', ')}`);
    for (const need of ['LICENSE', 'SECURITY.md', 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/index.mjs', 'dist/esm/index.d.mts']) {
      if (!listed.includes(need)) throw new Error(`missing ${need}`);
    }
  });

  for (const [major, deps] of Object.entries(MAJORS)) {
    const dir = path.join(work, `express${major}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-express${major}`, private: true, version: '0.0.0' }));
    console.log(`express ${major}: npm install ${path.basename(tarball)} ${deps.express} ${deps.types}`);
    npm(dir, 'install', tarball, deps.express, deps.types, '@types/node@20');
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
