/**
 * The fast path of a commit: an edit that changed one scalar value is written by replacing that
 * one line, instead of cloning, stringifying, merging and re-parsing the whole file.
 *
 * Every step computes what the full path ({@link applyGroup}'s `render`) would, only locally,
 * and gives up (the full path runs) whenever it cannot show that:
 * - the canonical text of the edited document is the base's canonical text with one line
 *   replaced (the scalar's line, found by its own rendering, which must be unique);
 * - the three-way merge is the same `mergeLines` on the same lines (the hunk of that one line is
 *   the only longest-common-subsequence answer when the old line is unique and the new one new);
 * - the merged text differs from the file in that one line, and that line, parsed on its own,
 *   holds the same structure with only this scalar changed from the old value to the new one, so
 *   parsing the whole new text gives exactly the intended values.
 * The edited document stays the next base (its source ranges moved), and the frozen snapshot is
 * patched along the path of the change. `__tests__/fast-edit.test.ts` checks, with random
 * documents and edits, that the bytes, the next base and the snapshot equal the full path's.
 */
import {
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  isSeq,
  Pair,
  parseDocument,
  Scalar,
  YAMLMap,
  YAMLSeq,
  type Document,
  type Node,
} from 'yaml';
import type { ProxyConfig } from '../types';
import { diffIndices, type IndexHunk } from './diff3';
import { mergeLines, STRINGIFY } from './text';
import type { Change } from './shadow';

export { Shadow, type Change } from './shadow';

/** What the fast path produces: the next text, its canonical form, and the patched snapshot. */
export interface FastResult {
  readonly text: string;
  readonly canonical: string;
  readonly snapshot: ProxyConfig;
  /** Apply to the document what makes it the parse of `text` (types and ranges). */
  readonly settle: () => void;
}

const PARSE = { keepSourceTokens: false, uniqueKeys: true } as const;
const singleLine = (s: Scalar): boolean =>
  (s.type === undefined ||
    s.type === Scalar.PLAIN ||
    s.type === Scalar.QUOTE_DOUBLE ||
    s.type === Scalar.QUOTE_SINGLE) &&
  !s.anchor &&
  !s.tag &&
  (s.value === null ||
    typeof s.value === 'boolean' ||
    typeof s.value === 'number' ||
    (typeof s.value === 'string' && !/[\n\r]/.test(s.value)));

/**
 * Lines of the last few texts (the same string objects come back commit after commit). Found by
 * `===`, which is one pointer comparison for the same object; a `Map` would hash the whole text.
 */
const linesOf: { text: string; lines: string[] }[] = [];
function lines(text: string): string[] {
  for (const e of linesOf) if (e.text === text) return e.lines;
  const l = text.split('\n');
  rememberLines(text, l);
  return l;
}

/** Remember `l` as the lines of `text` (the fast path builds them along with the text). */
function rememberLines(text: string, l: string[]): void {
  if (linesOf.length >= 4) linesOf.shift();
  linesOf.push({ text, lines: l });
}

/**
 * Where line `k` of the canonical lines lands in the merge with the user's lines, when an edit
 * replaced it alone: `mergeLines(A, O, B, k, hunks)` (`B` = `O` with line `k` replaced) is `A`
 * with one line replaced when no hunk of `O -> A` touches line `k` (diff3 then gives line `k`
 * a region of its own, holding `B`'s line, and takes every other line from `A`); the index of
 * that line in `A`, or -1 when a hunk touches it (the caller runs the merge).
 */
function landing(hunks: readonly IndexHunk[], k: number): number {
  let shift = 0;
  for (const h of hunks) {
    const [oStart, oLength] = h.buffer1;
    if (oStart > k + 1) break;
    if (oStart + oLength >= k) return -1; // same diff3 region as line k
    shift += h.buffer2[1] - oLength;
  }
  return k + shift;
}

/**
 * The canonical line of the collection item or pair holding `node` (what the document's
 * stringify prints for it, without the indentation), or `undefined` when it is not one line.
 */
function itemLine(
  doc: Document,
  parent: object,
  pairOrSeq: object,
  node: Scalar,
): string | undefined {
  // The document's own options, schema and directives, with other contents and no comments.
  const mini = Object.create(
    Object.getPrototypeOf(doc) as object,
    Object.getOwnPropertyDescriptors(doc),
  ) as Document;
  mini.commentBefore = null;
  mini.comment = null;
  if (isSeq(parent)) {
    const seq = new YAMLSeq();
    seq.items = [node];
    mini.contents = seq;
  } else if (isMap(parent) && isPair(pairOrSeq)) {
    const map = new YAMLMap();
    const key = pairOrSeq.key;
    if (
      !isScalar(key) ||
      typeof key.value !== 'string' ||
      key.value.length > 1000 ||
      !singleLine(key) ||
      key.comment
    )
      return undefined;
    map.items = [new Pair(key, node)];
    mini.contents = map;
  } else {
    return undefined;
  }
  const out = mini.toString(STRINGIFY);
  if (!out.endsWith('\n')) return undefined;
  const all = out.split('\n');
  const line = all[all.length - 2];
  if (
    line === undefined ||
    line === '' ||
    line.startsWith('#') ||
    line.startsWith(' ') ||
    line === '...'
  )
    return undefined;
  return line;
}

