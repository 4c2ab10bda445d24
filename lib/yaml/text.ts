import { diff3Merge, diffComm, diffPatch, type IndexHunk, type PatchHunk } from './diff3';
import { isMap, parseDocument, type Document, type YAMLError } from 'yaml';

/** Options for every stringify: no line folding, so long keys and URLs stay on one line. */
export const STRINGIFY: Parameters<Document['toString']>[0] = { lineWidth: 0, minContentWidth: 0 };

export interface ParsedText {
  readonly doc: Document.Parsed;
  /** The document stringified by `yaml`; equal to the text when the file has its canonical layout. */
  readonly canonical: string;
}

/** The reason a text is not a usable config, without any excerpt of the file (it may hold secrets). */
export function parseConfigText(text: string): ParsedText | { error: string } {
  // logLevel 'error': `yaml` would otherwise print warnings quoting the file (a collection used
  // as a map key is quoted in full, and it may hold the key) through process.emitWarning.
  const doc = parseDocument(text, {
    keepSourceTokens: false,
    prettyErrors: true,
    uniqueKeys: true,
    merge: true,
    logLevel: 'error',
  });
  const first = doc.errors[0];
  if (first) return { error: describeYamlError(first.code, first.linePos?.[0]) };
  if (doc.contents !== null && !isMap(doc.contents))
    return { error: 'config is not a YAML mapping' };
  try {
    // Both throw for an alias without its anchor, and toJS for alias bombs; their messages quote
    // the file (the alias name may be a secret), so only a fixed reason goes out.
    doc.toJS();
    return { doc, canonical: doc.toString(STRINGIFY) };
  } catch (err) {
    if (err instanceof RangeError) return { error: 'config is nested too deeply to be read' };
    return {
      error: 'config cannot be read as data (an alias without its anchor, or too many aliases)',
    };
  }
}

/**
 * A fixed description per `yaml` error code. The library's own messages quote the file (an
 * unexpected token, a tag, a bad escape, a block scalar header), and the quoted text may be the
 * management key on a half-edited line; so the reason is built from the code and position only.
 */
const YAML_ERRORS: Readonly<Record<YAMLError['code'], string>> = {
  ALIAS_PROPS: 'An alias cannot have an anchor or a tag',
  BAD_ALIAS: 'Invalid alias',
  BAD_DIRECTIVE: 'Invalid directive',
  BAD_DQ_ESCAPE: 'Invalid escape sequence in a double-quoted string',
  BAD_INDENT: 'Bad indentation',
  BAD_PROP_ORDER: 'Anchors and tags must come after the indicator',
  BAD_SCALAR_START: 'A plain value starts with a reserved character',
  BLOCK_AS_IMPLICIT_KEY: 'A block collection cannot be an implicit key',
  BLOCK_IN_FLOW: 'A block collection cannot be inside a flow collection',
  DUPLICATE_KEY: 'Map keys must be unique',
  IMPOSSIBLE: 'Invalid YAML',
  KEY_OVER_1024_CHARS: 'An implicit key is longer than 1024 characters',
  MISSING_CHAR: 'A character is missing (a closing quote or bracket, a comma or a space)',
  MULTILINE_IMPLICIT_KEY: 'An implicit key cannot span several lines',
  MULTIPLE_ANCHORS: 'A node has several anchors',
  MULTIPLE_DOCS: 'The file holds several YAML documents',
  MULTIPLE_TAGS: 'A node has several tags',
  NON_STRING_KEY: 'A key is not a string',
  RESOURCE_EXHAUSTION: 'Too many aliases',
  TAB_AS_INDENT: 'Tabs are not allowed as indentation',
  TAG_RESOLVE_FAILED: 'Unresolved tag',
  UNEXPECTED_TOKEN: 'Unexpected token',
  BAD_COLLECTION_TYPE: 'A tag does not fit its collection type',
};

export function describeYamlError(
  code: YAMLError['code'],
  pos?: { line: number; col: number },
): string {
  const what = YAML_ERRORS[code] ?? 'Invalid YAML';
  return pos ? `${what} at line ${pos.line}, column ${pos.col}` : what;
}

