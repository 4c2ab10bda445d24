// Reading plain JSON data (the config snapshot, parsed request bodies): the one key-path walk and
// the one list of names that would reach an object's prototype.

/** A JSON object: not `null`, not an array. */
export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The value at `path` in `node`, `undefined` when any part is absent: a string part names an own
 * member of an object, a number part an item of an array (never a member inherited from a
 * prototype, never an array's `length`).
 */
export function valueAt(node: unknown, path: readonly (string | number)[]): unknown {
  for (const k of path) {
    if (
      Array.isArray(node)
        ? typeof k !== 'number' || k >= node.length
        : !isPlainObject(node) || !Object.prototype.hasOwnProperty.call(node, k)
    )
      return undefined;
    node = (node as Record<string | number, unknown>)[k];
  }
  return node;
}

/** Names refused wherever a client names a key (a body member, a row's key path, a JSON field path): they would reach a prototype. */
export const PROTOTYPE_NAMES: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
]);