/** The one index of a line of `lines` that is `indent spaces + tail`, or -1 (none, or several). */
function uniqueLine(all: readonly string[], tail: string): number {
  let found = -1;
  for (let i = 0; i < all.length; i++) {
    const l = all[i] as string;
    if (l.length < tail.length || !l.endsWith(tail)) continue;
    const pad = l.length - tail.length;
    let spaces = true;
    for (let c = 0; c < pad; c++) if (l.charCodeAt(c) !== 32) spaces = false;
    if (!spaces) continue;
    if (found >= 0) return -1;
    found = i;
  }
  return found;
}

/**
 * `diffIndices(O, A)` of the last fast commit's canonical and user lines, carried over from the
 * commit before when the new lines match exactly the same lines as the old ones did (see
 * {@link carryHunks}); `undefined` when unknown.
 */
let hunkCache:
  { O: readonly string[]; A: readonly string[]; hunks: readonly IndexHunk[] } | undefined;

function knownHunks(O: readonly string[], A: readonly string[]): readonly IndexHunk[] {
  if (hunkCache && hunkCache.O === O && hunkCache.A === A) return hunkCache.hunks;
  const hunks = diffIndices(O, A);
  hunkCache = { O, A, hunks };
  return hunks;
}

/** The indexes of `all` holding `line`. */
function where(all: readonly string[], line: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < all.length; i++) if (all[i] === line) out.push(i);
  return out;
}

const sameIndexes = (x: readonly number[], y: readonly number[]): boolean =>
  x.length === y.length && x.every((v, i) => v === y[i]);

/**
 * The LCS search of `diffIndices` depends only on the lengths and on which pairs of lines are
 * equal. When `O2` is `O` with line `k` replaced and `A2` is `A` with line `j` replaced, and
 * the new lines equal exactly the lines the old ones equalled, the pairs are the same, and so
 * are the hunks: they are kept for (`O2`, `A2`).
 */
function carryHunks(
  O: readonly string[],
  A: readonly string[],
  O2: readonly string[],
  A2: readonly string[],
  k: number,
  j: number,
): void {
  if (
    !hunkCache ||
    hunkCache.O !== O ||
    hunkCache.A !== A ||
    O2.length !== O.length ||
    A2.length !== A.length
  )
    return;
  const same =
    sameIndexes(where(A, O[k] as string), where(A2, O2[k] as string)) &&
    sameIndexes(where(O, A[j] as string), where(O2, A2[j] as string));
  hunkCache = same ? { O: O2, A: A2, hunks: hunkCache.hunks } : undefined;
}

/** The parse of one line on its own, when it has no errors, anchors, aliases or tags. */
function parseLine(line: string): Node | undefined {
  const doc = parseDocument(line, PARSE);
  if (doc.errors.length || doc.warnings.length || !doc.contents) return undefined;
  let clean = true;
  const look = (n: unknown): void => {
    if (!clean || !n || typeof n !== 'object') return;
    if (isAlias(n)) clean = false;
    else if (isScalar(n) || isCollection(n)) {
      if (n.anchor || n.tag) clean = false;
      if (isCollection(n)) {
        if (n.flow) clean = false;
        for (const item of n.items as unknown[]) {
          if (isPair(item)) {
            look(item.key);
            look(item.value);
          } else look(item);
        }
      }
    }
  };
  look(doc.contents);
  return clean ? (doc.contents as Node) : undefined;
}

/**
 * The one scalar where `a` and `b` (parses of one line before and after) differ, when they have
 * the same structure and differ in exactly one scalar's value; else `undefined`.
 */
