/**
 * Line diffs and the three-way merge of `node-diff3` 3.2.1 (MIT: Tony Garnock-Jones, LShift Ltd.,
 * Bryan Housel), ported with the same results and a faster longest-common-subsequence search.
 *
 * `node-diff3` finds, for each matching line, its place among the LCS candidates by a linear
 * scan, so diffing two texts of n mostly unique lines costs O(n x LCS length): about a third of
 * a second for a 10,000-line config, three times per write. The candidates are sorted by their
 * index in the second buffer, so a binary search finds the same place in O(log n); every other
 * step is the original's (hunks are consumed by index instead of `shift()`, which is quadratic
 * in the number of hunks). `__tests__/diff3.test.ts` checks the results against `node-diff3`.
 */

/** One match of an LCS chain: line `buffer1index` equals line `buffer2index`; `chain` is the match before it. */
interface Candidate {
  readonly buffer1index: number;
  readonly buffer2index: number;
  readonly chain: Candidate | null;
}

/** Hunt-McIlroy LCS as in node-diff3, with a binary search over the sorted candidates. */
export function LCS(buffer1: readonly string[], buffer2: readonly string[]): Candidate {
  const classes = new Map<string, number[]>();
  for (let j = 0; j < buffer2.length; j++) {
    const item = buffer2[j] as string;
    const list = classes.get(item);
    if (list) list.push(j);
    else classes.set(item, [j]);
  }
  const NULLRESULT: Candidate = { buffer1index: -1, buffer2index: -1, chain: null };
  const candidates: Candidate[] = [NULLRESULT];
  for (let i = 0; i < buffer1.length; i++) {
    const indices = classes.get(buffer1[i] as string);
    if (!indices) continue;
    let r = 0;
    let c = candidates[0] as Candidate;
    for (const j of indices) {
      // node-diff3 scans s = r, r+1, ... for the first s with candidates[s] < j and
      // (s is last or candidates[s+1] > j). With strictly increasing buffer2index that s is the
      // last candidate below j, if it is at least r and the next one is not equal to j.
      let lo = r;
      let hi = candidates.length - 1;
      let s = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if ((candidates[mid] as Candidate).buffer2index < j) {
          s = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      if (
        s < 0 ||
        (s < candidates.length - 1 && (candidates[s + 1] as Candidate).buffer2index <= j)
      )
        continue;
      const newCandidate: Candidate = {
        buffer1index: i,
        buffer2index: j,
        chain: candidates[s] as Candidate,
      };
      if (r === candidates.length) candidates.push(c);
      else candidates[r] = c;
      r = s + 1;
      c = newCandidate;
      if (r === candidates.length) break;
    }
    candidates[r] = c;
  }
  return candidates[candidates.length - 1] as Candidate;
}

/** One part of {@link diffComm}: lines both have, or lines only one of them has. */
export interface CommPart {
  common?: string[];
  buffer1?: string[];
  buffer2?: string[];
}

/** `buffer1` and `buffer2` as alternating runs of common lines and differing lines. */
export function diffComm(buffer1: readonly string[], buffer2: readonly string[]): CommPart[] {
  const lcs = LCS(buffer1, buffer2);
  const result: CommPart[] = [];
  let tail1 = buffer1.length;
  let tail2 = buffer2.length;
  let common: string[] = [];
  const processCommon = (): void => {
    if (common.length) {
      common.reverse();
      result.push({ common });
      common = [];
    }
  };
  for (let candidate: Candidate | null = lcs; candidate !== null; candidate = candidate.chain) {
    const different: { buffer1: string[]; buffer2: string[] } = { buffer1: [], buffer2: [] };
    while (--tail1 > candidate.buffer1index) different.buffer1.push(buffer1[tail1] as string);
    while (--tail2 > candidate.buffer2index) different.buffer2.push(buffer2[tail2] as string);
    if (different.buffer1.length || different.buffer2.length) {
      processCommon();
      different.buffer1.reverse();
      different.buffer2.reverse();
      result.push(different);
    }
    if (tail1 >= 0) common.push(buffer1[tail1] as string);
  }
  processCommon();
  result.reverse();
  return result;
}

export interface IndexHunk {
  readonly buffer1: readonly [number, number];
  readonly buffer2: readonly [number, number];
}

export function diffIndices(buffer1: readonly string[], buffer2: readonly string[]): IndexHunk[] {
  const lcs = LCS(buffer1, buffer2);
  const result: IndexHunk[] = [];
  let tail1 = buffer1.length;
  let tail2 = buffer2.length;
  for (let candidate: Candidate | null = lcs; candidate !== null; candidate = candidate.chain) {
    const mismatchLength1 = tail1 - candidate.buffer1index - 1;
    const mismatchLength2 = tail2 - candidate.buffer2index - 1;
    tail1 = candidate.buffer1index;
    tail2 = candidate.buffer2index;
    if (mismatchLength1 || mismatchLength2) {
      result.push({ buffer1: [tail1 + 1, mismatchLength1], buffer2: [tail2 + 1, mismatchLength2] });
    }
  }
  result.reverse();
  return result;
}

/** One hunk of {@link diffPatch}: `buffer1.length` lines at `buffer1.offset` become `buffer2.chunk`. */
export interface PatchHunk {
  buffer1: { offset: number; length: number; chunk: string[] };
  buffer2: { offset: number; length: number; chunk: string[] };
}

/** The hunks that turn `buffer1` into `buffer2`, in order: {@link diffIndices} with the lines. */
export function diffPatch(buffer1: readonly string[], buffer2: readonly string[]): PatchHunk[] {
  return diffIndices(buffer1, buffer2).map(
    ({ buffer1: [offset1, length1], buffer2: [offset2, length2] }) => ({
      buffer1: {
        offset: offset1,
        length: length1,
        chunk: buffer1.slice(offset1, offset1 + length1),
      },
      buffer2: {
        offset: offset2,
        length: length2,
        chunk: buffer2.slice(offset2, offset2 + length2),
      },
    }),
  );
}

/** A region of {@link diff3Merge}: lines all agree on, or a conflict with each side's lines. */
export interface MergeRegion {
  ok?: string[];
  conflict?: {
    a: string[];
    aIndex: number;
    o: string[];
    oIndex: number;
    b: string[];
    bIndex: number;
  };
}

type Region =
  | { stable: true; content: string[] }
  | {
      stable: false;
      aStart: number;
      aEnd: number;
      oStart: number;
      oEnd: number;
      bStart: number;
      bEnd: number;
    };

function diff3MergeRegions(
  a: readonly string[],
  o: readonly string[],
  b: readonly string[],
  hunksOB?: readonly IndexHunk[],
  hunksOA?: readonly IndexHunk[],
): Region[] {
  interface Hunk {
    ab: 'a' | 'b';
    oStart: number;
    oLength: number;
    abStart: number;
    abLength: number;
  }
  const hunks: Hunk[] = [];
  const add = (h: IndexHunk, ab: 'a' | 'b'): void => {
    hunks.push({
      ab,
      oStart: h.buffer1[0],
      oLength: h.buffer1[1],
      abStart: h.buffer2[0],
      abLength: h.buffer2[1],
    });
  };
  for (const h of hunksOA ?? diffIndices(o, a)) add(h, 'a');
  for (const h of hunksOB ?? diffIndices(o, b)) add(h, 'b');
  hunks.sort((x, y) => x.oStart - y.oStart); // stable: for one oStart, a's hunks stay before b's
  const results: Region[] = [];
  let currOffset = 0;
  const advanceTo = (endOffset: number): void => {
    if (endOffset > currOffset) {
      results.push({ stable: true, content: o.slice(currOffset, endOffset) });
      currOffset = endOffset;
    }
  };
  let k = 0;
  while (k < hunks.length) {
    const hunk = hunks[k++] as Hunk;
    const regionStart = hunk.oStart;
    let regionEnd = hunk.oStart + hunk.oLength;
    const regionHunks: Hunk[] = [hunk];
    advanceTo(regionStart);
    while (k < hunks.length) {
      const next = hunks[k] as Hunk;
      if (next.oStart > regionEnd) break;
      regionEnd = Math.max(regionEnd, next.oStart + next.oLength);
      regionHunks.push(next);
      k++;
    }
    if (regionHunks.length === 1) {
      if (hunk.abLength > 0) {
        const buffer = hunk.ab === 'a' ? a : b;
        results.push({
          stable: true,
          content: buffer.slice(hunk.abStart, hunk.abStart + hunk.abLength),
        });
      }
    } else {
      const bounds = { a: [a.length, -1, o.length, -1], b: [b.length, -1, o.length, -1] };
      for (const h of regionHunks) {
        const bb = bounds[h.ab] as number[];
        bb[0] = Math.min(h.abStart, bb[0] as number);
        bb[1] = Math.max(h.abStart + h.abLength, bb[1] as number);
        bb[2] = Math.min(h.oStart, bb[2] as number);
        bb[3] = Math.max(h.oStart + h.oLength, bb[3] as number);
      }
      const [a0, a1, a2, a3] = bounds.a as [number, number, number, number];
      const [b0, b1, b2, b3] = bounds.b as [number, number, number, number];
      results.push({
        stable: false,
        aStart: a0 + (regionStart - a2),
        aEnd: a1 + (regionEnd - a3),
        oStart: regionStart,
        oEnd: regionEnd,
        bStart: b0 + (regionStart - b2),
        bEnd: b1 + (regionEnd - b3),
      });
    }
    currOffset = regionEnd;
  }
  advanceTo(o.length);
  return results;
}

const sameLines = (x: readonly string[], y: readonly string[]): boolean =>
  x.length === y.length && x.every((line, i) => line === y[i]);

/**
 * Three-way merge of line arrays: `a` and `b` are two edits of `o`. Regions only one side
 * changed (or both changed alike, with `excludeFalseConflicts`) are `ok`; others are conflicts.
 * `hunksOB` and `hunksOA`, when given, must be what `diffIndices(o, b)` and `diffIndices(o, a)`
 * return (a caller that knows them saves the LCS searches).
 */
export function diff3Merge(
  a: readonly string[],
  o: readonly string[],
  b: readonly string[],
  options: {
    excludeFalseConflicts?: boolean;
    hunksOB?: readonly IndexHunk[];
    hunksOA?: readonly IndexHunk[];
  } = {},
): MergeRegion[] {
  const excludeFalseConflicts = options.excludeFalseConflicts ?? true;
  const results: MergeRegion[] = [];
  let okBuffer: string[] = [];
  const flushOk = (): void => {
    if (okBuffer.length) results.push({ ok: okBuffer });
    okBuffer = [];
  };
  const append = (lines: readonly string[]): void => {
    for (const line of lines) okBuffer.push(line);
  };
  for (const region of diff3MergeRegions(a, o, b, options.hunksOB, options.hunksOA)) {
    if (region.stable) {
      append(region.content);
      continue;
    }
    const aContent = a.slice(region.aStart, region.aEnd);
    const bContent = b.slice(region.bStart, region.bEnd);
    if (excludeFalseConflicts && sameLines(aContent, bContent)) {
      append(aContent);
    } else {
      flushOk();
      results.push({
        conflict: {
          a: aContent,
          aIndex: region.aStart,
          o: o.slice(region.oStart, region.oEnd),
          oIndex: region.oStart,
          b: bContent,
          bIndex: region.bStart,
        },
      });
    }
  }
  flushOk();
  return results;
}
