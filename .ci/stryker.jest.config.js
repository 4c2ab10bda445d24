/**
 * The jest run StrykerJS uses (`npm run mutate`): one project (Express 5), only the test files
 * that exercise the mutated modules (see `.ci/stryker.config.mjs`). `MUTATE_TESTS` narrows
 * them further for a quick run of one module, e.g.
 * `MUTATE_TESTS='token-name' npm run mutate -- --mutate lib/store/token-store.ts`.
 * `MUTATE_TEST_NAMES` (a regular expression) keeps only the tests whose names match.
 *
 * @type {import('jest').Config}
 */
module.exports = {
  rootDir: '..',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: [
    `**/__tests__/(${process.env.MUTATE_TESTS || 'access|access-hardening|lockout-store|fast-paths|config-store|body-hardening|token-name'}).test.ts`,
  ],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  globals: { EXPRESS_MAJOR: 5 },
  testTimeout: 60000,
  ...(process.env.MUTATE_TEST_NAMES ? { testNamePattern: process.env.MUTATE_TEST_NAMES } : {}),
};