const indentOf = (line: string): number => line.length - line.trimStart().length;

function reindent(line: string, delta: number): string {
  if (delta > 0) return ' '.repeat(delta) + line;
  if (delta < 0) return line.slice(Math.min(-delta, indentOf(line)));
  return line;
}

/**
 * diff3 reports hunks that merely touch (the change on one line, a layout difference on the
 * next, e.g. a comment after `key:` that the stringifier moves to its own line) as one conflict.
 * When the user's hunks and the change's hunks cover disjoint lines of the base, both apply:
 * the user's lines stay as written and the changed lines take the change. Returns `undefined`
 * when they overlap, or when an inserted line follows a line whose user layout cannot be mapped
 * line by line (the caller's coarser rules apply then).
 */
function disjointMerge(a: string[], o: string[], b: string[], at?: number): string[] | undefined {
  const ours = diffPatch(o, a);
  const theirs = at === undefined ? diffPatch(o, b) : [oneLineHunk(o, b, at)];
  for (const x of ours) {
    const xs = x.buffer1.offset;
    const xe = xs + x.buffer1.length;
    for (const y of theirs) {
      const ys = y.buffer1.offset;
      const ye = ys + y.buffer1.length;
      if ((xs < ye && ys < xe) || xs === ys) return undefined;
    }
  }
  /** Indentation shift of the user's version of base line `i` (0 when the user left it alone). */
  const shiftAt = (i: number): number | undefined => {
    const hunk = ours.find((x) => i >= x.buffer1.offset && i < x.buffer1.offset + x.buffer1.length);
    if (!hunk) return 0;
    if (hunk.buffer1.length !== hunk.buffer2.length) return undefined;
    const mine = hunk.buffer2.chunk[i - hunk.buffer1.offset] as string;
    return indentOf(mine) - indentOf(o[i] as string);
  };
  const edits: { offset: number; length: number; lines: string[] }[] = ours.map((x) => ({
    offset: x.buffer1.offset,
    length: x.buffer1.length,
    lines: x.buffer2.chunk,
  }));
  for (const y of theirs) {
    // Replaced lines were left alone by the user, so their indentation is the base's; inserted
    // lines follow the user's indentation of the line before them.
    const delta =
      y.buffer1.length === 0 && y.buffer1.offset > 0 ? shiftAt(y.buffer1.offset - 1) : 0;
    if (delta === undefined) return undefined;
    edits.push({
      offset: y.buffer1.offset,
      length: y.buffer1.length,
      lines: y.buffer2.chunk.map((l) => reindent(l, delta)),
    });
  }
  edits.sort((p, q) => p.offset - q.offset);
  const out: string[] = [];
  let i = 0;
  for (const e of edits) {
    for (let k = i; k < e.offset; k++) out.push(o[k] as string);
    for (const line of e.lines) out.push(line);
    i = e.offset + e.length;
  }
  for (let k = i; k < o.length; k++) out.push(o[k] as string);
  return out;
}

/** The hunk of `diffPatch(o, b)` when `b` is `o` with line `at` replaced, that line unique in `o` and the new one absent from it. */
function oneLineHunk(o: readonly string[], b: readonly string[], at: number): PatchHunk {
  return {
    buffer1: { offset: at, length: 1, chunk: [o[at] as string] },
    buffer2: { offset: at, length: 1, chunk: [b[at] as string] },
  };
}

/**
 * Resolve a region both sides touched. `a` is the user's text, `o` its canonical layout, `b` the
 * canonical layout with the change. Lines the change left alone keep the user's layout; changed
 * or added lines take the change, shifted to the user's indentation of the lines they replace
 * (or follow). When the user's region has another line count than its canonical form (a comment
 * moved by the stringifier), the changed lines are taken as they are.
 */
