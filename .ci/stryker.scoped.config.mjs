// One scoped StrykerJS run: one module (`--mutate <file>`), the test files that exercise it
// (`MUTATE_TESTS`, a jest file-name alternation, and optionally `MUTATE_TEST_NAMES`, a test-name
// pattern), every selected test against every mutant (`coverageAnalysis: "all"`), and every
// killing test recorded (`disableBail`), so that the report says which tests kill what. E.g.
//   MUTATE_TESTS='access|access-hardening|cors' MUTATE_REPORT=access \
//     npx stryker run .ci/stryker.scoped.config.mjs --mutate lib/http/access.ts
// Reports: reports/mutation/<MUTATE_REPORT>.json and .html at the end, and .partial.jsonl as
// each mutant is done (git-ignored). Slow: each mutant runs
// the whole selection (jest cannot bail when run programmatically), so keep the selection small.
import process from 'node:process';
import base from './stryker.config.mjs';

const name = process.env.MUTATE_REPORT || 'scoped';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  coverageAnalysis: 'all',
  disableBail: true,
  plugins: ['@stryker-mutator/jest-runner', './.ci/stryker-partial-reporter.mjs'],
  reporters: ['clear-text', 'progress', 'html', 'json', 'partial'],
  // A mutant that makes requests hang is a timeout (detected) sooner.
  timeoutMS: 10000,
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  tempDirName: `.stryker-tmp/${name}`,
};
