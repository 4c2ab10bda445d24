/* global process, console, fetch, setTimeout, clearTimeout */
// The package as its users get it. `npm pack` (stdout only its JSON) or, with PACK_TEST_TARBALL,
// a tarball built before; then:
//   - the tarball's files; the published package.json (no scripts or devDependencies; engines;
//     repository, homepage and bugs, so npm users can follow the README's pointers); every
//     relative link of the shipped docs names a shipped file;
//   - the lock: a fresh `npm install` (lock only) leaves package-lock.json byte for byte;
//   - every code block of the README and API.md, run as written or type-checked (see
//     readmeChecks; a block nobody handles fails the test);
//   - in fresh projects, one per Express major (one install each: the tarball, that Express,
//     its types, pg, and in the Express 5 project the test runners), require() from CommonJS
//     and import from an ES module (mounted on a listening server, authenticated requests; the
//     main entry must not load pg, the postgres subpath must); TypeScript consumers under
//     moduleResolution node10 (module commonjs), node16, nodenext and bundler, skipLibCheck off;
//   - in the Express 5 project, the same tests inside jest (CommonJS and ES modules), vitest,
//     `node --test` and mocha (.ci/pack-runners.mjs), each with supertest under a custom
//     prefix, each ending without an open handle.
// PACK_TEST_NODES: more Node binaries (separated by `:`); the manifest, lock, require/import,
// TypeScript and runner checks run under each of them too, on the same installs.
// Run by .ci/run after `npm test`; `npm run test:pack` runs it alone (PACK_TEST_KEEP=1 keeps
// the folder).
import { execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LEFT_OPEN, RUNNERS, SLOW } from './pack-runners.mjs';
import { readmeBlocks } from './readme-blocks.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const devDeps = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).devDependencies;
const pin = (name) => `${name}@${devDeps[name]}`;
const MAJORS = {
  4: { express: 'express@4.21.2', types: '@types/express@4.17.25', extra: [] },
  // The runners and what the README's testing recipe installs, at pinned versions.
  5: {
    express: 'express@5.3.0',
    types: '@types/express@5.0.6',
    extra: [
      pin('jest'),
      pin('supertest'),
      pin('@swc/core'),
      pin('@swc/jest'),
      pin('@types/jest'),
      pin('@types/supertest'),
      'vitest@4.1.12',
      'mocha@12.0.3',
    ],
  },
};
const PG = [pin('pg'), pin('@types/pg')];
const REPOSITORY = 'https://github.com/cli-proxy-management/cli-proxy-management';

const nodes = [process.execPath, ...(process.env.PACK_TEST_NODES ?? '').split(':').filter(Boolean)];
const nodeVersions = new Map(nodes.map((n) => [n, execFileSync(n, ['-v']).toString().trim()]));
// npm's own script, to run npm under another Node.
const npmCli = process.env.npm_execpath?.endsWith('npm-cli.js')
  ? process.env.npm_execpath
  : path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'bin',
      'npm-cli.js',
    );

const work = mkdtempSync(path.join(tmpdir(), 'cli-proxy-management-pack-test-'));
const npm = (cwd, ...args) =>
  execFileSync(
    'npm',
    [...args, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'],
    { cwd, stdio: ['ignore', 'pipe', 'inherit'] },
  );
let checks = 0;
const timings = [];
const failed = [];
/** One check: a failure is reported and counted, and the next checks still run. */
const check = async (label, fn) => {
  const start = Date.now();
  try {
    await fn();
    checks++;
    console.log(`  ok  ${label} (${Date.now() - start} ms)`);
  } catch (err) {
    failed.push(label);
    console.log(
      `  FAIL  ${label} (${Date.now() - start} ms)\n${String(err instanceof Error ? err.message : err).replace(/^/gm, '        ')}`,
    );
  }
  timings.push([label, Date.now() - start]);
};
// The runners' own output is matched: no colour codes in it.
const plainEnv = { ...process.env };
delete plainEnv.FORCE_COLOR;

/** Run `node args` in `cwd` with a deadline; resolves with its output, rejects with it on failure. */
function runNode(node, args, { cwd, env = { ...plainEnv, NO_COLOR: '1' }, timeoutMs = 300_000 }) {
  return new Promise((resolve, reject) => {
    const child = spawn(node, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut)
        reject(
          new Error(
            `did not end within ${timeoutMs / 1000} s (something kept the process alive):\n${out}`,
          ),
        );
      else if (code !== 0) reject(new Error(`exit ${code}:\n${out}`));
      else resolve(out);
    });
  });
}

