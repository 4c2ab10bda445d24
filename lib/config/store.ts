import { channel } from 'node:diagnostics_channel';
import { isDeepStrictEqual } from 'node:util';
import type { Document } from 'yaml';
import type { ConfigChange, ConfigListener, Logger, ProxyConfig } from '../types';
import { saveFailed } from './errors';
import { fastRender, Shadow } from './fast-edit';
import { parseConfigText, renderEdit, type ParsedText } from './yaml-text';
import { registerSource } from './typed';

/**
 * A mutation: a pure edit of the config document. It throws (before it changes anything,
 * ideally) to fail alone; the other mutations of its group still commit. Whatever it throws
 * reaches the caller of `mutate` unchanged (the HTTP layer throws its own errors in here).
 */
export type Mutation = (doc: Document) => void;

/**
 * A whole-text mutation (`PUT /config.yaml`): gets the newest text and returns the text to
 * store. The result must be a usable config, else it fails alone; the comments and layout of
 * the returned text are the caller's.
 */
export type TextMutation = (text: string) => string;

/**
 * The one owner of the config. Every engine (the file engine by default, the PostgreSQL engine
 * of `cli-proxy-management/postgres`) implements it; the HTTP layer knows nothing else.
 *
 * - Reads are served from memory: `config` never waits for I/O.
 * - Writes are mutations, committed in groups: every mutation that arrives while a commit is in
 *   flight joins the next group, which is applied to the newest text (never a stale copy),
 *   rendered with the user's layout kept, re-parsed, checked and made durable once. Each
 *   mutation's promise settles only once its bytes are durable, or it failed on its own.
 * - Failures are {@link StoreError}s (or whatever a mutation threw); no HTTP in here.
 */
export interface ConfigStore {
  /** The current config: deep-frozen, from memory. */
  readonly config: ProxyConfig;
  /** The YAML text `config` was read from, the user's comments and layout included. */
  readonly text: string;
  /** Why the source is not usable right now (reads keep the last good config), if it is not. */
  readonly problem: string | undefined;
  /** Resolves once the store serves the current config (at once for the file engine). */
  ready(): Promise<void>;
  /** Called after every change, whatever its source; returns the unsubscribe function. */
  onChange(listener: ConfigListener): () => void;
  /** Apply `fn` to the newest config and persist it; resolves once durable. */
  mutate(fn: Mutation): Promise<void>;
  /** Replace the whole text through `fn`; same rules as {@link mutate}. */
  mutateText(fn: TextMutation): Promise<void>;
  /** Pick up a change of the source now (an edit on disk, a missed notification). */
  reload(): Promise<void>;
  /** Stop watching; pending writes finish first; release every resource. */
  close(): Promise<void>;
}

/**
 * Name of the `node:diagnostics_channel` on which a store publishes a {@link CommitMessage}
 * after every group commit (benchmarks and metrics subscribe; nothing is built when nobody does).
 */
export const COMMIT_CHANNEL = 'cli-proxy-management:commit';

/** What {@link COMMIT_CHANNEL} carries: one group commit. */
export interface CommitMessage {
  /** Mutations of the group that succeeded (acknowledged once `written` bytes were durable). */
  readonly mutations: number;
  /** Mutations of the group that failed alone (not found, invalid) or with the group. */
  readonly failed: number;
  /** Whether new text was stored (false when the group left the text unchanged, or failed). */
  readonly written: boolean;
}

const commitChannel = channel(COMMIT_CHANNEL);

/** One queued mutation of either kind. */
export interface Pending {
  readonly edit: { readonly doc: Mutation } | { readonly text: TextMutation };
  readonly resolve: () => void;
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
      const text = edit.text(base.text);
      const parsed = parseConfigText(text);
      if ('error' in parsed) throw saveFailed(parsed.error);
      base = { text, parsed };
      doc = parsed.doc.clone();
      done.push(p);
    } catch (err) {
      failed.push([p, err]);
    }
  }
  settleRun();
  return { next: base.text === current.text ? undefined : base, done, failed };
}

