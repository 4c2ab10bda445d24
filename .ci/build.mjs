/* global process, console */
// `npm run build`: the CommonJS build (dist/cjs: .js + .d.ts) and the ES module build
// (dist/esm: .mjs + .d.mts) from the same sources, with two tsc runs.
//
// The sources import each other without extensions (`./router`), as `moduleResolution: bundler`
// allows; Node's ES module loader and `moduleResolution: node16` need full file names, so the ES
// build's relative specifiers are rewritten to the emitted file (`./router.mjs`,
// `./resources/index.mjs`), and the files are renamed `.mjs`/`.d.mts` so they are ES modules
// whatever the nearest package.json says.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const dist = path.join(root, 'dist');
const esm = path.join(dist, 'esm');

// Everything this prints goes to stderr: `npm pack --json` (which runs the build) must print only JSON.
const run = (...args) => execFileSync(process.execPath, [tsc, '-p', path.join(root, '.ci', 'tsconfig.build.json'), ...args], { stdio: ['ignore', 2, 2] });

rmSync(dist, { recursive: true, force: true });
run(); // CommonJS: module nodenext over a package without "type" emits require()
run('--module', 'esnext', '--moduleResolution', 'bundler', '--outDir', esm);

const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });

const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*)\2/g;

function target(file, spec) {
  const base = path.resolve(path.dirname(file), spec);
  if (existsSync(`${base}.js`) || existsSync(`${base}.d.ts`)) return `${spec}.mjs`;
  if (existsSync(path.join(base, 'index.js')) || existsSync(path.join(base, 'index.d.ts'))) return `${spec}/index.mjs`;
  throw new Error(`${path.relative(root, file)}: cannot resolve ${spec}`);
}

const files = walk(esm).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'));
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace(SPECIFIER, (_m, pre, q, spec) => `${pre}${q}${target(file, spec)}${q}`));
}
for (const file of files) {
  renameSync(file, file.endsWith('.d.ts') ? `${file.slice(0, -5)}.d.mts` : `${file.slice(0, -3)}.mjs`);
}
// lib/load-sync.ts is `require` (loading a dependency on first use from synchronous code); an ES
// module has none, so its ES build is the same function made by createRequire.
const loadSync = path.join(esm, 'load-sync.mjs');
const loadSyncText = readFileSync(loadSync, 'utf8');
if (!/export const loadSync = require;/.test(loadSyncText)) throw new Error('dist/esm/load-sync.mjs: unexpected output, update .ci/build.mjs');
writeFileSync(loadSync, `import { createRequire } from 'node:module';\nexport const loadSync = createRequire(import.meta.url);\n`);
console.error(`built dist/cjs and dist/esm (${files.length} files each)`);