const KEY = 'pack-test-key';
const CONFIG = JSON.stringify(`remote-management:\n  secret-key: "${KEY}"\n`);

// One script body for both module systems; only the import lines differ.
const program = (imports) => `${imports}
const major = Number(process.argv[2]);
const expressVersion = process.env.EXPRESS_VERSION;
if (Number(expressVersion.split('.')[0]) !== major) throw new Error('wrong express ' + expressVersion);
for (const fn of [createManagementRouter, createTempConfig, openApiDocument, fileStorage]) {
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
  if (put.status !== 200 || management.getConfig().debug !== true) throw new Error('PUT ' + put.status + ' ' + (await put.text()));
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
const { createManagementRouter, createTempConfig, openApiDocument, ManagementError, fileStorage } = require('cli-proxy-management');
if (require.resolve('cli-proxy-management').split(require('path').sep).join('/').indexOf('/dist/cjs/') < 0) throw new Error('not the CJS build');
const loadedPg = () => Object.keys(require.cache).some((p) => p.split(require('path').sep).includes('pg'));
if (loadedPg()) throw new Error('the main entry loaded pg');
const { postgresStorage } = require('cli-proxy-management/postgres');
if (!require.resolve('cli-proxy-management/postgres').split(require('path').sep).join('/').endsWith('/dist/cjs/postgres.js')) throw new Error('not the CJS postgres build');
if (!loadedPg()) throw new Error('the postgres subpath did not load pg');`)}
})().catch((err) => { console.error(err); process.exit(1); });
`;
const ESM = program(`import express from 'express';
import { createManagementRouter, createTempConfig, openApiDocument, ManagementError, fileStorage } from 'cli-proxy-management';
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
  const source: 'api' | 'file' | 'replica' = change.source;
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

const tsconfig = (moduleKind, resolution, files, types = ['node']) =>
  JSON.stringify({
    compilerOptions: {
      module: moduleKind,
      ...(resolution ? { moduleResolution: resolution } : {}),
      target: 'ES2022',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      esModuleInterop: true,
      types,
    },
    files,
  });

/** The four resolutions TypeScript users have, with the files each checks. */
const TS_PROJECTS = [
  // module commonjs without moduleResolution: node10, which ignores `exports`.
  {
    label: 'node10 (module commonjs)',
    file: 'tsconfig.node10.json',
    config: tsconfig('commonjs', undefined, ['consumer.cts', 'consumer.ts']),
  },
  {
    label: 'node16 (.cts require types, .mts import types)',
    file: 'tsconfig.node16.json',
    config: tsconfig('node16', 'node16', ['consumer.cts', 'consumer.mts']),
  },
  {
    label: 'nodenext',
    file: 'tsconfig.nodenext.json',
    config: tsconfig('nodenext', 'nodenext', ['consumer.cts', 'consumer.mts']),
  },
  {
    label: 'bundler',
    file: 'tsconfig.bundler.json',
    config: tsconfig('esnext', 'bundler', ['consumer.ts']),
  },
];

/** A port nobody listens on now (8317 may be taken on a shared machine). */
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The blocks of one section, checked against the shape this test knows. */
function takeBlocks(blocks, section, langs) {
  const found = blocks.filter((b) => b.section === section);
  for (const b of found) b.handled = true;
  const shape = found.map((b) => b.lang).join(',');
  if (shape !== langs.join(','))
    throw new Error(
      `README "${section}": blocks are [${shape}], this test knows [${langs.join(',')}]: update .ci/pack-test.mjs`,
    );
  return found;
}

