// Reading plain JSON data: the frozen config snapshot and parsed request bodies.
import type { ProxyConfig } from './types';

/** A JSON object: not `null`, not an array. */
export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value at `path` in the config, `undefined` when any part is absent. */
export function valueAt(config: ProxyConfig, path: readonly string[]): unknown {
  let node: unknown = config;
  for (const k of path) {
    if (!node || typeof node !== 'object' || Array.isArray(node) || !Object.prototype.hasOwnProperty.call(node, k)) return undefined;
    node = (node as Record<string, unknown>)[k];
  }
  return node;
}
