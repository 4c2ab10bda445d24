// Mutation testing of the modules that decide who gets in and what is written (`npm run mutate`,
// not part of `npm test`: it takes minutes). Results: reports/mutation/ (git-ignored).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  jest: {
    projectType: 'custom',
    configFile: '.ci/stryker.jest.config.js',
    enableFindRelatedTests: false,
  },
  coverageAnalysis: 'perTest',
  mutate: [
    'lib/http/access.ts', // the access check (remote, key, lock-out order)
    'lib/http/lockout.ts', // the memory lock-out store
    'lib/store/secret.ts', // key handling: reading, hashing, verifying
    'lib/store/token-store.ts', // the one token-file name rule
    'lib/store/config-store.ts:95-173', // the store's verification: render, re-parse check, group apply
  ],
  concurrency: 2,
  timeoutMS: 20000,
  // The first full run of the selected tests; minutes on a busy 2-core machine.
  dryRunTimeoutMinutes: 30,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['dist', 'reports', '.stryker-tmp', 'examples/bench'],
  cleanTempDir: 'always',
};
