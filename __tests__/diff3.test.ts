import * as reference from 'node-diff3';
import { diff3Merge, diffComm, diffPatch } from '../lib/yaml/diff3';

/** A deterministic pseudo-random generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Lines from a small alphabet (many repeats, the hard case for an LCS) or mostly unique ones. */
function lines(random: () => number, length: number, alphabet: number): string[] {
  return Array.from({ length }, () => `l${Math.floor(random() * alphabet)}`);
}

/** `base` with random deletions, insertions and replacements. */
function edit(random: () => number, base: readonly string[], alphabet: number): string[] {
  const out: string[] = [];
  for (const line of base) {
    const r = random();
    if (r < 0.1) continue;
    if (r < 0.2) out.push(`x${Math.floor(random() * alphabet)}`);
    else out.push(line);
    if (random() < 0.1) out.push(`y${Math.floor(random() * alphabet)}`);
  }
  return out;
}

describe('diff3 port: the same results as node-diff3 3.2.1', () => {
  const cases: [number, number][] = [];
  for (let seed = 1; seed <= 150; seed++)
    cases.push([seed, seed % 3 === 0 ? 4 : seed % 3 === 1 ? 30 : 1000]);

  it.each(cases)(
    'seed %i, alphabet %i: diffComm, diffPatch and diff3Merge agree',
    (seed, alphabet) => {
      const random = rng(seed);
      const o = lines(random, Math.floor(random() * 60), alphabet);
      const a = edit(random, o, alphabet);
      const b = random() < 0.2 ? [...a] : edit(random, o, alphabet);
      expect(diffComm(o, a)).toEqual(reference.diffComm(o, a));
      expect(diffPatch(o, b)).toEqual(reference.diffPatch(o, b));
      expect(diff3Merge(a, o, b, { excludeFalseConflicts: true })).toEqual(
        reference.diff3Merge(a, o, b, { excludeFalseConflicts: true }),
      );
      expect(diff3Merge(a, o, b, { excludeFalseConflicts: false })).toEqual(
        reference.diff3Merge(a, o, b, { excludeFalseConflicts: false }),
      );
    },
  );

  it('edge cases: empty buffers, identical buffers, disjoint buffers', () => {
    const pairs: [string[], string[]][] = [
      [[], []],
      [[], ['a']],
      [['a'], []],
      [
        ['a', 'b', 'c'],
        ['a', 'b', 'c'],
      ],
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
      [
        ['a', 'a', 'a'],
        ['a', 'a'],
      ],
    ];
    for (const [x, y] of pairs) {
      expect(diffComm(x, y)).toEqual(reference.diffComm(x, y));
      expect(diffPatch(x, y)).toEqual(reference.diffPatch(x, y));
      expect(diff3Merge(x, y, x)).toEqual(reference.diff3Merge(x, y, x));
      expect(diff3Merge(y, x, ['z'])).toEqual(reference.diff3Merge(y, x, ['z']));
    }
  });

  it('a 20,000-line text re-indented on one side and changed on the other: one conflict region holding the change', () => {
    const o = Array.from({ length: 20_000 }, (_, i) => `  - "key-${i}"`);
    const a = o.map((l) => l.slice(2));
    const b = [...o];
    b[10_000] = '  - "changed"';
    const merged = diff3Merge(a, o, b);
    const conflict = merged.find((r) => r.conflict)?.conflict;
    // The whole re-indented list is one region both sides touched; it is reported, not lost.
    expect(conflict?.a).toHaveLength(20_000);
    expect(conflict?.b[10_000]).toBe('  - "changed"');
  });
});