/**
 * Whether a curl's one-line answer is what a doc shows: equal, or, where the doc elides with `…`,
 * the shown pieces in order (the first a prefix, the last a suffix).
 */
function matchesShown(answer, shown) {
  const pieces = shown.split('…');
  if (pieces.length === 1) return answer === shown;
  if (!answer.startsWith(pieces[0]) || !answer.endsWith(pieces.at(-1))) return false;
  let at = pieces[0].length;
  for (const piece of pieces.slice(1, -1)) {
    const found = answer.indexOf(piece, at);
    if (found < 0) return false;
    at = found + piece.length;
  }
  return answer.length - pieces.at(-1).length >= at;
}

/**
 * The README's "History and revert" session, as written, against the quick start's server right
 * after its first curl (so the ids it shows are the ones it gets): every curl 2xx, every shown
 * answer (`# ...` under its curl) matched, and the revert undone on disk.
 */
async function historySession(block, portOf, dir) {
  await check(
    "README History and revert: the curl session against the quick start's server, each curl 2xx, each shown answer matched, the change undone on disk",
    () => {
      const lines = portOf(block.text).trim().split('\n');
      const commands = lines.filter((l) => !l.startsWith('# '));
      const script = `set -e\ncurl() { command curl -sS --fail-with-body "$@"; echo; }\n${commands.join('\n')}`;
      const out = execFileSync('sh', ['-c', script], { cwd: dir }).toString().trim().split('\n');
      let answer;
      let k = 0;
      for (const line of lines) {
        if (line.startsWith('curl ')) answer = out[k++];
        else if (line.startsWith('# ') && !matchesShown(answer, line.slice(2)))
          throw new Error(`README shows ${line.slice(2)}\nthe curl answered ${answer}`);
      }
      if (k !== out.length)
        throw new Error(`${out.length} answers for ${k} curls:\n${out.join('\n')}`);
      const config = readFileSync(path.join(dir, 'config.yaml'), 'utf8');
      if (/debug/.test(config)) throw new Error(`the revert left debug in the file:\n${config}`);
    },
  );
}

/**
 * The README's quick start, as written, in a fresh folder: its install line (the tarball
 * standing in for the registry's copy), its config.yaml and server.mjs, its curl with the answer
 * the README shows (PORT names a free port; the curl's 8317 becomes it); server.mjs on a port in
 * use exits 1 with its message; then every curl block of API.md against the same server, with
 * `M` and `A` as API.md defines them; then "no key means 404".
 */
