/* global process, console */
// `npm run build`: the CommonJS build (dist/cjs: .js + .d.ts) and the ES module build
// (dist/esm: .mjs + .d.mts) from the same sources. The JavaScript is bundled per entry point by
// esbuild (`.ci/bundle.mjs`); the declarations are tsc's, file by file, in two runs.
//
// The sources import each other without extensions (`./router`), as `moduleResolution: bundler`
// allows; `moduleResolution: node16` needs full file names in ES module declarations, so the ES
// declarations' relative specifiers are rewritten to the emitted file (`./router.mjs`,
// `./resources/index.mjs`), and the files are renamed `.d.mts`.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from './bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const dist = path.join(root, 'dist');
const esm = path.join(dist, 'esm');

// Everything this prints goes to stderr: `npm pack --json` (which runs the build) must print only JSON.
const run = (...args) =>
  execFileSync(
    process.execPath,
    [tsc, '-p', path.join(root, '.ci', 'tsconfig.build.json'), ...args],
    { stdio: ['ignore', 2, 2] },
  );

rmSync(dist, { recursive: true, force: true });
run('--emitDeclarationOnly');
run(
  '--emitDeclarationOnly',
  '--module',
  'esnext',
  '--moduleResolution',
  'bundler',
  '--outDir',
  esm,
);

const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });

const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*)\2/g;

function target(file, spec) {
  const base = path.resolve(path.dirname(file), spec);
  if (existsSync(`${base}.d.ts`)) return `${spec}.mjs`;
  if (existsSync(path.join(base, 'index.d.ts'))) return `${spec}/index.mjs`;
  throw new Error(`${path.relative(root, file)}: cannot resolve ${spec}`);
}

const files = walk(esm).filter((f) => f.endsWith('.d.ts'));
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  writeFileSync(
    file,
    text.replace(SPECIFIER, (_m, pre, q, spec) => `${pre}${q}${target(file, spec)}${q}`),
  );
}
for (const file of files) {
  renameSync(file, `${file.slice(0, -5)}.d.mts`);
}
const sizes = await bundle(root);
console.error(
  `built dist/cjs and dist/esm: ${files.length} declaration files each; JavaScript bundled per entry (index ${sizes.index} modules, postgres ${sizes.postgres}, ${sizes.shared} shared)`,
);
