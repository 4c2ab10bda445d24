// The fast path of a commit (lib/store/fast-edit.ts) against the full path, with random
// documents and random edits: the same bytes, and a next base that is the parse of those bytes.
import fc from 'fast-check';
import { isCollection, isMap, isPair, isScalar, isSeq, type Document } from 'yaml';
import { applyGroup, type Mutation, type Parsed, type Pending } from '../lib/config/group';
import { parseConfigText, renderEdit, STRINGIFY, type ParsedText } from '../lib/yaml/text';
import type { ProxyConfig } from '../lib/types';
import { FIXTURE } from './helpers';

jest.setTimeout(120_000);

function parsedOf(text: string): Parsed {
  const parsed = parseConfigText(text);
  if ('error' in parsed) throw new Error(`test document does not parse: ${parsed.error}\n${text}`);
  return { text, parsed, snapshot: parsed.doc.toJS() as ProxyConfig };
}

/** The full path as it was before the fast path: a clone of a fresh parse, the three-way merge, the re-parse check. */
function fullPath(text: string, fns: readonly Mutation[]): string | Error {
  const base = parseConfigText(text) as ParsedText;
  const doc = base.doc.clone();
  for (const fn of fns) fn(doc);
  const intended = JSON.stringify(doc.toJS() ?? {});
  for (const candidate of renderEdit(text, base.canonical, doc)) {
    if (candidate === text) return text;
    const parsed = parseConfigText(candidate);
    if (!('error' in parsed) && JSON.stringify(parsed.doc.toJS() ?? {}) === intended)
      return candidate;
  }
  return new Error('no candidate');
}

const pending = (fn: Mutation): Pending => ({
  edit: { doc: fn },
  origin: { source: 'system' },
  resolve: () => undefined,
  reject: () => undefined,
});

/** Every property of every node (and pair) that stringify or a later mutation can see: all own properties but `range` and `source`. */
function shape(doc: Document): unknown {
  const seen = (n: unknown): unknown => {
    if (!n || typeof n !== 'object') return n;
    const out: Record<string, unknown> = {
      kind: isScalar(n)
        ? 'scalar'
        : isMap(n)
          ? 'map'
          : isSeq(n)
            ? 'seq'
            : isPair(n)
              ? 'pair'
              : 'other',
    };
    for (const [k, v] of Object.entries(n)) {
      if (k === 'source' || k === 'srcToken') continue;
      if (k === 'range') out.start = (v as number[])[0];
      else if (k === 'items') out.items = (v as unknown[]).map(seen);
      else if (k === 'key' || k === 'value')
        out[k] = isCollection(v) || isScalar(v) || isPair(v) ? seen(v) : v;
      else out[k] = v;
    }
    return out;
  };
  return { contents: seen(doc.contents), comment: doc.comment, commentBefore: doc.commentBefore };
}

/** Paths of the scalars in value places (map values, sequence items), depth first. */
function scalarPaths(doc: Document): (string | number)[][] {
  const out: (string | number)[][] = [];
  const walk = (n: unknown, path: (string | number)[]): void => {
    if (isScalar(n)) {
      if (path.length > 0) out.push(path);
    } else if (isSeq(n)) {
      n.items.forEach((item, i) => walk(item, [...path, i]));
    } else if (isMap(n)) {
      for (const pair of n.items)
        if (isScalar(pair.key) && typeof pair.key.value === 'string')
          walk(pair.value, [...path, pair.key.value]);
    }
  };
  walk(doc.contents, []);
  return out;
}

// ---- random documents -------------------------------------------------------------------------

const word = fc.constantFrom(
  'a',
  'b',
  'x',
  'sk-1',
  'sk-2',
  'true',
  'no',
  '12',
  '1.50',
  '0x1F',
  'null',
  '~',
  'a b',
  'é',
  'http://h:1/p',
);
const scalarText = fc.oneof(
  word,
  word.map((w) => `"${w}"`),
  word.map((w) => `'${w}'`),
  fc.constantFrom('', '""', "''", '"a # b"', "'it''s'", '"tab\\tx"'),
);
const comment = fc.constantFrom('', '', ' # c', '   # c', '  #x', ' # same');
const space = fc.constantFrom(' ', ' ', '  ');
const keyName = fc.constantFrom('k', 'key', 'api-keys', 'debug', 'name', 'base-url', 'a', 'b');

const scalarEntry = fc
  .tuple(space, scalarText, comment)
  .map(([sp, v, c]) => (v === '' ? `:${c}` : `:${sp}${v}${c}`));