async function quickStart(tarball, blocks, apiBlocks) {
  const [install, config, server, tryIt] = takeBlocks(blocks, 'Quick start', [
    'sh',
    'yaml',
    'js',
    'sh',
  ]);
  const dir = path.join(work, 'quick-start');
  mkdirSync(dir);
  const port = String(await freePort());
  const portOf = (text) => text.replaceAll('8317', port);
  npm(dir, 'init', '-y');
  const installLine = install.text.trim();
  if (!/^npm install cli-proxy-management express$/.test(installLine))
    throw new Error(`unexpected install line: ${installLine}`);
  await check('README quick start: the install line, from a fresh folder', () =>
    npm(dir, ...installLine.replace('cli-proxy-management', tarball).split(' ').slice(1)),
  );
  writeFileSync(path.join(dir, 'config.yaml'), config.text);
  writeFileSync(path.join(dir, 'server.mjs'), server.text);
  const [startLine, curlLine, answerLine] = tryIt.text.trim().split('\n');
  if (
    startLine !== 'node server.mjs &' ||
    !curlLine.startsWith('curl ') ||
    !answerLine.startsWith('# ')
  ) {
    throw new Error(`unexpected try-it lines:\n${tryIt.text}`);
  }
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: dir,
    env: { ...process.env, PORT: port },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    // Wait (bounded) until it listens and has hashed the key in place.
    const hashed = () =>
      /secret-key: "\$2[aby]\$/.test(readFileSync(path.join(dir, 'config.yaml'), 'utf8'));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const up = await fetch(`http://127.0.0.1:${port}/`).then(
        (r) => r.arrayBuffer().then(() => true),
        () => false,
      );
      if (up && hashed()) break;
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(
          `server.mjs: listening ${up}, key hashed ${hashed()}, exit ${child.exitCode}`,
        );
      await sleep(100);
    }
    const answer = execFileSync('sh', ['-c', portOf(curlLine).replace(/^curl /, 'curl -sS ')], {
      cwd: dir,
    }).toString();
    await check(
      'README quick start: server.mjs (PORT) answers the curl with what the README shows; the key is hashed in place',
      () => {
        if (answer.trim() !== answerLine.slice(2).trim())
          throw new Error(`curl answered ${answer}, README says ${answerLine}`);
      },
    );
    await historySession(takeBlocks(blocks, 'History and revert', ['sh'])[0], portOf, dir);
    await check(
      'README quick start: a port in use makes server.mjs exit 1 with its message',
      async () => {
        const err = await runNode(process.execPath, ['server.mjs'], {
          cwd: dir,
          env: { ...process.env, PORT: port },
          timeoutMs: 30_000,
        }).then(
          () => {
            throw new Error('server.mjs exited 0 on a port in use');
          },
          (e) => e.message,
        );
        if (
          !err.startsWith('exit 1:') ||
          !err.includes(`port ${port} is in use: PORT=<another> node server.mjs`)
        )
          throw new Error(err);
      },
    );
    await check(
      `API.md: ${apiBlocks.length} curl blocks against the quick start's server, each curl 2xx, each shown answer matched`,
      () => {
        for (const block of apiBlocks) {
          const script = `set -e\nM=http://127.0.0.1:${port}/v0/management\nA="Authorization: Bearer change-me"\ncurl() { command curl -sS --fail-with-body "$@"; echo; }\n${block.text}`;
          const out = execFileSync('sh', ['-c', script], { cwd: dir }).toString();
          for (const line of block.text.split('\n')) {
            const shown = /^curl .*?# (\{.*\})\s*$/.exec(line);
            if (shown && !out.includes(shown[1]))
              throw new Error(`"${line}" did not answer ${shown[1]}:\n${out}`);
          }
        }
      },
    );
    // "No key configured means 404, by design": remove the key, the router turns invisible.
    writeFileSync(path.join(dir, 'config.yaml'), 'remote-management:\n  allow-remote: false\n');
    const deadline404 = Date.now() + 30_000;
    let status;
    for (;;) {
      // A fresh connection each time (a reused keep-alive socket the server is closing fails
      // the request without saying anything about the server); a server that died is reported.
      status = await fetch(`http://127.0.0.1:${port}/v0/management/debug`, {
        headers: { Authorization: 'Bearer change-me', Connection: 'close' },
      }).then(
        (res) => res.arrayBuffer().then(() => res.status),
        (err) => `${err.message} (${err.cause?.code ?? err.cause?.message ?? 'no cause'})`,
      );
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `server.mjs ended (${child.exitCode ?? child.signalCode}); last: ${status}`,
        );
      if (status === 404 || Date.now() > deadline404) break;
      await sleep(100);
    }
    await check('README quick start: with no key configured the API answers 404', () => {
      if (status !== 404) throw new Error(`status ${status}`);
    });
  } finally {
    child.kill();
  }
}

/**
 * The README's other blocks, in the Express 5 project: the testing recipe's install line must
 * name what that project installed, its jest.config.js and app.test.ts run with `npx jest`
 * (TypeScript through SWC) and type-check; "Adding a config key" and "Several machines"
 * type-check (and the first runs in a folder with a config.yaml).
 */
