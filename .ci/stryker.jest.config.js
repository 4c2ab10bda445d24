/**
 * The jest run StrykerJS uses (`npm run mutate`): one project (Express 5), only the test files
 * that exercise the mutated modules (see `.ci/stryker.config.mjs`), so one mutant costs seconds.
 *
 * @type {import('jest').Config}
 */
module.exports = {
  rootDir: '..',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: [
    '**/__tests__/(access|access-hardening|lockout-store|fast-paths|config-store|body-hardening|token-name).test.ts',
  ],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  globals: { EXPRESS_MAJOR: 5 },
  testTimeout: 60000,
};
