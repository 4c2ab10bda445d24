/**
 * `pg` is an optional peer dependency: the main entry must never load it, only the subpath
 * `cli-proxy-management/postgres` does. Checked in a fresh process (jest's own module registry
 * would hide what Node loads). The pack test checks the same on the built package.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..');
const loadsPg = (entries: string[]): boolean => {
  const script = `${entries.map((e) => `require(${JSON.stringify(e)});`).join('')}
process.stdout.write(String(Object.keys(require.cache).some((p) => p.split(require('path').sep).includes('pg'))));`;
  return (
    execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    }) === 'true'
  );
};

it("require('cli-proxy-management') does not load pg", () => {
  expect(loadsPg(['./lib'])).toBe(false);
});

it('the postgres subpath does (so the check above can fail)', () => {
  expect(loadsPg(['./lib', './lib/postgres'])).toBe(true);
});