const seqEntry = fc
  .tuple(
    comment,
    fc.constantFrom('', '  ', '    '),
    fc.array(fc.tuple(scalarText, comment, fc.constantFrom('', '', '', '\n', '# between\n')), {
      minLength: 1,
      maxLength: 6,
    }),
  )
  .map(
    ([c, indent, items]) =>
      `:${c}\n${items.map(([v, ic, gap]) => `${gap.replace(/^#/, `${indent}#`)}${indent}- ${v === '' ? '""' : v}${ic}`).join('\n')}`,
  );
const mapEntry = fc
  .tuple(
    comment,
    fc.constantFrom('  ', '    '),
    fc.uniqueArray(fc.tuple(keyName, scalarText, comment), {
      minLength: 1,
      maxLength: 4,
      selector: ([k]) => k,
    }),
  )
  .map(
    ([c, indent, pairs]) =>
      `:${c}\n${pairs.map(([k, v, pc]) => `${indent}${k}: ${v === '' ? '""' : v}${pc}`).join('\n')}`,
  );
const seqOfMaps = fc
  .array(
    fc.uniqueArray(fc.tuple(keyName, scalarText), {
      minLength: 1,
      maxLength: 3,
      selector: ([k]) => k,
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map(
    (items) =>
      `:\n${items.map((pairs) => pairs.map(([k, v], i) => `${i === 0 ? '  - ' : '    '}${k}: ${v === '' ? '""' : v}`).join('\n')).join('\n')}`,
  );
const flowEntry = fc
  .array(
    scalarText.filter((v) => v !== ''),
    { minLength: 0, maxLength: 3 },
  )
  .map((items) => `: [ ${items.join(', ')} ]`);

const documentText = fc
  .tuple(
    fc.constantFrom('', '# top comment\n', '# top\n\n'),
    fc.array(
      fc.tuple(
        fc.oneof(
          { weight: 4, arbitrary: scalarEntry },
          { weight: 3, arbitrary: seqEntry },
          { weight: 2, arbitrary: mapEntry },
          { weight: 1, arbitrary: seqOfMaps },
          { weight: 1, arbitrary: flowEntry },
        ),
        fc.constantFrom('', '', '\n', '# note\n'),
      ),
      {
        minLength: 1,
        maxLength: 7,
      },
    ),
    fc.constantFrom('\n', '\n', '', '\n# end\n', '\n\n'),
  )
  .map(
    ([head, entries, tail]) =>
      `${head}${entries.map(([body, gap], i) => `${gap}top${i}${body}`).join('\n')}${tail}`,
  );

const newValue = fc.constantFrom<unknown>(
  'x',
  'y',
  'sk-1',
  'a b',
  'true',
  '123',
  '',
  ' lead',
  'has: colon',
  'hash #x',
  "quote'",
  'é',
  '- dash',
  '[b]',
  0,
  7,
  1.5,
  -3,
  true,
  false,
  null,
);

/** An edit of the scalar at `path`, done one of the ways the resources do it. */
function edit(path: readonly (string | number)[], value: unknown, how: number): Mutation {
  return (doc) => {
    const node = doc.getIn(path, true);
    if (how === 0 && isScalar(node)) node.value = value;
    else if (how === 1) doc.setIn(path, value);
    else doc.setIn(path, doc.createNode(value));
  };
}

const step = fc.tuple(fc.nat(), newValue, fc.nat({ max: 2 }));

describe('fast edit path', () => {
  it('writes the same bytes as the full path, and keeps a base equal to the parse of them (random documents, random edits)', () => {
    let fast = 0;
    let total = 0;
    fc.assert(
      fc.property(documentText, fc.array(step, { minLength: 1, maxLength: 5 }), (text, steps) => {
        const first = parseConfigText(text);
        fc.pre(!('error' in first));
        let current = parsedOf(text);
        for (const [pick, value, how] of steps) {
          const paths = scalarPaths(current.parsed.doc);
          if (paths.length === 0) return;
          const path = paths[pick % paths.length] as (string | number)[];
          const fn = edit(path, value, how);
          const expected = fullPath(current.text, [fn]);
          const p = pending(fn);
          const result = applyGroup(current, [p]);
          total++;
          if (expected instanceof Error) {
            expect(result.next).toBeUndefined();
            return;
          }
          expect(result.done).toEqual([p]);
          const got = result.next ?? current;
          expect(got.text).toBe(expected);
          if (!result.next) continue;
          if (result.next.parsed.doc === current.parsed.doc) fast++;
          // The next base is what parsing the new text gives: canonical form, document, snapshot.
          const fresh = parseConfigText(result.next.text) as ParsedText;
          expect(result.next.parsed.canonical).toBe(fresh.canonical);
          expect(result.next.parsed.doc.toString(STRINGIFY)).toBe(fresh.canonical);
          expect(shape(result.next.parsed.doc)).toEqual(shape(fresh.doc));
          if (result.next.snapshot) expect(result.next.snapshot).toEqual(fresh.doc.toJS());
          current = result.next.snapshot
            ? result.next
            : { ...result.next, snapshot: fresh.doc.toJS() as ProxyConfig };
        }
      }),
      { numRuns: Number(process.env.FAST_EDIT_RUNS ?? 300) },
    );
    // The generator must reach the fast path often, or this proves nothing about it.
    expect(fast).toBeGreaterThan(total / 5);
  });

  it('puts the base back when a group is not adopted, and when a mutation throws half-way', () => {
    fc.assert(
      fc.property(documentText, step, step, (text, [pick1, v1, how1], [pick2, v2, how2]) => {
        fc.pre(!('error' in parseConfigText(text)));
        const current = parsedOf(text);
        const paths = scalarPaths(current.parsed.doc);
        fc.pre(paths.length > 0);
        const before = shape(current.parsed.doc);
        const path1 = paths[pick1 % paths.length] as (string | number)[];
        const path2 = paths[pick2 % paths.length] as (string | number)[];
        // Not adopted (a failed write): the same base gives the same answer again.
        const once = applyGroup(current, [pending(edit(path1, v1, how1))]);
        const again = applyGroup(current, [pending(edit(path1, v1, how1))]);
        expect(again.next?.text).toBe(once.next?.text);
        applyGroup(current, []);
        // A mutation that changes something and then throws fails alone; the others commit.
        const boom = pending((doc) => {
          edit(path2, v2, how2)(doc);
          doc.set('added-by-a-failing-mutation', 1);
          throw new Error('boom');
        });
        const good = pending(edit(path1, v1, how1));
        const result = applyGroup(current, [boom, good]);
        const expected = fullPath(text, [edit(path1, v1, how1)]);
        if (expected instanceof Error) {
          // An edit no text can carry (a null in a quoted scalar's node: it would be written as
          // `""`): the full path refuses it too, so it fails on its own, with nothing written.
          expect(result.failed.map(([p, e]) => [p, e instanceof Error ? e.message : e])).toEqual([
            [boom, 'boom'],
            [
              good,
              'SAVE_FAILED: the new config did not re-parse to the intended values; nothing was written',
            ],
          ]);
          expect(result.next).toBeUndefined();
        } else {
          expect(result.failed).toEqual([[boom, new Error('boom')]]);
          expect(result.done).toEqual([good]);
          expect((result.next ?? current).text).toBe(expected);
        }
        // The base document itself is as it was (the fast path lent it to `result.next` only).
        applyGroup(current, []);
        expect(shape(current.parsed.doc)).toEqual(before);
      }),
      // The first example is a counterexample CI found: the kept edit is one no text can carry.
      {
        numRuns: Number(process.env.FAST_EDIT_RUNS ?? 300) / 2,
        examples: [['top0: [ "" ]\n', [0, null, 0], [0, 'x', 0]]],
      },
    );
  });

  it('takes the fast path for an api-key edit in a large commented config, with the full path’s bytes', () => {
    const keys = Array.from(
      { length: 300 },
      (_, i) => `- "sk-${String(i).padStart(4, '0')}"${i % 10 === 0 ? `   # client ${i}` : ''}`,
    );
    const text = FIXTURE.replace(/^api-keys:\n(?:- .*\n)+/m, `api-keys:\n${keys.join('\n')}\n`);
    let current = parsedOf(text);
    for (const i of [0, 5, 10, 299, 150]) {
      const fn: Mutation = (doc) => {
        const seq = doc.get('api-keys', true);
        if (isSeq(seq)) seq.set(i, `sk-new-${i}`);
      };
      const expected = fullPath(current.text, [fn]);
      const result = applyGroup(current, [pending(fn)]);
      expect(result.next?.text).toBe(expected);
      expect(result.next?.parsed.doc).toBe(current.parsed.doc);
      current = result.next as Parsed;
    }
    expect(current.text).toContain('- "sk-new-10" # client 10\n');
    expect(current.text).toContain('- "sk-new-5"\n');
  });
});
