/**
 * Start-up: what a host process pays for the library, measured as whole processes (`node -e`),
 * alternating: one that requires `express` and builds an app with one route, and one that also
 * requires the library, calls `createManagementRouter` on the test fixture and waits for
 * `ready()`. The library is the CommonJS the npm package ships (`.ci/bundle.mjs`: one file per
 * entry point), so neither side pays TypeScript transpilation. A third process measures the
 * floor: express plus `yaml` reading the same file (what any YAML-reading library pays); a fourth
 * the same library compiled file by file (how it shipped before the bundles), for comparison.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { FIXTURE, median, removeDir, ROOT, tempDir } from './util';

const HASH = `$2b$10$${'a'.repeat(53)}`;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return name === 'client' ? [] : sources(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/**
 * The library's CommonJS under node_modules/.cache (so `express`, `yaml`... resolve as for a
 * host): `bundled/` as the package ships it, `files/` compiled file by file.
 */
function compileLib(): { bundled: string; files: string } {
  const out = path.join(ROOT, 'node_modules', '.cache', 'cpm-bench-startup');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const bundled = path.join(out, 'bundled');
  execFileSync(
    process.execPath,
    [path.join(ROOT, '.ci', 'bundle.mjs'), bundled, path.join(out, 'esm')],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const files = path.join(out, 'files');
  buildSync({
    entryPoints: sources(path.join(ROOT, 'lib')),
    outdir: files,
    outbase: path.join(ROOT, 'lib'),
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    bundle: false,
    logLevel: 'error',
  });
  return { bundled, files };
}

/** Wall and CPU (user + sys, as the process itself reports at its end) milliseconds of one whole `node -e script` process. */
function timed(script: string): [number, number] {
  const start = performance.now();
  const out = execFileSync(process.execPath, ['-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  }).toString();
  const wall = performance.now() - start;
  return [wall, Number(/cpu=([\d.]+)/.exec(out)?.[1] ?? NaN)];
}

const EXIT = `const u = process.cpuUsage(); process.stdout.write('cpu=' + (u.user + u.system) / 1000, () => process.exit(0));`;

export interface StartupResult {
  expressAlone: number;
  withLibrary: number;
  /** `withLibrary - expressAlone`, medians of wall time. */
  added: number;
  expressAloneCpu: number;
  withLibraryCpu: number;
  addedCpu: number;
  /**
   * The floor of any library that reads the config as this one does: express + `require('yaml')`
   * + one `parseDocument` of the same file, its `toJS()` and `toString()`. Medians, wall and CPU.
   */
  yamlFloor: number;
  yamlFloorCpu: number;
  /** `added` and `addedCpu` for the library compiled file by file (not bundled). */
  fileByFile: number;
  fileByFileCpu: number;
  runs: number;
}

export function benchStartup(runs: number): StartupResult {
  const lib = compileLib();
  const dir = tempDir('startup');
  try {
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, FIXTURE.replace('KEY_PLACEHOLDER', HASH), { mode: 0o600 });
    mkdirSync(path.join(dir, 'auths'));
    const bare = `const express = require('express'); const app = express(); app.get('/x', (_q, r) => r.json({})); ${EXIT}`;
    const withLib = (dir: string): string =>
      `const express = require('express'); const app = express(); app.get('/x', (_q, r) => r.json({}));` +
      `const { createManagementRouter } = require(${JSON.stringify(path.join(dir, 'index.js'))});` +
      `const m = createManagementRouter(${JSON.stringify(config)}, ${JSON.stringify(path.join(dir, 'auths'))}, { logger: { warn: () => undefined } });` +
      `app.use('/v0/management', m); m.ready().then(() => { ${EXIT} }, (e) => { console.error(e); process.exit(1); });`;
    const full = withLib(lib.bundled);
    const unbundled = withLib(lib.files);
    const floor =
      `const express = require('express'); const app = express(); app.get('/x', (_q, r) => r.json({}));` +
      `const YAML = require('yaml'); const d = YAML.parseDocument(require('fs').readFileSync(${JSON.stringify(config)}, 'utf8')); d.toJS(); d.toString(); ${EXIT}`;
    timed(bare);
    timed(full);
    timed(floor);
    timed(unbundled);
    const a: [number, number][] = [];
    const b: [number, number][] = [];
    const c: [number, number][] = [];
    const d: [number, number][] = [];
    for (let i = 0; i < runs; i++) {
      a.push(timed(bare));
      b.push(timed(full));
      c.push(timed(floor));
      d.push(timed(unbundled));
    }
    const expressAlone = median(a.map((x) => x[0]));
    const withLibrary = median(b.map((x) => x[0]));
    const expressAloneCpu = median(a.map((x) => x[1]));
    const withLibraryCpu = median(b.map((x) => x[1]));
    const yamlFloor = median(c.map((x) => x[0])) - expressAlone;
    const yamlFloorCpu = median(c.map((x) => x[1])) - expressAloneCpu;
    const fileByFile = median(d.map((x) => x[0])) - expressAlone;
    const fileByFileCpu = median(d.map((x) => x[1])) - expressAloneCpu;
    return {
      expressAlone,
      withLibrary,
      added: withLibrary - expressAlone,
      expressAloneCpu,
      withLibraryCpu,
      addedCpu: withLibraryCpu - expressAloneCpu,
      yamlFloor,
      yamlFloorCpu,
      fileByFile,
      fileByFileCpu,
      runs,
    };
  } finally {
    removeDir(dir);
  }
}

if (require.main === module) {
  const r = benchStartup(Number(process.argv[2] ?? 15));
  console.log(
    `express alone ${r.expressAlone.toFixed(1)} ms, with the library ${r.withLibrary.toFixed(1)} ms: +${r.added.toFixed(1)} ms wall, +${r.addedCpu.toFixed(1)} ms CPU; ` +
      `yaml alone (require, parse, toJS, toString): +${r.yamlFloor.toFixed(1)} ms wall, +${r.yamlFloorCpu.toFixed(1)} ms CPU; ` +
      `the library file by file: +${r.fileByFile.toFixed(1)} ms wall, +${r.fileByFileCpu.toFixed(1)} ms CPU (median of ${r.runs})`,
  );
}
