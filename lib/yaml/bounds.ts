import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  type Document,
  type Node,
} from 'yaml';

/**
 * Bounds on an uploaded config, checked before and right after the parse. The YAML parser
 * recurses and slows down with nesting (512 KiB of `[` took seconds and could exhaust memory),
 * and aliases can make a small text stand for a huge value; JSON request bodies have the same
 * limits (nesting depth 64, the body limit).
 */
export const MAX_YAML_DEPTH = 64;

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const HASH = 0x23;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;
const DASH = 0x2d;
const QUESTION = 0x3f;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN = new Set([0x5b, 0x7b]); // [ {
const CLOSE = new Set([0x5d, 0x7d]); // ] }

const isBlank = (c: number | undefined): boolean =>
  c === undefined || c === SPACE || c === TAB || c === LF || c === CR;

/**
 * The nesting depth of a YAML text, estimated in one pass over its characters without parsing:
 * block levels (indentation, `- ` and `? ` entries on one line) plus flow levels (`[`, `{`),
 * quoted scalars, comments and block scalars (`|`, `>`) skipped. Stops as soon as it passes
 * `max`; returns the depth seen (at most `max + 1`).
 */
export function yamlDepth(text: string, max = MAX_YAML_DEPTH): number {
  const n = text.length;
  const indents: number[] = []; // the column of each open block level
  let flow = 0;
  let deepest = 0;
  let blockScalarParent = -1; // lines indented deeper than this are a block scalar's text
  let i = 0;
  while (i < n) {
    const lineStart = i;
    let col = 0;
    while (i < n && text.charCodeAt(i) === SPACE) {
      col++;
      i++;
    }
    const first = text.charCodeAt(i);
    if (
      i >= n ||
      first === LF ||
      first === CR ||
      first === HASH ||
      (blockScalarParent >= 0 && col > blockScalarParent)
    ) {
      const e = text.indexOf('\n', i);
      i = e < 0 ? n : e + 1;
      continue;
    }
    blockScalarParent = -1;
    if (flow === 0) {
      while (indents.length > 0 && (indents.at(-1) as number) >= col) indents.pop();
      indents.push(col);
      // `- - - x` and `? x` open a level each on the same line.
      for (;;) {
        const c = text.charCodeAt(i);
        const next = text.charCodeAt(i + 1);
        if (!((c === DASH || c === QUESTION) && (next === SPACE || next === TAB))) break;
        i++;
        while (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB) i++;
        indents.push(i - lineStart);
        if (indents.length > max) return max + 1;
      }
    }
    // The rest of the (logical) line: quoted scalars may run over several physical lines.
    let prev = SPACE;
    let valueStart = true; // where a quoted scalar may start in block context (line start, after `: `)
    let contentEnd = i;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === LF) break;
      if (c === HASH && isBlank(prev)) {
        const e = text.indexOf('\n', i);
        i = e < 0 ? n : e;
        break;
      }
      const quoteMayStart =
        flow > 0 ? isBlank(prev) || OPEN.has(prev) || prev === COMMA || prev === COLON : valueStart;
      if ((c === DQUOTE || c === SQUOTE) && quoteMayStart) {
        i++;
        while (i < n) {
          const d = text.charCodeAt(i);
          if (c === DQUOTE && d === BACKSLASH) i += 2;
          else if (d === c && c === SQUOTE && text.charCodeAt(i + 1) === SQUOTE) i += 2;
          else if (d === c) break;
          else i++;
        }
        i++;
        prev = c;
        valueStart = false;
        contentEnd = i;
        continue;
      }
      // In block context a bracket opens a flow collection only where a value starts (`key: [`,
      // `- [`); inside one, every bracket outside quotes does (plain scalars cannot hold them).
      if (OPEN.has(c) && (flow > 0 || valueStart)) {
        flow++;
        deepest = Math.max(deepest, indents.length + flow);
        if (deepest > max) return max + 1;
      } else if (CLOSE.has(c) && flow > 0) flow--;
      if (!isBlank(c)) {
        contentEnd = i + 1;
        valueStart = c === COLON && isBlank(text.charCodeAt(i + 1));
      }
      prev = c;
      i++;
    }
    // A block scalar header (`key: |`, `- >-`) ends its line: the lines below it are text.
    if (
      flow === 0 &&
      /(?:^|[ \t])[|>][1-9+-]{0,2}$/.test(
        text.slice(Math.max(lineStart, contentEnd - 4), contentEnd),
      )
    )
      blockScalarParent = col;
    deepest = Math.max(deepest, indents.length + flow);
    if (deepest > max) return max + 1;
    i++;
  }
  return deepest;
}

