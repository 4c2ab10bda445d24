// The package's JavaScript: each entry point (`lib/index.ts`, `lib/postgres.ts`) bundled into one
// file, dependencies left as `require`/`import` of the packages, and the modules both entries use
// in one shared file, so a class such as `StoreError` or `ManagementError` is the same class
// whichever entry a user loaded it through.
//
// Why bundle: a host pays for every module file it loads at start-up (resolve, read, wrap,
// compile); the library is about 50 small files, and loading them one by one cost a host 15-29 ms
// more than these bundles (examples/bench/README.md, start-up).
//
// - CommonJS (dist/cjs): esbuild has no code splitting for CommonJS, so the split is made here:
//   `shared.js` exports one namespace per shared module (`m0`, `m1`...); in `index.js` and
//   `postgres.js` an import of a shared module becomes `require('./shared.js').m<i>`.
// - ES modules (dist/esm): esbuild's own splitting (`shared-<hash>.mjs`). `lib/load-sync.ts`
//   (`require`, for dependencies loaded on first use) becomes `createRequire(import.meta.url)`.
//
// Used by `.ci/build.mjs` (the package) and by the start-up benchmark (which measures what
// the package ships).
/* global process */
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ENTRIES = { index: 'lib/index.ts', postgres: 'lib/postgres.ts' };
const COMMON = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  packages: 'external',
  keepNames: true,
  logLevel: 'error',
  legalComments: 'none',
};

/** The source files each entry point loads (paths relative to `root`). */
async function graphs(root) {
  const out = {};
  for (const [name, entry] of Object.entries(ENTRIES)) {
    const r = await build({
      ...COMMON,
      absWorkingDir: root,
      entryPoints: [entry],
      format: 'esm',
      write: false,
      metafile: true,
      outdir: 'unused',
    });
    out[name] = new Set(Object.keys(r.metafile.inputs));
  }
  return out;
}

/** Build dist/cjs/{index,postgres,shared}.js and dist/esm/{index,postgres,shared-*}.mjs under `root`, or under `outCjs`/`outEsm`. */
export async function bundle(
  root,
  { outCjs = path.join(root, 'dist', 'cjs'), outEsm = path.join(root, 'dist', 'esm') } = {},
) {
  const g = await graphs(root);
  const shared = [...g.index].filter((f) => g.postgres.has(f));
  const sharedIndex = new Map(shared.map((f, i) => [path.resolve(root, f), i]));

  // CommonJS: the shared file, one namespace per module.
  await build({
    ...COMMON,
    absWorkingDir: root,
    stdin: {
      contents: shared
        .map((f, i) => `export * as m${i} from ${JSON.stringify(`./${f}`)};`)
        .join('\n'),
      resolveDir: root,
      sourcefile: 'shared.js',
      loader: 'js',
    },
    format: 'cjs',
    outfile: path.join(outCjs, 'shared.js'),
  });
  // The entries, with each shared module taken from it.
  const fromShared = {
    name: 'from-shared',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, async (args) => {
        if (args.pluginData === 'inner' || args.namespace === 'shared') return undefined;
        const r = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: 'inner',
        });
        if (r.errors.length > 0) return { errors: r.errors };
        const i = sharedIndex.get(r.path);
        return i === undefined ? { path: r.path } : { path: `m${i}`, namespace: 'shared' };
      });
      b.onResolve({ filter: /^\.\/shared\.js$/, namespace: 'shared' }, () => ({
        path: './shared.js',
        external: true,
      }));
      b.onLoad({ filter: /.*/, namespace: 'shared' }, (args) => ({
        contents: `module.exports = require('./shared.js').${args.path};`,
        loader: 'js',
        resolveDir: root,
      }));
    },
  };
  for (const [name, entry] of Object.entries(ENTRIES)) {
    await build({
      ...COMMON,
      absWorkingDir: root,
      entryPoints: [entry],
      format: 'cjs',
      outfile: path.join(outCjs, `${name}.js`),
      plugins: [fromShared],
    });
  }

  // ES modules: esbuild splits the shared code itself.
  const loadSync = path.resolve(root, 'lib', 'load-sync.ts');
  await build({
    ...COMMON,
    absWorkingDir: root,
    entryPoints: ENTRIES,
    format: 'esm',
    splitting: true,
    outdir: outEsm,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'shared-[hash]',
    plugins: [
      {
        name: 'load-sync',
        setup(b) {
          b.onLoad({ filter: /load-sync\.ts$/ }, (args) =>
            args.path === loadSync
              ? {
                  contents: `import { createRequire } from 'node:module';\nexport const loadSync = createRequire(import.meta.url);\nexport const loadModule = (name) => import(name);\n`,
                  loader: 'js',
                }
              : undefined,
          );
        },
      },
    ],
  });
  return { shared: shared.length, index: g.index.size, postgres: g.postgres.size };
}

// `node .ci/bundle.mjs <cjs-dir> <esm-dir>`: the same bundles elsewhere (the start-up benchmark).
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.length === 4) {
  await bundle(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), {
    outCjs: path.resolve(process.argv[2]),
    outEsm: path.resolve(process.argv[3]),
  });
}