/** Documents lent to a `next` by the fast path, with what puts them back (see {@link applyGroup}). */
const spent = new WeakMap<Parsed, Shadow>();

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
      return { next: { text: fast.text, parsed: { doc: doc as Document.Parsed, canonical: fast.canonical }, snapshot: fast.snapshot }, done, failed };
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

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * What every engine shares: the in-memory copy (text, parse, frozen snapshot), the listeners,
 * and the queue that turns concurrent mutations into group commits run one at a time. An engine
 * implements {@link BaseConfigStore.commit} (store one group durably) and its own reload/close.
 */
export abstract class BaseConfigStore implements ConfigStore {
  protected current!: Parsed;
  private snapshot: ProxyConfig = deepFreeze({});
  protected error: string | undefined;
  protected closed = false;
  private readonly listeners = new Set<ConfigListener>();
  private queue: Pending[] = [];
  private flushing = false;
  private chain: Promise<unknown> = Promise.resolve();

  protected constructor(protected readonly logger: Logger) {}

  get config(): ProxyConfig {
    return this.snapshot;
  }

  get text(): string {
    return this.current.text;
  }

  get problem(): string | undefined {
    return this.error;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  onChange(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  mutate(fn: Mutation): Promise<void> {
    return this.enqueue({ doc: fn });
  }

  mutateText(fn: TextMutation): Promise<void> {
    return this.enqueue({ text: fn });
  }

  abstract reload(): Promise<void>;

  async close(): Promise<void> {
    this.closed = true;
    // Wait for every queued group, not only the one in flight: a process that exits after
    // close() must not be holding a lock or leave a temp file.
    do {
      await this.chain.catch(() => undefined);
      await new Promise((resolve) => setImmediate(resolve));
    } while (this.flushing);
  }

  /**
   * Store one group durably. Every mutation of `batch` must be settled when it returns; a throw
   * fails the whole group with `500`-class `SAVE_FAILED` (see {@link BaseConfigStore.commitSafely}).
   */
  protected abstract commit(batch: Pending[]): Promise<void>;

  /** Take `next` as the current config; listeners hear of it when the values changed. */
  protected adopt(next: Parsed, source: ConfigChange['source'] | undefined): void {
    const before = this.snapshot;
    this.error = undefined;
    this.snapshot = next.snapshot ?? deepFreeze((next.parsed.doc.toJS() ?? {}) as ProxyConfig);
    registerSource(this.snapshot, next.text);
    this.current = next.snapshot ? next : { ...next, snapshot: this.snapshot };
    if (source && !isDeepStrictEqual(before, this.snapshot)) this.emit({ source });
  }

  /** Run `task` after every earlier task: reloads and commits never interleave. */
  protected exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  protected published(mutations: number, failed: number, written: boolean): void {
    if (commitChannel.hasSubscribers) commitChannel.publish({ mutations, failed, written } satisfies CommitMessage);
  }

  /** Settle a whole group with one error. */
  protected failAll(batch: readonly Pending[], err: unknown): void {
    for (const p of batch) p.reject(err);
    this.published(0, batch.length, false);
  }

  private emit(change: ConfigChange): void {
    for (const listener of this.listeners) {
      try {
        listener(this.snapshot, change);
      } catch {
        this.logger.warn('cli-proxy-management: a change listener threw');
      }
    }
  }

  private enqueue(edit: Pending['edit']): Promise<void> {
    if (this.closed) return Promise.reject(saveFailed('router closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ edit, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        await this.exclusive(() => this.commitSafely(batch));
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Whatever happens, every mutation of the batch settles: an unexpected throw (a bug, a library
   * error) fails the batch with a reason that holds no message text, instead of leaving requests
   * hanging or escaping as an unhandled rejection.
   */
  private async commitSafely(batch: Pending[]): Promise<void> {
    try {
      await this.commit(batch);
    } catch (err) {
      this.logger.warn(`cli-proxy-management: unexpected error while saving the config: ${err instanceof Error ? err.name : typeof err}`);
      this.failAll(batch, saveFailed('unexpected error'));
    }
  }
}
