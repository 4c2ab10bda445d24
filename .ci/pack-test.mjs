/* global process, console, fetch, setTimeout */
// The package as its users get it: `npm pack` (stdout must be only its JSON; the published
// package.json has no scripts or devDependencies; the README links only to files it ships); the
// README's quick start run as written in a fresh folder; then in fresh projects (one per
// Express major) install the tarball and
//   - require() it from CommonJS, import it from an ES module: mount the router on a real
//     listening server and make one authenticated request (and one unauthenticated); the main
//     entry must not load pg, the `cli-proxy-management/postgres` subpath must (pg installed);
//   - type-check a TypeScript consumer with moduleResolution node16 (.cts -> the require types,
//     .mts -> the import types) and bundler (the import types), against that major's @types.
// Run by .ci/run after `npm test`; `npm run test:pack` runs it alone.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
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

/** A port nobody listens on now (the README's 8317 may be taken on a shared machine). */
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** The fenced blocks of one README section, in order: `{ lang, text }`. */
function blocks(readme, heading) {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README has no "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], text: m[2] }));
}

/**
 * The README's quick start, as written, in a fresh folder: its install line (with the tarball
 * standing in for the registry's copy), its config.yaml and server.mjs, its curl with the
 * answer the README shows; then the "no key means 404" sentence. The only change: port 8317
 * becomes a free one.
 */
async function quickStart(tarball) {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const [install, config, server, tryIt] = blocks(readme, 'Quick start');
  if (install?.lang !== 'sh' || config?.lang !== 'yaml' || server?.lang !== 'js' || tryIt?.lang !== 'sh') {
    throw new Error('the quick start is no longer: sh install, yaml config, js server, sh try-it');
  }
  const dir = path.join(work, 'quick-start');
  mkdirSync(dir);
  const port = String(await freePort());
  const portOf = (text) => text.replaceAll('8317', port);
  npm(dir, 'init', '-y');
  const installLine = install.text.trim();
  if (!/^npm install cli-proxy-management express$/.test(installLine)) throw new Error(`unexpected install line: ${installLine}`);
  check('README quick start: the install line, from a fresh folder', () => npm(dir, ...installLine.replace('cli-proxy-management', tarball).split(' ').slice(1)));
  writeFileSync(path.join(dir, 'config.yaml'), config.text);
  writeFileSync(path.join(dir, 'server.mjs'), portOf(server.text));
  const [startLine, curlLine, answerLine] = tryIt.text.trim().split('\n');
  if (startLine !== 'node server.mjs &' || !curlLine.startsWith('curl ') || !answerLine.startsWith('# ')) {
    throw new Error(`unexpected try-it lines:\n${tryIt.text}`);
  }
  const child = spawn(process.execPath, ['server.mjs'], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    // Wait (bounded) until it listens and has hashed the key in place.
    const hashed = () => /secret-key: "\$2[aby]\$/.test(readFileSync(path.join(dir, 'config.yaml'), 'utf8'));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const up = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.arrayBuffer().then(() => true), () => false);
      if (up && hashed()) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server.mjs: listening ${up}, key hashed ${hashed()}, exit ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const answer = execFileSync('sh', ['-c', portOf(curlLine).replace(/^curl /, 'curl -sS ')], { cwd: dir }).toString();
    check('README quick start: server.mjs answers the curl with what the README shows; the key is hashed in place', () => {
      if (answer.trim() !== answerLine.slice(2).trim()) throw new Error(`curl answered ${answer}, README says ${answerLine}`);
    });
    // "No key configured means 404, by design": remove the key, the router turns invisible.
    writeFileSync(path.join(dir, 'config.yaml'), 'remote-management:\n  allow-remote: false\n');
    const deadline404 = Date.now() + 30_000;
    let status;
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${port}/v0/management/debug`, { headers: { Authorization: 'Bearer change-me' } });
      status = res.status;
      await res.arrayBuffer();
      if (status === 404 || Date.now() > deadline404) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    check('README quick start: with no key configured the API answers 404', () => {
      if (status !== 404) throw new Error(`status ${status}`);
    });
  } finally {
    child.kill();
  }
}

const started = Date.now();
try {
  console.log('pack test: npm pack (its prepack builds and strips the manifest)');
  const manifestBefore = readFileSync(path.join(root, 'package.json'), 'utf8');
  // stdout must hold only the JSON: the build logs to stderr.
  const packed = JSON.parse(npm(root, 'pack', '--json', '--pack-destination', work).toString())[0];
  const tarball = path.join(work, packed.filename);
  const listed = packed.files.map((f) => f.path);
  check(`tarball holds only dist, README, CHANGELOG, LICENSE, SECURITY, package.json (${listed.length} files)`, () => {
    const stray = listed.filter((f) => !/^(dist\/(cjs\/.*\.(js|d\.ts)|esm\/.*\.(mjs|d\.mts))|README\.md|CHANGELOG\.md|SECURITY\.md|package\.json|LICENSE)$/.test(f));
    if (stray.length > 0) throw new Error(`unexpected files in the tarball: ${stray.join(', ')}`);
    for (const need of ['LICENSE', 'SECURITY.md', 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/index.mjs', 'dist/esm/index.d.mts', 'dist/cjs/postgres.js', 'dist/cjs/postgres.d.ts', 'dist/esm/postgres.mjs', 'dist/esm/postgres.d.mts']) {
      if (!listed.includes(need)) throw new Error(`missing ${need}`);
    }
  });
  const unpacked = path.join(work, 'unpacked');
  mkdirSync(unpacked);
  execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
  check('published package.json: no scripts, no devDependencies, engines >=20; the repository keeps its own', () => {
    const pub = JSON.parse(readFileSync(path.join(unpacked, 'package', 'package.json'), 'utf8'));
    for (const field of ['scripts', 'devDependencies']) if (field in pub) throw new Error(`published manifest has ${field}`);
    if (pub.engines?.node !== '>=20') throw new Error(`engines.node is ${pub.engines?.node}`);
    if (readFileSync(path.join(root, 'package.json'), 'utf8') !== manifestBefore) throw new Error('package.json was not restored after npm pack');
    if (existsSync(path.join(root, '.ci', 'package.full.json'))) throw new Error('.ci/package.full.json left behind');
  });
  check('every relative link in the published README names a file in the tarball', () => {
    const readme = readFileSync(path.join(unpacked, 'package', 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((l) => !/^(https?:|mailto:|#)/.test(l));
    const dead = links.filter((l) => !listed.includes(l.split('#')[0].replace(/^\.\//, '')));
    if (dead.length > 0) throw new Error(`dead links on npm: ${dead.join(', ')}`);
  });
  await quickStart(tarball);

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
