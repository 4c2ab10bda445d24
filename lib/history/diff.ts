// The diff of one change and its revert, with `diff` (jsdiff): it computes and formats the unified
// hunks, and applies them reversed with its context search and fuzz. The store's own diff3
// (`lib/store/diff3.ts`) merges whole texts; history keeps only the changed region of each change
// (a 10,000-line config changed in one line costs a few lines of journal), so a revert has hunks
// to apply, not three whole texts to merge, and that is what jsdiff's `applyPatch` does.
import {
  applyPatch,
  formatPatch,
  parsePatch,
  structuredPatch,
  type StructuredPatch,
  type StructuredPatchHunk,
} from 'diff';
import { HIDDEN, lineHider } from './hide';

/** Lines of context around each change, as `diff -u` has. */
const CONTEXT = 3;
/** The file name both headers of a diff show. */
export const DIFF_NAME = 'config.yaml';

/** What history keeps of a change of the config text. */
export interface ChangeDiff {
  /** The unified diff's hunks (`@@ ... @@` and their lines), the key hidden; `''` when no line changed. */
  readonly hunks: string;
  readonly added: number;
  readonly removed: number;
}

/**
 * The diff of `before` -> `after`, with every line that holds the key hidden (`secrets`: the key's
 * values before and after, see `hide.ts`). Only the region between the common first and last lines
 * is compared, so the cost follows the size of the change, not of the file.
 */
export function changeDiff(before: string, after: string, secrets: readonly string[]): ChangeDiff {
  const a = lines(before);
  const b = lines(after);
  let head = 0;
  const shorter = Math.min(a.length, b.length);
  while (head < shorter && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < shorter - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  if (head === a.length && head === b.length) {
    if (before === after) return { hunks: '', added: 0, removed: 0 };
    head--; // only the final line break differs: the last line is the change
    tail = 0;
  }
  const from = Math.max(0, head - CONTEXT);
  const keep = Math.max(0, tail - CONTEXT);
  const slice = (text: string, all: string[]): string => {
    const end = all.length - keep;
    const part = all.slice(from, end).join('\n');
    return end < all.length || text.endsWith('\n') ? `${part}\n` : part;
  };
  const patch = structuredPatch(
    DIFF_NAME,
    DIFF_NAME,
    slice(before, a),
    slice(after, b),
    undefined,
    undefined,
    { context: CONTEXT },
  );
  const hide = lineHider(secrets);
  let added = 0;
  let removed = 0;
  for (const hunk of patch.hunks) {
    hunk.oldStart += from;
    hunk.newStart += from;
    hunk.lines = hunk.lines.map((line) => {
      if (line[0] === '+') added++;
      else if (line[0] === '-') removed++;
      return line[0] + hide(line.slice(1));
    });
  }
  return { hunks: hunksText(patch.hunks), added, removed };
}

/** The lines of a text; a final line break ends the last line (it is not an empty line more). */
function lines(text: string): string[] {
  const all = text.split('\n');
  if (all.length > 1 && all[all.length - 1] === '') all.pop();
  return all;
}

function hunksText(hunks: StructuredPatchHunk[]): string {
  if (hunks.length === 0) return '';
  const text = formatPatch({
    oldFileName: DIFF_NAME,
    newFileName: DIFF_NAME,
    oldHeader: undefined,
    newHeader: undefined,
    hunks,
  });
  return text.slice(text.indexOf('@@'));
}

/** The whole unified diff of a change: the two headers and its hunks. */
export function unifiedDiff(hunks: string): string {
  return `--- ${DIFF_NAME}\n+++ ${DIFF_NAME}\n${hunks}`;
}

/** A line history shows with the key hidden: never written back by a revert. */
const isHidden = (line: string): boolean => line.includes(`"${HIDDEN}"`);

/** What a revert gives: the new text, or the lines (of the current text, 1-based) where it conflicts. */
export type RevertResult = { readonly text: string } | { readonly conflicts: readonly number[] };

/**
 * Undo a change (its hunks, as {@link changeDiff} kept them) on top of `current`, as `git revert`
 * does: each hunk reversed is placed where its lines are now (searching around its old place,
 * tolerating up to two changed context lines, which are kept as they are now); a hunk whose
 * changed lines are no longer there conflicts. Lines that hold the key are never written: the
 * key stays as it is now (a hunk's key lines become context, matched against the current lines
 * with the key hidden). `secrets`: the current key's values, to hide the current lines alike.
 */
export function revertText(
  current: string,
  hunks: string,
  secrets: readonly string[],
): RevertResult {
  const parsed = parsePatch(unifiedDiff(hunks))[0];
  if (!parsed) return { text: current };
  // Applied to the current text with its key hidden, as the hunks have it; the hidden lines are
  // never added or removed by a reversed hunk, so they are put back in order afterwards.
  const hide = lineHider(secrets);
  const eol = current.endsWith('\n');
  const kept: { readonly hidden: string; readonly line: string }[] = [];
  const shown = lines(current).map((line) => {
    const hidden = hide(line);
    if (hidden !== line) kept.push({ hidden, line });
    return hidden;
  });
  let text = shown.join('\n') + (eol ? '\n' : '');
  const conflicts: number[] = [];
  let shift = 0;
  for (const hunk of reversed(parsed)) {
    const out = applyPatch(text, { ...parsed, hunks: [hunk] }, { fuzzFactor: 2 });
    if (out === false) {
      // The first line the entry changed there (after the hunk's leading context).
      const lead = hunk.lines.findIndex((l) => l[0] !== ' ');
      conflicts.push(Math.max(1, hunk.oldStart + shift + Math.max(0, lead)));
      continue;
    }
    text = out;
    shift += hunk.newLines - hunk.oldLines;
  }
  if (conflicts.length > 0) return { conflicts };
  const result = lines(text);
  let k = 0;
  for (let i = 0; i < result.length && k < kept.length; i++) {
    const next = kept[k] as { hidden: string; line: string };
    if (result[i] === next.hidden) {
      result[i] = next.line;
      k++;
    }
  }
  if (k < kept.length) return { conflicts: [1] };
  return { text: result.join('\n') + (text.endsWith('\n') ? '\n' : '') };
}

/** The patch's hunks reversed (after -> before), with lines that hold the key kept as they are now. */
function reversed(patch: StructuredPatch): StructuredPatchHunk[] {
  return patch.hunks.map((h) => {
    const lines: string[] = [];
    for (const line of h.lines) {
      const op = line[0];
      const body = line.slice(1);
      if (op === '\\') continue;
      if (op === ' ') lines.push(line);
      else if (op === '+')
        lines.push(isHidden(body) ? ` ${body}` : `-${body}`); // the entry added it: the revert removes it
      else if (op === '-' && !isHidden(body)) lines.push(`+${body}`); // the entry removed it: the revert puts it back
    }
    const oldLines = lines.filter((l) => l[0] !== '+').length;
    const newLines = lines.filter((l) => l[0] !== '-').length;
    return { oldStart: h.newStart, oldLines, newStart: h.oldStart, newLines, lines };
  });
}