function oneScalarApart(a: Node, b: Node): [Scalar, Scalar] | undefined {
  let found: [Scalar, Scalar] | undefined;
  let ok = true;
  const walk = (x: unknown, y: unknown, isKey: boolean): void => {
    if (!ok) return;
    if (isScalar(x) && isScalar(y)) {
      if (Object.is(x.value, y.value) && x.type === y.type) return;
      if (isKey || found) ok = false;
      else found = [x, y];
      return;
    }
    if (isSeq(x) && isSeq(y) && x.items.length === y.items.length) {
      x.items.forEach((item, i) => walk(item, y.items[i], false));
      return;
    }
    if (isMap(x) && isMap(y) && x.items.length === y.items.length) {
      x.items.forEach((p, i) => {
        const q = y.items[i];
        if (!q) ok = false;
        else {
          walk(p.key, q.key, true);
          walk(p.value, q.value, false);
        }
      });
      return;
    }
    ok = false;
  };
  walk(a, b, false);
  return ok ? found : undefined;
}

const STRUCTURAL = /^(?:%|---|\.\.\.)/m;

/** `snapshot` with `value` at `path` (copies along the path, frozen; the rest is shared). */
function patched(
  snapshot: unknown,
  path: readonly (string | number)[],
  at: number,
  value: unknown,
  old: unknown,
): unknown {
  if (at === path.length) return Object.is(snapshot, old) ? value : NO;
  const key = path[at] as string | number;
  if (typeof key === 'number') {
    if (!Array.isArray(snapshot) || key >= snapshot.length) return NO;
    const inner = patched(snapshot[key], path, at + 1, value, old);
    if (inner === NO) return NO;
    const copy = snapshot.slice();
    copy[key] = inner;
    return Object.freeze(copy);
  }
  if (
    !snapshot ||
    typeof snapshot !== 'object' ||
    Array.isArray(snapshot) ||
    !Object.prototype.hasOwnProperty.call(snapshot, key) ||
    key === '__proto__'
  )
    return NO;
  const inner = patched((snapshot as Record<string, unknown>)[key], path, at + 1, value, old);
  if (inner === NO) return NO;
  return Object.freeze({ ...(snapshot as Record<string, unknown>), [key]: inner });
}
const NO = Symbol('no');

/** Where line `index` of `all` (lines of a text split on `\n`) starts in that text. */
function lineStartOf(all: readonly string[], index: number): number {
  let start = 0;
  for (let i = 0; i < index; i++) start += (all[i] as string).length + 1;
  return start;
}

/** Index of the line holding `offset` in `all` (lines of a text split on `\n`), and where that line starts. */
function lineAt(all: readonly string[], offset: number): [number, number] {
  let start = 0;
  for (let i = 0; i < all.length; i++) {
    const end = start + (all[i] as string).length;
    if (offset <= end) return [i, start];
    start = end + 1;
  }
  return [-1, -1];
}

/**
 * The fast path for `doc` (the base document, edited in place by the group) when `change` is its
 * only change; `undefined` when any condition of the module comment does not hold.
 */
