/**
 * `require`, for the few dependencies loaded on first use from synchronous code (ajv, to compile
 * a schema the first time it is needed). The ES module build has no `require`: `.ci/bundle.mjs`
 * replaces this file there with `createRequire(import.meta.url)`, which resolves the same way.
 */
export const loadSync: NodeJS.Require = require;

/**
 * Load a dependency on first use that may be an ES module only (oauth4webapi). The CommonJS
 * build `require`s it (Node 20.19+ loads ES modules that way; jest's module system has no
 * `import()`); `.ci/bundle.mjs` makes it an `import()` in the ES module build.
 */
export const loadModule = async (name: string): Promise<unknown> => loadSync(name) as unknown;
