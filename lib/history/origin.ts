import { AsyncLocalStorage } from 'node:async_hooks';

/** Who made a change: the `source` of a history entry and, for a request, its method, path and client. */
export interface Origin {
  /** `api` a request, `file` an edit outside the API, `system` the library itself, `revert` a revert. */
  readonly source: 'api' | 'file' | 'system' | 'revert';
  readonly method?: string | undefined;
  /** The request's path below the router's mount point (`/api-keys`). */
  readonly path?: string | undefined;
  /** The address the access check saw. */
  readonly client?: string | undefined;
  /** For a revert: the id of the entry it undoes. */
  readonly revertOf?: string | undefined;
}

/** A write the library makes by itself (the start-up hashing of a plaintext key). */
export const SYSTEM: Origin = Object.freeze({ source: 'system' });
/** An edit made outside the API that the store adopted. */
export const FILE: Origin = Object.freeze({ source: 'file' });

const requests = new AsyncLocalStorage<Origin>();

/**
 * Run a request's handlers with its origin known to the store: a mutation queued from within
 * records who asked for it, without every route passing it along.
 */
export function withRequestOrigin<T>(origin: Origin, fn: () => T): T {
  return requests.run(origin, fn);
}

/** The origin of the request being handled, if any. */
export function requestOrigin(): Origin | undefined {
  return requests.getStore();
}

/**
 * Run `fn` outside any request's origin: the store's commit loop is started by one request but
 * serves many, and what it starts by itself (key hashing, a pushed hand edit) is not that request's.
 */
export function outsideRequests<T>(fn: () => T): T {
  return requests.exit(fn);
}
