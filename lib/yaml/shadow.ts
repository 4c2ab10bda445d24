// What a group of mutations run in place did to a document: the record that undoes them and
// tells which one scalar they changed, if only one (the fast path's entry condition).
import { isCollection, isPair, isScalar, Scalar, type Document } from 'yaml';

/**
 * The own properties of every node and pair of a document, taken before mutations run on it in
 * place: enough to tell what they changed ({@link Shadow.diff}) and to undo it ({@link Shadow.restore}).
 */
export class Shadow {
  /**
   * Per node or pair: a copy of its own enumerable properties (`Object.assign` into a plain
   * object: about 8x faster on a 10,000-item document than recording them one by one).
   */
  private readonly copies: Record<string, unknown>[] = [];
  private readonly nodes: object[] = [];
  /** Copies of the item lists of collections, by node index. */
  private readonly items = new Map<number, unknown[]>();

  constructor(private readonly doc: Document) {
    this.take(doc);
    this.visit(doc.contents);
  }

  private take(o: object): void {
    if (isCollection(o)) this.items.set(this.nodes.length, o.items.slice());
    this.nodes.push(o);
    this.copies.push(Object.assign({}, o) as Record<string, unknown>);
  }

  private visit(n: unknown): void {
    if (!n || typeof n !== 'object') return;
    this.take(n);
    if (!isCollection(n)) return;
    for (const item of n.items as unknown[]) {
      if (isPair(item)) {
        this.take(item);
        this.visit(item.key);
        this.visit(item.value);
      } else {
        this.visit(item);
      }
    }
  }

  /** Put every property (and every item list's content) back as it was when this was taken. */
  restore(): void {
    for (let i = 0; i < this.nodes.length; i++) {
      const o = this.nodes[i] as Record<string, unknown>;
      const copy = this.copies[i] as Record<string, unknown>;
      for (const k in o) if (!Object.prototype.hasOwnProperty.call(copy, k)) delete o[k];
      Object.assign(o, copy);
      const items = this.items.get(i);
      if (items) {
        const now = (o as unknown as { items: unknown[] }).items;
        now.length = 0;
        for (const item of items) now.push(item);
      }
    }
  }

  /** The value property `key` of record `i` had, or `undefined`. */
  private recorded(i: number, key: string): unknown {
    return (this.copies[i] as Record<string, unknown>)[key];
  }

  /**
   * What the mutations changed: `null` for nothing, a {@link Change} when exactly one scalar of a
   * block collection changed (its value in place, or the node replaced by a new scalar), else
   * `'other'`.
   */
  diff(): Change | null | 'other' {
    let i = 0;
    let change: Change | null = null;
    const path: (string | number)[] = [];
    const parents: object[] = [];
    const nodes = this.nodes;
    /** Compare the own properties of `o` with record `i`: 'same', 'value' (only `value` differs) or 'other'. */
    const compare = (o: object): 'same' | 'value' | 'other' => {
      const copy = this.copies[i] as Record<string, unknown>;
      let result: 'same' | 'value' = 'same';
      let j = 0;
      for (const k in o) {
        if (!Object.prototype.hasOwnProperty.call(copy, k)) return 'other';
        if ((o as Record<string, unknown>)[k] !== copy[k]) {
          if (k !== 'value') return 'other';
          result = 'value';
        }
        j++;
      }
      if (j !== Object.keys(copy).length) return 'other'; // one was deleted
      const items = this.items.get(i);
      if (items && (o as unknown as { items: unknown[] }).items.length !== items.length)
        return 'other';
      return result;
    };
    const walk = (n: unknown): boolean => {
      if (!n || typeof n !== 'object') return false;
      const expected = nodes[i];
      if (n !== expected) {
        // A new scalar in place of an old one (the old one is a leaf: the walk stays in step).
        if (change || !isScalar(n) || !isScalar(expected) || nodes.includes(n)) return false;
        change = {
          node: n,
          old: expected,
          oldValue: expected.value,
          path: [...path],
          parents: [...parents],
        };
        i++;
        return true;
      }
      const how = compare(n);
      i++;
      if (how === 'other') return false;
      if (how === 'value') {
        if (change || !isScalar(n)) return false;
        change = {
          node: n,
          old: n,
          oldValue: this.recorded(i - 1, 'value'),
          path: [...path],
          parents: [...parents],
        };
        return true;
      }
      if (!isCollection(n)) return true;
      parents.push(n);
      const items = n.items as unknown[];
      for (let k = 0; k < items.length; k++) {
        const item = items[k];
        if (isPair(item)) {
          if (item !== nodes[i]) return false;
          // A pair whose value is another node ('value'): the walk into the value tells whether that is allowed.
          if (compare(item) === 'other') return false;
          i++;
          if (!walk(item.key)) return false;
          const key = isScalar(item.key) ? item.key.value : undefined;
          path.push(typeof key === 'string' ? key : Number.NaN);
          parents.push(item);
          const ok = walk(item.value);
          parents.pop();
          path.pop();
          if (!ok) return false;
        } else {
          path.push(k);
          const ok = walk(item);
          path.pop();
          if (!ok) return false;
        }
      }
      parents.pop();
      return true;
    };
    if (this.doc !== nodes[0] || compare(this.doc) !== 'same') return 'other';
    i = 1;
    const contents = this.doc.contents;
    if (contents === null || contents === undefined) return nodes.length === 1 ? null : 'other';
    if (!walk(contents)) return 'other';
    if (i !== nodes.length) return 'other';
    return change;
  }
}

/** One changed scalar: the node now at `path` (in the document), and what was there before. */
export interface Change {
  readonly node: Scalar;
  /** The node that was there: `node` itself when only its value changed. */
  readonly old: Scalar;
  readonly oldValue: unknown;
  /** Keys and indexes from the document's contents down to the node. */
  readonly path: readonly (string | number)[];
  /** The collections and pairs from the contents down to the node's parent (innermost last). */
  readonly parents: readonly object[];
}