function readmeSnippets(blocks) {
  const [install, jestConfig, testFile] = takeBlocks(blocks, 'Testing your app', [
    'sh',
    'js',
    'ts',
  ]);
  const [descriptor] = takeBlocks(blocks, 'Adding a config key', ['ts']);
  const [postgres] = takeBlocks(blocks, 'Several machines', ['ts']);
  const [runtime] = takeBlocks(blocks, 'Plugging in your proxy', ['ts']);
  const [logins] = takeBlocks(blocks, 'Logins', ['ts']);
  const names = install.text.trim().split(/\s+/);
  if (names.slice(0, 3).join(' ') !== 'npm install --save-dev')
    throw new Error(`unexpected install line: ${install.text}`);
  const installed = new Set(
    [MAJORS[5].types, ...MAJORS[5].extra].map((p) => p.slice(0, p.lastIndexOf('@'))),
  );
  const missing = names.slice(3).filter((n) => !installed.has(n));
  if (missing.length > 0)
    throw new Error(
      `the testing recipe installs ${missing.join(', ')}, which the pack test does not`,
    );
  return {
    jestConfig: jestConfig.text,
    testFile: testFile.text,
    descriptor: descriptor.text,
    postgres: postgres.text,
    runtime: runtime.text,
    logins: logins.text,
  };
}

