const base = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__', '<rootDir>/examples'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // oauth4webapi ships ES modules only; jest's module system runs CommonJS (it has no `import()`
  // without experimental flags), so that one dependency is transformed like the sources. The
  // package's own bundles (built by __tests__/oauth-bundle.test.ts) run as built.
  transformIgnorePatterns: ['/node_modules/(?!oauth4webapi/)', '/cpm-oauth-bundle-[^/]+/'],
};

/**
 * The whole suite runs twice: against Express 5 (the `express` dev dependency) and against
 * Express 4 (`express4`, an npm alias of express@4.21.2, substituted for every `express` import,
 * the library's own included). `__tests__/express-version.test.ts` proves the substitution.
 *
 * @type {import('jest').Config}
 */
module.exports = {
  projects: [
    { ...base, displayName: 'express5', globals: { EXPRESS_MAJOR: 5 } },
    {
      ...base,
      displayName: 'express4',
      globals: { EXPRESS_MAJOR: 4 },
      moduleNameMapper: { '^express$': 'express4', '^express/(.*)$': 'express4/$1' },
      // Not run twice: the doc-comment check and the fast edit path's property tests run no Express
      // at all, and the crash, multi-process and examples-from-the-command-line tests spawn their
      // hosts through tsx, outside jest's module mapping, so a second run would test Express 5 again.
      testPathIgnorePatterns: [
        '/node_modules/',
        '/__tests__/(tsdoc|crash|multiprocess|postgres-multiprocess|examples-cli|fast-edit)\\.test\\.ts$',
      ],
    },
  ],
  // Two cores on CI: one worker per core, tests use temp folders so they can run in parallel.
  maxWorkers: 2,
  testTimeout: 30000,
};