/**
 * The size of a document's value once its aliases are expanded: the number of characters of
 * its scalars' source text plus one per collection entry (a measure of what `GET /config` would
 * send), and the depth of that value. Linear in the number of nodes (each anchored node is
 * measured once), so the value is never built to be measured.
 */
export function expandedSize(doc: Document): { size: number; depth: number } {
  const memo = new Map<Node, { size: number; depth: number }>();
  const active = new Set<Node>();
  const measure = (node: unknown): { size: number; depth: number } => {
    if (node === null || node === undefined) return { size: 1, depth: 0 };
    if (isAlias(node)) return measure(node.resolve(doc));
    if (isScalar(node))
      return {
        size:
          typeof node.source === 'string' ? node.source.length + 1 : String(node.value).length + 1,
        depth: 0,
      };
    if (!isMap(node) && !isSeq(node)) return { size: 1, depth: 0 };
    const known = memo.get(node);
    if (known) return known;
    if (active.has(node)) return { size: 1, depth: 0 }; // a recursive alias: toJS refuses it anyway
    active.add(node);
    let size = 2;
    let depth = 0;
    for (const item of node.items as unknown[]) {
      const parts = isPair(item) ? [item.key, item.value] : [item];
      for (const part of parts) {
        const m = measure(part);
        size += m.size + 1;
        depth = Math.max(depth, m.depth);
      }
    }
    active.delete(node);
    const out = { size, depth: depth + 1 };
    memo.set(node, out);
    return out;
  };
  return measure(doc.contents);
}

/** Why an upload is refused by the bounds: `400` (too deep) or `413` (too large once expanded). */
export interface BoundsRefusal {
  readonly status: 400 | 413;
  readonly message: string;
}

/**
 * The bounds of an uploaded config text: its nesting before any parse (the parser slows down
 * with depth), then, once parsed, its depth and size with aliases expanded, before any value is
 * built (a small text can stand for a huge value). `limit` is the body limit in bytes. A text
 * that is not YAML passes (the parse that follows gives the reason).
 */
export function uploadBounds(text: string, limit: number): BoundsRefusal | undefined {
  if (yamlDepth(text) > MAX_YAML_DEPTH)
    return { status: 400, message: `nested deeper than ${MAX_YAML_DEPTH} levels` };
  const doc = parseDocument(text, {
    keepSourceTokens: false,
    uniqueKeys: false,
    merge: true,
    logLevel: 'silent',
  });
  if (doc.errors.length > 0) return undefined;
  const expanded = expandedSize(doc);
  if (expanded.depth > MAX_YAML_DEPTH)
    return {
      status: 400,
      message: `nested deeper than ${MAX_YAML_DEPTH} levels once its aliases are expanded`,
    };
  if (expanded.size > limit)
    return {
      status: 413,
      message: `the config is larger than the body limit (${limit} bytes) once its aliases are expanded`,
    };
  return undefined;
}

/** A size option in bytes: a number, or a string such as `"1mb"` (as Express reads it; 1024-based). */
export function byteCount(limit: number | string): number {
  if (typeof limit === 'number') return limit;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|pb)?\s*$/i.exec(limit);
  if (!m) return 1024 * 1024;
  const unit = ['b', 'kb', 'mb', 'gb', 'tb', 'pb'].indexOf((m[2] ?? 'b').toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** unit);
}