export function fastRender(
  text: string,
  canonical: string,
  snapshot: ProxyConfig,
  doc: Document,
  change: Change,
): FastResult | undefined {
  const { node, old, path, parents } = change;
  if (text.includes('\r') || text.charCodeAt(0) === 0xfeff || STRUCTURAL.test(text))
    return undefined;
  if (
    !singleLine(node) ||
    !singleLine(old) ||
    node.commentBefore !== old.commentBefore ||
    node.spaceBefore !== old.spaceBefore
  )
    return undefined;
  if (old !== node && (node.comment || old.comment)) return undefined;
  const range = old.range;
  if (!range) return undefined;
  // Every collection on the way is a block collection without anchor or tag; keys are strings.
  for (const p of parents) {
    if (isCollection(p) && (p.flow || p.anchor || p.tag)) return undefined;
  }
  // A key that is not a string is recorded as NaN.
  if (!isMap(doc.contents) || path.some((k) => typeof k === 'number' && Number.isNaN(k)))
    return undefined;
  const parent = parents[parents.length - 1];
  if (!parent) return undefined;
  const holder = isPair(parent) ? (parents[parents.length - 2] as object | undefined) : parent;
  if (!holder) return undefined;

  // The old and the new canonical line of the item.
  let oldLine: string | undefined;
  if (old === node) {
    const now = node.value;
    node.value = change.oldValue;
    try {
      oldLine = itemLine(doc, holder, parent, node);
    } finally {
      node.value = now;
    }
  } else {
    oldLine = itemLine(doc, holder, parent, old);
  }
  const newLine = itemLine(doc, holder, parent, node);
  if (oldLine === undefined || newLine === undefined || oldLine === newLine) return undefined;

  const O = lines(canonical);
  const k = uniqueLine(O, oldLine);
  if (k < 0) return undefined;
  const pad = (O[k] as string).slice(0, (O[k] as string).length - oldLine.length);
  const b = pad + newLine;
  const B = O.slice();
  B[k] = b;
  const A = lines(text);
  let fine: string[];
  if (text === canonical) {
    fine = B;
  } else if (O.includes(b)) {
    fine = mergeLines(A, O, B, undefined, knownHunks(O, A))[0];
  } else {
    const hunks = knownHunks(O, A);
    const at = landing(hunks, k);
    if (at >= 0 && at < A.length) {
      fine = A.slice();
      fine[at] = b;
    } else {
      fine = mergeLines(A, O, B, k, hunks)[0];
    }
  }

  // The merged text must differ from the file in the node's line only.
  const [j, lineStart] = lineAt(A, range[0]);
  if (j < 0 || fine.length !== A.length) return undefined;
  const lineA = A[j] as string;
  if (range[1] > lineStart + lineA.length) return undefined;
  for (let i = 0; i < A.length; i++) if (i !== j && fine[i] !== A[i]) return undefined;
  const lineF = fine[j] as string;
  if (lineF === lineA) return undefined;
  const indent = lineA.length - lineA.trimStart().length;
  if (lineF.slice(0, indent) !== lineA.slice(0, indent) || lineF.charCodeAt(indent) === 32)
    return undefined;
  const before = parseLine(lineA.slice(indent));
  const after = parseLine(lineF.slice(indent));
  if (!before || !after) return undefined;
  const apart = oneScalarApart(before, after);
  if (!apart) return undefined;
  const [was, now] = apart;
  if (!was.range || !now.range || lineStart + indent + was.range[0] !== range[0]) return undefined;
  // An empty value (`key:`, `- `) lets the parser attach what follows differently.
  if (was.range[1] <= was.range[0] || now.range[1] <= now.range[0]) return undefined;
  if (!Object.is(was.value, change.oldValue) || !Object.is(now.value, node.value)) return undefined;
  if (
    now.type !== Scalar.PLAIN &&
    now.type !== Scalar.QUOTE_DOUBLE &&
    now.type !== Scalar.QUOTE_SINGLE
  )
    return undefined;

  const next = patched(snapshot, path, 0, node.value, change.oldValue);
  if (next === NO) return undefined;
  // The texts of those lines, spliced rather than joined (a join copies the whole file twice per commit).
  const nextText = text.slice(0, lineStart) + lineF + text.slice(lineStart + lineA.length);
  let nextCanonical = nextText;
  if (text !== canonical) {
    const startK = lineStartOf(O, k);
    nextCanonical =
      canonical.slice(0, startK) + b + canonical.slice(startK + (O[k] as string).length);
  }
  rememberLines(nextText, fine);
  if (nextCanonical !== nextText) {
    rememberLines(nextCanonical, B);
    carryHunks(O, A, B, fine, k, j);
  }

  const oldEnd = lineStart + lineA.length; // offsets from here on move by `shift`
  const shift = lineF.length - lineA.length;
  const base = lineStart + indent;
  return {
    text: nextText,
    canonical: nextCanonical,
    snapshot: next as ProxyConfig,
    settle: () => {
      // The node as the parse of the new line made it (type, source, number format), at its new place.
      for (const k of Object.keys(node)) {
        if (
          k !== 'value' &&
          k !== 'range' &&
          k !== 'comment' &&
          k !== 'commentBefore' &&
          k !== 'spaceBefore' &&
          !Object.prototype.hasOwnProperty.call(now, k)
        )
          delete (node as unknown as Record<string, unknown>)[k];
      }
      for (const [k, v] of Object.entries(now)) {
        if (k !== 'range' && k !== 'comment' && k !== 'commentBefore' && k !== 'spaceBefore')
          (node as unknown as Record<string, unknown>)[k] = v;
      }
      const r = now.range as [number, number, number];
      node.range = [base + r[0], base + r[1], base + r[2]];
      moveRanges(doc, node, oldEnd, shift);
    },
  };
}

/** Shift every source offset at or after `from` by `by` (new arrays: the shadow can put the old ones back). */
function moveRanges(doc: Document, skip: object, from: number, by: number): void {
  if (by === 0) return;
  const move = (n: unknown): void => {
    if (!n || typeof n !== 'object') return;
    if (n !== skip && (isScalar(n) || isCollection(n) || isAlias(n))) {
      const r = n.range;
      if (r && r[2] >= from)
        n.range = [r[0] >= from ? r[0] + by : r[0], r[1] >= from ? r[1] + by : r[1], r[2] + by];
    }
    if (isCollection(n)) {
      for (const item of n.items as unknown[]) {
        if (isPair(item)) {
          move(item.key);
          move(item.value);
        } else move(item);
      }
    }
  };
  move(doc.contents);
  const r = doc.range;
  if (r && r[2] >= from)
    doc.range = [r[0] >= from ? r[0] + by : r[0], r[1] >= from ? r[1] + by : r[1], r[2] + by];
}
