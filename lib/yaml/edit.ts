// Edits of a YAML document at a key path: the mutations the builders hand to the config store.
// A document that holds something else where a mapping or a list is needed is a `409 config
// conflict` (the file's owner must resolve it); nothing is changed then.
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  YAMLMap,
  type Document,
  type Node,
  type Scalar,
  type YAMLSeq,
} from 'yaml';
import { asBoolean, asString, type LiteralOf } from '../config/typed';
import { StoreError } from '../engines/errors';

/**
 * Make sure every parent of `path` is a mapping, so `doc.setIn` can create or replace the leaf:
 * an empty parent (`quota-exceeded:` with nothing after it) becomes a mapping; a parent holding
 * something else is a conflict the file's owner must resolve.
 */
export function ensureParents(doc: Document, path: readonly string[]): void {
  for (let i = 1; i < path.length; i++) {
    const prefix = path.slice(0, i);
    const node = doc.getIn(prefix, true);
    if (node === undefined || isMap(node)) continue;
    if (isScalar(node) && (node.value === null || node.value === undefined)) {
      doc.setIn(prefix, new YAMLMap());
      continue;
    }
    throw new StoreError(
      'CONFIG_CONFLICT',
      `"${prefix.join('.')}" in the config file is not a mapping`,
    );
  }
}

/** Create or replace the value at `path` with a new node (parents made mappings first). */
export function setAt(doc: Document, path: readonly string[], value: unknown): void {
  ensureParents(doc, path);
  doc.setIn(path, doc.createNode(value));
}

/** Whether a scalar already means `value` as the Go server reads it (`yes` is `true`, `8080` is `"8080"`). */
function means(node: Scalar, value: string | number | boolean): boolean {
  if (typeof value === 'boolean') {
    const read = asBoolean(node.value);
    return read.valid && node.value !== null && read.value === value;
  }
  if (typeof value === 'string')
    return node.value !== null && asString(node.value, node.source).value === value;
  return node.value === value;
}

/**
 * Set a scalar leaf, keeping the existing node (and so its quoting and comments) when there is
 * one, and the user's spelling when it already means the value (`debug: yes` stays `yes` when
 * set to `true`).
 */
export function setScalarAt(
  doc: Document,
  path: readonly string[],
  value: string | number | boolean,
): void {
  ensureParents(doc, path);
  const node = doc.getIn(path, true);
  if (isScalar(node)) {
    if (!means(node, value)) node.value = value;
  } else doc.setIn(path, value);
}

/** The list at `path`: `undefined` when absent or empty (`key:` / `key: null`); 409 when the file holds something else. */
export function listAt(doc: Document, path: readonly string[]): YAMLSeq | undefined {
  const node: unknown = doc.getIn(path, true);
  if (node === undefined) return undefined;
  if (isSeq(node)) return node;
  if (isScalar(node) && (node.value === null || node.value === undefined)) return undefined;
  throw new StoreError('CONFIG_CONFLICT', `"${path.join('.')}" in the config file is not a list`);
}

/** The plain value of one item node (aliases resolved). */
export const itemValue = (doc: Document, item: unknown): unknown =>
  item && typeof item === 'object' && 'toJS' in item ? (item as Node).toJS(doc) : item;

/** The text as written of the scalar at a path below `item` (for `asSchemaType`), following aliases; `undefined` when unknown. */
export function nodeLiterals(doc: Document, item: unknown): LiteralOf {
  const deref = (n: unknown): unknown => (isAlias(n) ? n.resolve(doc) : n);
  return (p) => {
    let node = deref(item);
    for (const k of p) {
      if (!isMap(node) && !isSeq(node)) return undefined;
      node = deref(node.get(k, true));
    }
    return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
  };
}