const started = Date.now();
try {
  const manifestBefore = readFileSync(path.join(root, 'package.json'), 'utf8');
  let tarball;
  let listed;
  if (process.env.PACK_TEST_TARBALL) {
    tarball = path.resolve(process.env.PACK_TEST_TARBALL);
    console.log(`pack test: ${tarball}; Node ${[...nodeVersions.values()].join(', ')}`);
    listed = execFileSync('tar', ['-tzf', tarball])
      .toString()
      .trim()
      .split('\n')
      .map((f) => f.replace(/^package\//, ''));
  } else {
    console.log(
      `pack test: npm pack (its prepack builds and strips the manifest); Node ${[...nodeVersions.values()].join(', ')}`,
    );
    // stdout must hold only the JSON: the build logs to stderr.
    const packed = JSON.parse(
      npm(root, 'pack', '--json', '--pack-destination', work).toString(),
    )[0];
    tarball = path.join(work, packed.filename);
    listed = packed.files.map((f) => f.path);
  }
  await check(
    `tarball holds only dist, README, API, CHANGELOG, LICENSE, SECURITY, package.json (${listed.length} files)`,
    () => {
      const stray = listed.filter(
        (f) =>
          !/^(dist\/(cjs\/.*\.(js|d\.ts)|esm\/.*\.(mjs|d\.mts))|README\.md|lib\/API\.md|CHANGELOG\.md|SECURITY\.md|package\.json|LICENSE)$/.test(
            f,
          ),
      );
      if (stray.length > 0) throw new Error(`unexpected files in the tarball: ${stray.join(', ')}`);
      for (const need of [
        'LICENSE',
        'SECURITY.md',
        'lib/API.md',
        'dist/cjs/index.js',
        'dist/cjs/index.d.ts',
        'dist/esm/index.mjs',
        'dist/esm/index.d.mts',
        'dist/cjs/postgres.js',
        'dist/cjs/postgres.d.ts',
        'dist/esm/postgres.mjs',
        'dist/esm/postgres.d.mts',
      ]) {
        if (!listed.includes(need)) throw new Error(`missing ${need}`);
      }
    },
  );
  const unpacked = path.join(work, 'unpacked');
  mkdirSync(unpacked);
  execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
  const published = path.join(unpacked, 'package', 'package.json');
  for (const node of nodes) {
    await check(
      `Node ${nodeVersions.get(node)}: published package.json: no scripts or devDependencies, engines >=20, repository, homepage and bugs`,
      () => {
        const script = `const pub = require(${JSON.stringify(published)});
for (const field of ['scripts', 'devDependencies']) if (field in pub) throw new Error('published manifest has ' + field);
if (pub.engines?.node !== '>=20') throw new Error('engines.node is ' + pub.engines?.node);
const repo = ${JSON.stringify(REPOSITORY)};
if (pub.repository?.type !== 'git' || pub.repository?.url !== 'git+' + repo + '.git') throw new Error('repository: ' + JSON.stringify(pub.repository));
if (!String(pub.homepage).startsWith(repo)) throw new Error('homepage: ' + pub.homepage);
if (pub.bugs?.url !== repo + '/issues') throw new Error('bugs: ' + JSON.stringify(pub.bugs));`;
        execFileSync(node, ['-e', script], { stdio: 'inherit' });
      },
    );
  }
  if (!process.env.PACK_TEST_TARBALL) {
    await check('npm pack restored the repository package.json', () => {
      if (readFileSync(path.join(root, 'package.json'), 'utf8') !== manifestBefore)
        throw new Error('package.json was not restored after npm pack');
      if (existsSync(path.join(root, '.ci', 'package.full.json')))
        throw new Error('.ci/package.full.json left behind');
    });
  }
  for (const node of nodes) {
    await check(
      `Node ${nodeVersions.get(node)}: a fresh npm install leaves package-lock.json as committed`,
      () => {
        const dir = mkdtempSync(path.join(work, 'lock-'));
        for (const f of ['package.json', 'package-lock.json'])
          copyFileSync(path.join(root, f), path.join(dir, f));
        execFileSync(
          node,
          [
            npmCli,
            'install',
            '--package-lock-only',
            '--ignore-scripts',
            '--no-audit',
            '--no-fund',
            '--prefer-offline',
            '--loglevel=error',
          ],
          { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
        );
        const before = readFileSync(path.join(root, 'package-lock.json'), 'utf8').split('\n');
        const after = readFileSync(path.join(dir, 'package-lock.json'), 'utf8').split('\n');
        const changed = after
          .map((line, i) => [i + 1, before[i], line])
          .filter(([, b, a]) => b !== a);
        if (changed.length > 0 || before.length !== after.length) {
          throw new Error(
            `npm install rewrote package-lock.json:\n${changed
              .slice(0, 5)
              .map(([n, b, a]) => `  line ${n}: ${b?.trim()} -> ${a?.trim()}`)
              .join('\n')}`,
          );
        }
      },
    );
  }
  const docs = ['README.md', 'lib/API.md'].filter((f) => listed.includes(f));
  await check(
    `every relative link in the published ${docs.join(' and ')} names a file in the tarball`,
    () => {
      for (const doc of docs) {
        const text = readFileSync(path.join(unpacked, 'package', doc), 'utf8');
        const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
          .map((m) => m[1])
          .filter((l) => !/^(https?:|mailto:|#)/.test(l));
        // A link is relative to the document that holds it.
        const dead = links.filter(
          (l) =>
            !listed.includes(
              path.posix.normalize(path.posix.join(path.posix.dirname(doc), l.split('#')[0])),
            ),
        );
        if (dead.length > 0) throw new Error(`dead links on npm in ${doc}: ${dead.join(', ')}`);
      }
    },
  );

  // Every code block of the shipped docs is handled below, or the test fails.
  const readmeText = readFileSync(path.join(unpacked, 'package', 'README.md'), 'utf8');
  const blocks = readmeBlocks(readmeText);
  const apiBlocks = listed.includes('lib/API.md')
    ? readmeBlocks(readFileSync(path.join(unpacked, 'package', 'lib', 'API.md'), 'utf8'))
    : [];
  await quickStart(
    tarball,
    blocks,
    apiBlocks.filter((b) => b.lang === 'sh'),
  ).catch((err) => {
    failed.push('README quick start');
    console.log(`  FAIL  README quick start: ${err.message}`);
  });
  let snippets;
  await check(
    'README: the blocks of "Testing your app", "Adding a config key", "Plugging in your proxy", "Logins", "Several machines" are the ones this test runs or type-checks',
    () => {
      snippets = readmeSnippets(blocks);
    },
  );
  await check(
    'every code block of README.md and API.md is run or type-checked by this test',
    () => {
      const left = [...blocks, ...apiBlocks.filter((b) => b.lang !== 'sh')].filter(
        (b) => !b.handled,
      );
      if (left.length > 0)
        throw new Error(
          `blocks nobody checks: ${left.map((b) => `"${b.section}" (${b.lang})`).join(', ')}`,
        );
    },
  );

  for (const [major, deps] of Object.entries(MAJORS)) {
    const dir = path.join(work, `express${major}`);
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: `consumer-express${major}`, private: true, version: '0.0.0' }),
    );
    const all = [tarball, deps.express, deps.types, '@types/node@20', ...PG, ...deps.extra];
    const installStart = Date.now();
    npm(dir, 'install', ...all);
    console.log(
      `express ${major}: npm install of ${all.length} packages (${path.basename(tarball)}, ${all.slice(1).join(' ')}): ${Date.now() - installStart} ms`,
    );
    const version = JSON.parse(
      execFileSync(
        process.execPath,
        ['-p', 'JSON.stringify(require("express/package.json").version)'],
        { cwd: dir },
      ).toString(),
    );
    const env = { ...process.env, EXPRESS_VERSION: version };
    writeFileSync(path.join(dir, 'cjs.cjs'), CJS);
    writeFileSync(path.join(dir, 'esm.mjs'), ESM);
    writeFileSync(path.join(dir, 'consumer.cts'), TS(TS_REQUIRE));
    writeFileSync(path.join(dir, 'consumer.mts'), TS(TS_IMPORT));
    writeFileSync(path.join(dir, 'consumer.ts'), TS(TS_IMPORT));
    for (const p of TS_PROJECTS) writeFileSync(path.join(dir, p.file), p.config);
    for (const node of nodes) {
      const v = nodeVersions.get(node);
      const run = (file) => execFileSync(node, [file, major], { cwd: dir, env, stdio: 'inherit' });
      await check(
        `Node ${v}, express ${version}: require() from CommonJS, mount, authenticated requests`,
        () => run('cjs.cjs'),
      );
      await check(
        `Node ${v}, express ${version}: import from an ES module, mount, authenticated requests`,
        () => run('esm.mjs'),
      );
      // tsc does the same under every Node: under the extra ones, the Express 5 project only.
      if (node !== nodes[0] && major !== '5') continue;
      // Two at a time (skipLibCheck is off: each run checks every declaration it loads).
      for (let i = 0; i < TS_PROJECTS.length; i += 2) {
        await Promise.all(
          TS_PROJECTS.slice(i, i + 2).map((p) =>
            check(`Node ${v}, express ${version}: TypeScript, moduleResolution ${p.label}`, () =>
              runNode(node, [tsc, '-p', p.file], { cwd: dir, timeoutMs: 900_000 }),
            ),
          ),
        );
      }
    }
    if (major !== '5') continue;

    // The README's snippets: the testing recipe under jest (TypeScript through SWC), type-checked
    // too; the descriptor example run in a folder with a config; the PostgreSQL one type-checked.
    mkdirSync(path.join(dir, 'readme'));
    if (snippets) {
      writeFileSync(path.join(dir, 'readme', 'jest.config.js'), snippets.jestConfig);
      writeFileSync(path.join(dir, 'readme', 'app.test.ts'), snippets.testFile);
      writeFileSync(
        path.join(dir, 'readme', 'descriptor.mts'),
        `${snippets.descriptor}\nawait management.close();\n`,
      );
      writeFileSync(
        path.join(dir, 'readme', 'postgres.mts'),
        snippets.postgres.replace(/^await router\.ready\(\);.*$/m, '$&\nawait router.close();'),
      );
      writeFileSync(path.join(dir, 'readme', 'runtime.mts'), snippets.runtime);
      writeFileSync(path.join(dir, 'readme', 'logins.mts'), snippets.logins);
      writeFileSync(path.join(dir, 'readme', 'config.yaml'), 'debug: false\n');
      writeFileSync(
        path.join(dir, 'tsconfig.readme.json'),
        JSON.stringify({
          ...JSON.parse(
            tsconfig(
              'nodenext',
              'nodenext',
              [
                'readme/app.test.ts',
                'readme/descriptor.mts',
                'readme/postgres.mts',
                'readme/runtime.mts',
                'readme/logins.mts',
              ],
              ['node', 'jest'],
            ),
          ),
        }),
      );
      await check(
        'README: "Testing your app" (app.test.ts), "Adding a config key", "Plugging in your proxy", "Logins" and "Several machines" type-check as written (nodenext)',
        () =>
          execFileSync(process.execPath, [tsc, '-p', 'tsconfig.readme.json'], {
            cwd: dir,
            stdio: 'inherit',
          }),
      );
      await check(
        'README: "Adding a config key" runs as written (transpiled, in a folder with a config.yaml)',
        async () => {
          const ts = (
            await import(path.join(root, 'node_modules', 'typescript', 'lib', 'typescript.js'))
          ).default;
          const js = ts.transpileModule(
            readFileSync(path.join(dir, 'readme', 'descriptor.mts'), 'utf8'),
            { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } },
          ).outputText;
          writeFileSync(path.join(dir, 'readme', 'descriptor.mjs'), js);
          await runNode(process.execPath, ['descriptor.mjs'], {
            cwd: path.join(dir, 'readme'),
            timeoutMs: 60_000,
          });
        },
      );
    }
    for (const node of nodes) {
      const v = nodeVersions.get(node);
      if (snippets)
        await check(
          `Node ${v}: README "Testing your app" as written: npx jest runs app.test.ts (TypeScript through @swc/jest) and exits on its own`,
          async () => {
            const out = await runNode(
              node,
              [
                'node_modules/jest/bin/jest.js',
                '--ci',
                `--testTimeout=${SLOW}`,
                '--config',
                'readme/jest.config.js',
                '--rootDir',
                'readme',
              ],
              { cwd: dir },
            );
            if (LEFT_OPEN.test(out) || !/Tests:\s+1 passed, 1 total/.test(out))
              throw new Error(out);
          },
        );
      for (const r of RUNNERS) {
        if (node === nodes[0]) {
          mkdirSync(path.join(dir, path.dirname(r.file)), { recursive: true });
          writeFileSync(path.join(dir, r.file), r.text);
        }
        await check(
          `Node ${v}: ${r.name}: supertest under a custom prefix, the tarball's build, ends without an open handle`,
          async () => {
            const out = await runNode(node, r.args, { cwd: dir });
            if (LEFT_OPEN.test(out))
              throw new Error(`a runner warned about something left open:\n${out}`);
            if (!/\b2 pass(ed|ing)?\b|pass(es)?\s+2\b|Tests\s+2 passed/i.test(out))
              throw new Error(`expected 2 passing tests:\n${out}`);
          },
        );
      }
    }
  }
  const total = (Date.now() - started) / 1000;
  const slowest = [...timings]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([l, ms]) => `${(ms / 1000).toFixed(1)} s ${l}`);
  console.log(`pack test: slowest checks:\n  ${slowest.join('\n  ')}`);
  if (failed.length > 0) {
    console.log(
      `pack test FAILED: ${failed.length} of ${checks + failed.length} checks, in ${total.toFixed(1)} s:\n  ${failed.join('\n  ')}`,
    );
    process.exitCode = 1;
  } else console.log(`pack test: all ${checks} checks passed in ${total.toFixed(1)} s`);
} catch (err) {
  console.error(
    `pack test FAILED (stopped) after ${checks} checks: ${err instanceof Error ? err.message : err}`,
  );
  process.exitCode = 1;
} finally {
  if (process.env.PACK_TEST_KEEP) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
