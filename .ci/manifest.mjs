/* global process, console */
// The published package.json: `npm pack` and `npm publish` put the package.json on disk into the
// tarball, so `prepack` runs `node .ci/manifest.mjs strip` (after the build) and `postpack`
// runs `node .ci/manifest.mjs restore`.
//
//   strip    keep a copy of the full manifest in .ci/package.full.json (git-ignored), then
//            write package.json without `scripts` and `devDependencies`: none of them is of use
//            to a user, and `prepare` would even run when the package is installed from git.
//   restore  put the full manifest back (and remove the copy). `strip` restores first when a
//            copy is left over from a pack that failed before its `postpack`.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = path.join(root, 'package.json');
const full = path.join(root, '.ci', 'package.full.json');

/** Fields of the development manifest that the published one leaves out. */
export const DEV_ONLY = ['scripts', 'devDependencies'];

function restore() {
  if (existsSync(full)) renameSync(full, manifest);
}

function strip() {
  restore();
  const text = readFileSync(manifest, 'utf8');
  const pkg = JSON.parse(text);
  for (const field of DEV_ONLY) delete pkg[field];
  writeFileSync(full, text);
  writeFileSync(manifest, `${JSON.stringify(pkg, null, 2)}\n`);
  console.error(
    `package.json: published without ${DEV_ONLY.join(', ')} (the full one is kept in .ci/package.full.json until postpack)`,
  );
}

const command = process.argv[2];
if (command === 'strip') strip();
else if (command === 'restore') restore();
else {
  console.error('usage: node .ci/manifest.mjs strip|restore');
  process.exitCode = 2;
}
