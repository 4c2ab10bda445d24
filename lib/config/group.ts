// A group commit's CPU work, shared by every engine: apply a group of mutations to the newest
// text, render it with the user's layout kept, and verify that it re-parses to the intended values.
import { isDeepStrictEqual } from 'node:util';
import type { Document } from 'yaml';
import { saveFailed } from '../engines/errors';
import type { ProxyConfig } from '../types';
import { fastRender, Shadow } from '../yaml/fast-edit';
import { parseConfigText, renderEdit, type ParsedText } from '../yaml/text';
import type { Step } from '../history/entry';
import { SYSTEM, type Origin } from '../history/origin';

/**
 * A mutation: a pure edit of the config document. It throws (before it changes anything,
 * ideally) to fail alone; the other mutations of its group still commit. Whatever it throws
 * reaches the caller of `mutate` unchanged (the HTTP layer throws its own errors in here).
 * A mutation may run more than once (when the stored text changed meanwhile, the group is
 * applied again to the newer text): it must depend only on the document it is given.
 */
export type Mutation = (doc: Document) => void;

/** A text parsed, or `SAVE_FAILED` with the reason when it is not a usable config. */
export function parseOrFail(text: string): Parsed {
  const parsed = parseConfigText(text);
  if ('error' in parsed) throw saveFailed(parsed.error);
  return { text, parsed };
}

/** One queued mutation of either kind. */
export interface Pending {
  /** A document edit, or a whole-text edit: the current text with its parse to the next (already parsed). */
  readonly edit: { readonly doc: Mutation } | { readonly text: (current: Parsed) => Parsed };
  /** Who asked (a history entry's source, method, path and client); default: the library itself. */
  readonly origin?: Origin;
  /** Settles the mutation as done, with its history entry's id when it has one. */
  readonly resolve: (id?: string) => void;
  readonly reject: (err: unknown) => void;
}

/** A config text with its parse. */
export interface Parsed {
  readonly text: string;
  readonly parsed: ParsedText;
  /** `parsed.doc.toJS()`, deep-frozen, when already known (the store fills it in when it adopts). */
  readonly snapshot?: ProxyConfig;
}

/** What {@link applyGroup} decided for a group. */
export interface GroupResult {
  /** The text to store, when it differs from the current one. */
  readonly next: Parsed | undefined;
  readonly done: Pending[];
  readonly failed: [Pending, unknown][];
}

/** The text of `doc` laid out like `base.text`, checked to re-parse to exactly `doc`'s values. */
function render(base: Parsed, doc: Document): Parsed {
  const intended: unknown = doc.toJS() ?? {};
  for (const text of renderEdit(base.text, base.parsed.canonical, doc)) {
    if (text === base.text) return base;
    const parsed = parseConfigText(text);
    if ('error' in parsed) continue;
    // The re-parse's value is the next snapshot: the store does not convert the document again.
    const value: unknown = parsed.doc.toJS() ?? {};
    if (!isDeepStrictEqual(value, intended)) continue;
    return { text, parsed, snapshot: deepFreeze(value as ProxyConfig) };
  }
  throw saveFailed('the new config did not re-parse to the intended values; nothing was written');
}

/**
 * Apply a group, in order, to `current` (the newest text): pure CPU work, shared by every
 * engine, which then only has to store `next` durably. A mutation that throws fails alone: the
 * document is rebuilt and the mutations that succeeded are replayed, so a half-applied mutation
 * never leaks into the result. A text mutation starts from the text of everything before it.
 * When the rendered text of a run of mutations does not re-parse to their intended values, each
 * mutation of the run is applied and checked alone: the ones that do not verify fail with
 * `SAVE_FAILED` (nothing of them is stored), the others succeed.
 *
 * A group of document mutations runs on `current`'s document in place (its prior state is
 * recorded and put back, instead of cloning it); when they changed one scalar, the fast path
 * (`fast-edit.ts`) gives the same bytes as the full path from one line, and `next` then shares
 * `current`'s document. An engine that does not adopt `next` (its write failed) may pass
 * `current` again: it is put back as it was first.
 */
export function applyGroup(current: Parsed, batch: readonly Pending[]): GroupResult {
  const lent = spent.get(current);
  if (lent) {
    spent.delete(current);
    lent.restore();
  }
  if (batch.length > 0 && batch.every((p) => 'doc' in p.edit)) return applyInPlace(current, batch);
  return applyCloned(current, batch);
}

