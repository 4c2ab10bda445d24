// Shared by the `string-array` and `object-array` builders: edit a list node in place, so the
// nodes (and comments, quoting, layout) of the items a request does not touch stay exactly as
// they were, and new items look like their neighbours.
import { isDeepStrictEqual } from 'node:util';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  Scalar,
  type Document,
  type Node,
  type YAMLSeq,
} from 'yaml';
import { isPlainObject } from '../plain-data';
import { itemValue, listAt, setAt } from './edit';

/** The quoting of the first quoted string scalar in `nodes` (searched depth-first), if any. */
function quoteStyle(nodes: readonly unknown[]): Scalar.Type | undefined {
  let found: Scalar.Type | undefined;
  const look = (n: unknown): void => {
    if (found) return;
    if (isScalar(n)) {
      if (
        typeof n.value === 'string' &&
        (n.type === Scalar.QUOTE_DOUBLE || n.type === Scalar.QUOTE_SINGLE)
      )
        found = n.type;
    } else if (isSeq(n)) n.items.forEach(look);
    else if (isMap(n)) n.items.forEach((pair) => look(pair.value));
  };
  nodes.forEach(look);
  return found;
}

/**
 * A new node for `value`; its strings copy the quoting of the first quoted string among
 * `siblings`, so an item added to a list of `"quoted"` keys (or of objects with quoted values)
 * is quoted the same way.
 */
export function styledNode(doc: Document, value: unknown, siblings: readonly unknown[]): unknown {
  const node = doc.createNode(value);
  const type = quoteStyle(siblings);
  if (!type) return node;
  const apply = (n: unknown): void => {
    if (isScalar(n)) {
      if (typeof n.value === 'string') n.type = type;
    } else if (isSeq(n)) n.items.forEach(apply);
    else if (isMap(n)) n.items.forEach((pair) => apply(pair.value));
  };
  apply(node);
  return node;
}

/** Append `value` to the list at `path`, creating the list when absent. */
export function appendItem(doc: Document, path: readonly string[], value: unknown): void {
  const seq = listAt(doc, path);
  if (seq) seq.items.push(styledNode(doc, value, seq.items));
  else setAt(doc, path, [value]);
}

const sameKind = (a: unknown, b: unknown): boolean =>
  a === null ? b === null : typeof a === typeof b && b !== null;

/**
 * The node to store for `value` where `node` is now: `node` itself, edited in place, when the
 * shapes agree (scalar to scalar of the same type, mapping to object, sequence to array), so
 * its comments, quoting and the layout of unchanged children survive; else a new node.
 * A node with an anchor is never edited in place (its aliases would change with it).
 */
export function reconcile(doc: Document, node: unknown, value: unknown): unknown {
  const fresh = () => doc.createNode(value);
  if (!node || typeof node !== 'object' || isAlias(node) || (node as Node).anchor) return fresh();
  if (isScalar(node)) {
    if (value !== null && typeof value === 'object') return fresh();
    if (!sameKind(node.value, value)) return fresh();
    if (node.value !== value) node.value = value;
    return node;
  }
  if (isMap(node) && isPlainObject(value)) {
    const keep = new Set(Object.keys(value));
    for (let i = node.items.length - 1; i >= 0; i--) {
      const pair = node.items[i];
      const key = isScalar(pair?.key) ? pair.key.value : pair?.key;
      if (typeof key !== 'string' || !keep.has(key)) node.items.splice(i, 1);
    }
    for (const [k, v] of Object.entries(value)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === k);
      if (pair) pair.value = reconcile(doc, pair.value, v);
      else
        node.set(
          k,
          styledNode(
            doc,
            v,
            node.items.map((p) => p.value),
          ),
        );
    }
    return node;
  }
  if (isSeq(node) && Array.isArray(value)) {
    reconcileItems(doc, node, value);
    return node;
  }
  return fresh();
}

/**
 * Make the items of `seq` equal `values`, reusing the existing item nodes that match (so their
 * comments follow them): a scalar of the same value, an item with the same `matchField` value
 * (edited in place), or an item deep-equal to the value. Unmatched values get new nodes.
 */
export function reconcileItems(
  doc: Document,
  seq: YAMLSeq,
  values: readonly unknown[],
  matchField?: string,
): void {
  const unused = new Set(seq.items.keys());
  const claim = (test: (node: unknown) => boolean): unknown => {
    for (const i of unused) {
      if (test(seq.items[i])) {
        unused.delete(i);
        return seq.items[i];
      }
    }
    return undefined;
  };
  const siblings = [...seq.items];
  seq.items = values.map((v) => {
    if (v === null || typeof v !== 'object') {
      const node = claim((n) => isScalar(n) && !n.anchor && n.value === v);
      return node ?? styledNode(doc, v, siblings);
    }
    if (matchField !== undefined && isPlainObject(v)) {
      const node = claim(
        (n) => isMap(n) && !n.anchor && itemValue(doc, n.get(matchField, true)) === v[matchField],
      );
      if (node) return reconcile(doc, node, v);
    }
    return claim((n) => isDeepStrictEqual(itemValue(doc, n), v)) ?? styledNode(doc, v, siblings);
  });
}

/**
 * The PUT of both list kinds: the list at `path` becomes `values`. The list node (flow or block
 * style) and the nodes of the items that stay are kept, with their comments; anything else at
 * the key (absent, null, a stray scalar) is replaced.
 */
export function replaceList(
  doc: Document,
  path: readonly string[],
  values: readonly unknown[],
  matchField?: string,
): void {
  const node: unknown = doc.getIn(path, true);
  if (isSeq(node)) reconcileItems(doc, node, values, matchField);
  else setAt(doc, path, values);
}