function resolveConflict(a: string[], o: string[], b: string[], at?: number): string[] {
  // When the user's lines lack the changed line, it is inside one of their hunks: the two sides
  // overlap, and disjointMerge would return undefined (without searching its LCS here).
  const merged =
    at !== undefined && !a.includes(o[at] as string) ? undefined : disjointMerge(a, o, b, at);
  if (merged) return merged;
  if (a.length !== o.length) return b;
  if (at !== undefined) {
    // What the loop below does when `b` is `o` with line `at` replaced (diffComm: common lines,
    // that one line, common lines).
    const out = a.slice();
    out[at] = reindent(b[at] as string, indentOf(a[at] as string) - indentOf(o[at] as string));
    return out;
  }
  const out: string[] = [];
  let i = 0; // index in o (and a)
  let delta = 0;
  for (const part of diffComm(o, b)) {
    if (part.common) {
      for (let k = 0; k < part.common.length; k++) {
        delta = indentOf(a[i] as string) - indentOf(o[i] as string);
        out.push(a[i] as string);
        i++;
      }
      continue;
    }
    const removed = part.buffer1 ?? [];
    if (removed.length > 0) delta = indentOf(a[i] as string) - indentOf(o[i] as string);
    for (const line of part.buffer2 ?? []) out.push(reindent(line, delta));
    i += removed.length;
  }
  return out;
}

/**
 * The text of `mutated`, laid out like `original` everywhere the mutation did not reach.
 *
 * `yaml` keeps comments, blank lines, key order and quoting, but it re-indents, collapses extra
 * spaces and so on, so stringifying the whole document would touch lines the user never asked
 * to change. A three-way merge fixes that: `canonical` (the text as read, re-stringified) is the base,
 * the text as read is one side (its differences from the base are pure layout), the mutated
 * document is the other side (its differences are the change). Where both touched a region, the
 * change wins for the lines it changed. Returns candidates, best first; the caller keeps the
 * first that parses to the intended config.
 */
export function renderEdit(original: string, canonical: string, mutated: Document): string[] {
  const theirs = mutated.toString(STRINGIFY);
  if (original === canonical) return [theirs];
  const eol = original.includes('\r\n') ? '\r\n' : '\n';
  const [fine, coarse] = mergeLines(
    original.split(/\r?\n/),
    canonical.split('\n'),
    theirs.split('\n'),
  );
  return [fine.join(eol), coarse.join(eol), theirs];
}

/**
 * The line merge of {@link renderEdit}: `ours` (the user's lines), `base` (their canonical
 * layout), `next` (the canonical layout with the change). Returns the fine and the coarse
 * candidate as lines. `oneLine`: the caller knows that `next` is `base` with that one line
 * replaced, the old line unique in `base` and the new one absent from it; then the hunks of
 * `base` to `next` are known and are not searched for (same results, without the LCS).
 * `hunksOA` may pass `diffIndices(base, ours)` when the caller has it.
 */
export function mergeLines(
  ours: readonly string[],
  base: readonly string[],
  next: readonly string[],
  oneLine?: number,
  hunksOA?: readonly IndexHunk[],
): [string[], string[]] {
  const hunksOB: IndexHunk[] | undefined =
    oneLine === undefined ? undefined : [{ buffer1: [oneLine, 1], buffer2: [oneLine, 1] }];
  const fine: string[] = [];
  const coarse: string[] = [];
  // Loops, not push(...lines): a spread of a long region would overflow the stack.
  const append = (to: string[], lines: readonly string[]): void => {
    for (const line of lines) to.push(line);
  };
  for (const region of diff3Merge(ours, base, next, {
    excludeFalseConflicts: true,
    hunksOB,
    hunksOA,
  })) {
    if (region.ok) {
      append(fine, region.ok);
      append(coarse, region.ok);
    } else if (region.conflict) {
      const { a, o, b, oIndex } = region.conflict;
      const at =
        oneLine !== undefined &&
        oneLine >= oIndex &&
        oneLine < oIndex + o.length &&
        b.length === o.length
          ? oneLine - oIndex
          : undefined;
      append(fine, resolveConflict(a, o, b, at));
      append(coarse, b);
    }
  }
  return [fine, coarse];
}