/** {@link applyGroup} on clones of the document: any group (text mutations included). */
function applyCloned(current: Parsed, batch: readonly Pending[]): GroupResult {
  let base = current;
  let doc: Document = base.parsed.doc.clone();
  let run: { p: Pending; fn: Mutation }[] = [];
  const done: Pending[] = [];
  const failed: [Pending, unknown][] = [];
  const settleRun = (): void => {
    if (run.length > 0) {
      try {
        base = render(base, doc);
        for (const { p } of run) done.push(p);
      } catch (err) {
        if (run.length === 1) failed.push([(run[0] as { p: Pending }).p, err]);
        // Which one? Each mutation of the run again, alone on what succeeded before it: the one
        // whose result does not verify fails alone, never its group.
        else for (const { p, fn } of run) settleOne(p, fn);
      }
    }
    run = [];
    doc = base.parsed.doc.clone();
  };
  const settleOne = (p: Pending, fn: Mutation): void => {
    try {
      const one = base.parsed.doc.clone();
      fn(one);
      base = render(base, one);
      done.push(p);
    } catch (err) {
      failed.push([p, err]);
    }
  };
  for (const p of batch) {
    const { edit } = p;
    if ('doc' in edit) {
      try {
        edit.doc(doc);
        run.push({ p, fn: edit.doc });
      } catch (err) {
        failed.push([p, err]);
        doc = base.parsed.doc.clone();
        for (const { fn } of run) fn(doc);
      }
      continue;
    }
    settleRun();
    try {
      base = edit.text(base);
      doc = base.parsed.doc.clone();
      done.push(p);
    } catch (err) {
      failed.push([p, err]);
    }
  }
  settleRun();
  return { next: base.text === current.text ? undefined : base, done, failed };
}

/** Documents lent to a `next` by the fast path, with what puts them back (see {@link applyGroup}). */
const spent = new WeakMap<Parsed, { restore(): void }>();

/** One mutation's own change within a group (see {@link applySteps}). */
export interface StepOf {
  readonly p: Pending;
  readonly step: Step;
}

/** The snapshot of a parsed text (computed when the text came from a whole-text mutation). */
const snapshotOf = (p: Parsed): ProxyConfig =>
  p.snapshot ?? ((p.parsed.doc.toJS() ?? {}) as ProxyConfig);

/**
 * {@link applyGroup} one mutation at a time, for history: the same outcome, plus each successful
 * mutation's own change (its text before and after), so that every request of a group commit has
 * its own entry and diff. Documents lent by the fast path along the way are put back together,
 * newest first, when `current` is passed again.
 */
export function applySteps(
  current: Parsed,
  batch: readonly Pending[],
): GroupResult & { readonly steps: StepOf[] } {
  const lentBefore = spent.get(current);
  if (lentBefore) {
    spent.delete(current);
    lentBefore.restore();
  }
  let cur = current;
  const done: Pending[] = [];
  const failed: [Pending, unknown][] = [];
  const steps: StepOf[] = [];
  const lent: { restore(): void }[] = [];
  for (const p of batch) {
    const r = applyGroup(cur, [p]);
    const shadow = spent.get(cur);
    if (shadow) lent.push(shadow);
    spent.delete(cur);
    done.push(...r.done);
    failed.push(...r.failed);
    if (r.next && r.done.length > 0 && r.next.text !== cur.text) {
      steps.push({
        p,
        step: {
          origin: p.origin ?? SYSTEM,
          before: cur.text,
          beforeConfig: snapshotOf(cur),
          after: r.next.text,
          afterConfig: snapshotOf(r.next),
        },
      });
      cur = r.next;
    }
  }
  if (lent.length > 0)
    spent.set(current, { restore: () => lent.reverse().forEach((s) => s.restore()) });
  return {
    next: cur.text === current.text ? undefined : cur,
    done,
    failed,
    steps: cur.text === current.text ? [] : steps,
  };
}

/** {@link applyGroup} for a group of document mutations only: one run, on the document in place. */
function applyInPlace(current: Parsed, batch: readonly Pending[]): GroupResult {
  const doc = current.parsed.doc;
  const shadow = new Shadow(doc);
  const run: { p: Pending; fn: Mutation }[] = [];
  const done: Pending[] = [];
  const failed: [Pending, unknown][] = [];
  for (const p of batch) {
    const fn = (p.edit as { readonly doc: Mutation }).doc;
    try {
      fn(doc);
      run.push({ p, fn });
    } catch (err) {
      failed.push([p, err]);
      shadow.restore();
      for (const r of run) r.fn(doc);
    }
  }
  if (run.length === 0) return { next: undefined, done, failed };
  const change = shadow.diff();
  if (change === null) {
    for (const { p } of run) done.push(p);
    return { next: undefined, done, failed };
  }
  if (change !== 'other' && current.snapshot) {
    const fast = fastRender(current.text, current.parsed.canonical, current.snapshot, doc, change);
    if (fast) {
      fast.settle();
      spent.set(current, shadow);
      for (const { p } of run) done.push(p);
      return {
        next: {
          text: fast.text,
          parsed: { doc: doc as Document.Parsed, canonical: fast.canonical },
          snapshot: fast.snapshot,
        },
        done,
        failed,
      };
    }
  }
  try {
    const next = render(current, doc);
    for (const { p } of run) done.push(p);
    return { next: next === current ? undefined : next, done, failed };
  } catch (err) {
    if (run.length > 1) {
      // Which one does not verify? The general path tries each mutation alone (see applyGroup).
      shadow.restore();
      return applyCloned(current, batch);
    }
    for (const { p } of run) failed.push([p, err]);
    return { next: undefined, done, failed };
  } finally {
    shadow.restore();
  }
}

/** `value`, deep-frozen (snapshots are shared by every request and listener). */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
