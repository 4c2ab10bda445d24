/**
 * `require`, for the few dependencies loaded on first use from synchronous code (ajv, to compile
 * a schema the first time it is needed). The ES module build has no `require`: `.ci/bundle.mjs`
 * replaces this file there with `createRequire(import.meta.url)`, which resolves the same way.
 */
export const loadSync: NodeJS.Require = require;
