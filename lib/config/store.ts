// The core's config store: the one owner of the document for every engine. It keeps the current
// text, its parse and its snapshot in memory, turns concurrent mutations into group commits, and
// asks the engine's text backend only to load and to save text (compare-and-swap on a version).
import { channel } from 'node:diagnostics_channel';
import { isDeepStrictEqual } from 'node:util';
import { ManagementError } from '../errors';
import { saveFailed, StoreError } from '../engines/errors';
import type {
  ConfigBackend,
  Logger,
  StoredText,
  TextEvents,
  TextOutcome,
  TextVersion,
} from '../engines/spi';
import type { ConfigChange, ConfigListener, ProxyConfig } from '../types';
import { parseConfigText } from '../yaml/text';
import {
  applyGroup,
  applySteps,
  deepFreeze,
  parseOrFail,
  type Mutation,
  type Parsed,
  type Pending,
  type StepOf,
} from './group';
import { draftOf, type Draft } from '../history/entry';
import { FILE, outsideRequests, requestOrigin, SYSTEM, type Origin } from '../history/origin';
import { keyUpkeep, sealKey } from './key-policy';
import { Snapshot } from './typed';
import { planReplace, Refused, refusal } from './whole-text';

export type { Mutation } from './group';

/**
 * A whole-text mutation: gets the newest text and returns the text to store. The result must be
 * a usable config, else it fails alone; the comments and layout of the returned text are the caller's.
 */
export type TextMutation = (text: string) => string;

/**
 * The config as the routes use it, whatever the engine.
 *
 * - Reads are served from memory: `snapshot` never waits for I/O.
 * - Writes are mutations, committed in groups: every mutation that arrives while a commit is in
 *   flight joins the next group, which is applied to the newest text (never a stale copy),
 *   rendered with the user's layout kept, re-parsed, checked and stored once. Each mutation's
 *   promise settles only once its bytes are stored, or it failed on its own.
 * - Failures are {@link StoreError}s (or whatever a mutation threw); no HTTP in here.
 */
export interface ConfigStore {
  /** The current config: deep-frozen, from memory. */
  readonly config: ProxyConfig;
  /** The current config with its Go-compatible typed view. */
  readonly snapshot: Snapshot;
  /** The YAML text `config` was read from, the user's comments and layout included. */
  readonly text: string;
  /** Why the source is not usable right now (reads keep the last good config), if it is not. */
  readonly problem: string | undefined;
  /** Resolves once the store serves the current config. */
  ready(): Promise<void>;
  /** Called after every change, whatever its source; returns the unsubscribe function. */
  onChange(listener: ConfigListener): () => void;
  /**
   * Apply `fn` to the newest config and store it; resolves once stored, with the id of its
   * history entry (none when history is off or nothing changed). `origin`: who asks (default:
   * the request being handled, else the library itself).
   */
  mutate(fn: Mutation, origin?: Origin): Promise<string | undefined>;
  /** Replace the whole text through `fn`; same rules as {@link ConfigStore.mutate}. */
  mutateText(fn: TextMutation, origin?: Origin): Promise<string | undefined>;
  /**
   * Record history entries of changes that are not of the config text (auth files), in turn
   * with the config's commits; resolves with their ids (none when the engine keeps no history).
   */
  record(drafts: readonly Draft[]): Promise<string[]>;
  /**
   * Replace the whole text by an upload: parsed once, its key kept, rotated (hashed) or refused,
   * `check` run on its values. Resolves with the reason when it is refused; rejects only for a
   * store failure (`SAVE_FAILED`, `UNAVAILABLE`).
   */
  replaceText(text: string, check: (upload: Snapshot) => string | undefined): Promise<TextOutcome>;
  /** Pick up a change of the source now (an edit on disk, a missed notification). */
  reload(): Promise<void>;
  /** Pending writes finish first; then the backend is closed. */
  close(): Promise<void>;
}

/**
 * Name of the `node:diagnostics_channel` on which the store publishes a {@link CommitMessage}
 * after every group commit (benchmarks and metrics subscribe; nothing is built when nobody does).
 */
export const COMMIT_CHANNEL = 'cli-proxy-management:commit';

/** What {@link COMMIT_CHANNEL} carries: one group commit. */
export interface CommitMessage {
  /** Mutations of the group that succeeded (acknowledged once `written` bytes were stored). */
  readonly mutations: number;
  /** Mutations of the group that failed alone (not found, invalid) or with the group. */
  readonly failed: number;
  /** Whether new text was stored (false when the group left the text unchanged, or failed). */
  readonly written: boolean;
}

const commitChannel = channel(COMMIT_CHANNEL);

/** A text parsed, or refused as `invalid_yaml` (a hand edit that is not a usable config). */
function parseOrRefuse(text: string): Parsed {
  const parsed = parseConfigText(text);
  if ('error' in parsed) throw new Refused(refusal('invalid_yaml', parsed.error));
  return { text, parsed };
}

/** Saves tried for one group before it fails: each retry means another writer stored first. */
const MAX_ATTEMPTS = 50;

/** What the core needs besides the backend. */
export interface CoreOptions {
  readonly logger: Logger;
  /** bcrypt cost for a plaintext key that is stored hashed. */
  readonly bcryptRounds: number;
  /** How errors name the source (the router's `configPath`). */
  readonly source: string;
}

/** The {@link ConfigStore} over any engine's {@link ConfigBackend}. */
export class ConfigCore implements ConfigStore {
  private current: Parsed;
  private version: TextVersion | undefined;
  private readOnly: string | undefined;
  private snap: Snapshot;
  private error: string | undefined;
  private closed = false;
  private readonly listeners = new Set<ConfigListener>();
  private queue: Pending[] = [];
  private flushing = false;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly started: Promise<void>;
  private readonly upkeep: () => Promise<void>;

  constructor(
    private readonly backend: ConfigBackend,
    private readonly options: CoreOptions,
  ) {
    const initial = backend.initial;
    let first: Parsed = parseOrFail('');
    if (initial) {
      const parsed = parseConfigText(initial.text);
      if (!('error' in parsed)) {
        first = { text: initial.text, parsed };
        this.version = initial.version;
        this.readOnly = initial.readOnly;
        this.error = initial.readOnly;
      } else if (!initial.cached) {
        void backend.close().catch(() => undefined);
        throw new ManagementError('ERR_CONFIG_INVALID', `${options.source}: ${parsed.error}`);
      }
    }
    this.current = first;
    this.snap = this.snapshotFor(first);
    this.upkeep = keyUpkeep(this, options.bcryptRounds, options.logger);
    const events: TextEvents = {
      changed: (stillNeeded) =>
        this.exclusive(async () =>
          stillNeeded && !stillNeeded()
            ? undefined
            : this.refresh(this.backend.changeSource ?? 'file'),
        ),
      edited: (merge) =>
        this.textOutcome(
          this.enqueue({ text: (current) => parseOrRefuse(merge(current.text)) }, FILE),
        ),
      prepare: async (text) =>
        (await sealKey(undefined, parseOrFail(text), options.bcryptRounds)).text,
    };
    this.started = backend.start(events);
    void this.started.catch(() => undefined);
  }

  get config(): ProxyConfig {
    return this.snap.config;
  }

  get snapshot(): Snapshot {
    return this.snap;
  }

  get text(): string {
    return this.current.text;
  }

  get problem(): string | undefined {
    return this.error;
  }

  /** Resolves once the engine serves; then a plaintext key that is stored is hashed (see `keyUpkeep`). */
  ready(): Promise<void> {
    return this.started;
  }

  /** The key upkeep: run at start and after every change by the router. */
  keyUpkeep(): Promise<void> {
    return this.upkeep();
  }

  onChange(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  mutate(fn: Mutation, origin?: Origin): Promise<string | undefined> {
    return this.enqueue({ doc: fn }, origin);
  }

  mutateText(fn: TextMutation, origin?: Origin): Promise<string | undefined> {
    return this.enqueue({ text: (current) => parseOrFail(fn(current.text)) }, origin);
  }

  record(drafts: readonly Draft[]): Promise<string[]> {
    const journal = this.backend.history;
    if (!journal || drafts.length === 0) return Promise.resolve([]);
    return this.exclusive(() => journal.record(drafts));
  }

  async replaceText(
    text: string,
    check: (upload: Snapshot) => string | undefined,
  ): Promise<TextOutcome> {
    const plan = await planReplace(text, check, this.options.bcryptRounds);
    if (typeof plan !== 'function') return plan;
    try {
      await this.enqueue({ text: plan });
      return { ok: true };
    } catch (err) {
      if (err instanceof Refused) return err.outcome;
      throw err;
    }
  }

  reload(): Promise<void> {
    return this.exclusive(() => this.refresh(this.backend.changeSource ?? 'file')).catch(
      () => undefined,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    // Wait for every queued group, not only the one in flight: a process that exits after
    // close() must not be holding a lock or leave a temp file.
    do {
      await this.chain.catch(() => undefined);
      await new Promise((resolve) => setImmediate(resolve));
    } while (this.flushing);
    await this.backend.close();
  }

  private snapshotFor(next: Parsed): Snapshot {
    return new Snapshot(
      next.snapshot ?? deepFreeze((next.parsed.doc.toJS() ?? {}) as ProxyConfig),
      next.text,
    );
  }

  /** Take `next` as the current config; listeners hear of it when the values changed. */
  private adopt(
    next: Parsed,
    stored: StoredText | { readonly version: TextVersion; readonly readOnly?: undefined },
    source: ConfigChange['source'],
    ids: readonly string[] = [],
  ): void {
    const before = this.snap.config;
    this.snap = this.snapshotFor(next);
    this.current = next.snapshot ? next : { ...next, snapshot: this.snap.config };
    this.version = stored.version;
    this.readOnly = stored.readOnly;
    this.error = stored.readOnly;
    if (!isDeepStrictEqual(before, this.snap.config))
      this.emit(ids.length > 0 ? { source, id: ids.at(-1) as string, ids } : { source });
  }

  /** Load the stored text; adopt it when it changed. A text that is not a usable config keeps the last good one for reads. */
  private async refresh(source: ConfigChange['source']): Promise<void> {
    let stored: StoredText;
    try {
      stored = await this.backend.load();
    } catch (err) {
      if (err instanceof StoreError && err.code === 'SAVE_FAILED') this.error = err.reason;
      throw err;
    }
    if (
      stored.version === this.version &&
      stored.text === this.current.text &&
      this.error === this.readOnly
    ) {
      this.readOnly = this.error = stored.readOnly;
      return;
    }
    const parsed = parseConfigText(stored.text);
    if ('error' in parsed) {
      this.version = stored.version;
      if (this.error !== parsed.error)
        this.options.logger.warn(
          `cli-proxy-management: the stored config is not valid: ${parsed.error}`,
        );
      this.error = parsed.error;
      return;
    }
    if (stored.text === this.current.text) {
      this.version = stored.version;
      this.readOnly = this.error = stored.readOnly;
      return;
    }
    const ids = await this.recordEdit(this.current, { text: stored.text, parsed });
    this.adopt({ text: stored.text, parsed }, stored, source, ids);
  }

  /**
   * A change found on load becomes a `file` entry when the engine records such edits (the file
   * engine: unless another process sharing the file recorded it already). A failure is logged.
   */
  private async recordEdit(before: Parsed, after: Parsed): Promise<string[]> {
    const journal = this.backend.history;
    if (!journal?.recordEdit) return [];
    const draft = (): Draft =>
      draftOf(
        {
          origin: FILE,
          before: before.text,
          beforeConfig: this.snap.config,
          after: after.text,
          afterConfig: (after.parsed.doc.toJS() ?? {}) as ProxyConfig,
        },
        new Date(),
      );
    try {
      return await journal.recordEdit(before.text, after.text, draft);
    } catch (err) {
      this.options.logger.warn(
        `cli-proxy-management: an edit of the config could not be recorded in its history (${err instanceof StoreError ? err.code : 'error'})`,
      );
      return [];
    }
  }

  /** The entries of a commit's steps; the last one ends at the text stored (its key hashed). */
  private drafts(steps: readonly StepOf[], next: Parsed, sealed: Parsed): Draft[] {
    const time = new Date();
    const last = steps.length - 1;
    return steps.map((s, i) =>
      draftOf(
        i === last && sealed !== next
          ? {
              ...s.step,
              after: sealed.text,
              afterConfig: (sealed.parsed.doc.toJS() ?? {}) as ProxyConfig,
            }
          : s.step,
        time,
      ),
    );
  }

  private async commit(batch: Pending[]): Promise<void> {
    let stale = this.error !== undefined || this.version === undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (stale) {
        try {
          await this.refresh(this.backend.changeSource ?? 'file');
        } catch (err) {
          return this.failAll(
            batch,
            err instanceof StoreError ? err : saveFailed('config is not usable'),
          );
        }
        if (this.error !== undefined) return this.failAll(batch, saveFailed(this.error));
      }
      const base = this.current;
      const journal = this.backend.history;
      const { next, done, failed, steps } = journal
        ? applySteps(base, batch)
        : { ...applyGroup(base, batch), steps: [] };
      if (!next || done.length === 0) {
        // Nothing to store: true only of the newest text, so make sure this is it.
        if (stale) return this.settle(done, failed, false);
        stale = true;
        continue;
      }
      let result;
      let sealed: Parsed;
      try {
        sealed = await sealKey(this.snap, next, this.options.bcryptRounds);
        const entries = journal && steps.length > 0 ? this.drafts(steps, next, sealed) : undefined;
        result = await (entries
          ? this.backend.save(sealed.text, this.version as TextVersion, entries)
          : this.backend.save(sealed.text, this.version as TextVersion));
      } catch (err) {
        return this.failAll(batch, err instanceof StoreError ? err : saveFailed('write failed'));
      }
      if (result.saved) {
        const ids = result.ids ?? [];
        this.adopt(sealed, result, 'api', ids);
        const idOf = new Map<Pending, string>();
        steps.forEach((s, i) =>
          ids[i] === undefined ? undefined : idOf.set(s.p, ids[i] as string),
        );
        return this.settle(done, failed, true, idOf);
      }
      stale = true; // another writer stored first: the group again, on its text
    }
    this.failAll(
      batch,
      saveFailed('the config kept changing while it was being saved; nothing was written'),
    );
  }

  private settle(
    done: readonly Pending[],
    failed: readonly [Pending, unknown][],
    written: boolean,
    ids?: ReadonlyMap<Pending, string>,
  ): void {
    this.published(done.length, failed.length, written);
    for (const p of done) p.resolve(ids?.get(p));
    for (const [p, error] of failed) p.reject(error);
  }

  /** Run `task` after every earlier task: loads and saves never interleave. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private published(mutations: number, failed: number, written: boolean): void {
    if (commitChannel.hasSubscribers)
      commitChannel.publish({ mutations, failed, written } satisfies CommitMessage);
  }

  /** Settle a whole group with one error. */
  private failAll(batch: readonly Pending[], err: unknown): void {
    for (const p of batch) p.reject(err);
    this.published(0, batch.length, false);
  }

  private emit(change: ConfigChange): void {
    for (const listener of this.listeners) {
      try {
        listener(this.snap.config, change);
      } catch {
        this.options.logger.warn('cli-proxy-management: a change listener threw');
      }
    }
  }

  /** A whole-text write's promise as an outcome (for {@link TextEvents.edited}). */
  private async textOutcome(write: Promise<unknown>): Promise<TextOutcome> {
    try {
      await write;
      return { ok: true };
    } catch (err) {
      if (err instanceof Refused) return err.outcome;
      if (err instanceof StoreError && err.code === 'UNAVAILABLE')
        return { ok: false, reason: 'unavailable', message: err.reason };
      return {
        ok: false,
        reason: 'save_failed',
        message: err instanceof StoreError ? err.reason || err.code : 'error',
      };
    }
  }

  private enqueue(edit: Pending['edit'], origin?: Origin): Promise<string | undefined> {
    if (this.closed) return Promise.reject(saveFailed('router closed'));
    const from = origin ?? requestOrigin() ?? SYSTEM;
    return new Promise<string | undefined>((resolve, reject) => {
      this.queue.push({ edit, origin: from, resolve, reject });
      // The commit loop serves every request queued while it runs: it belongs to none of them.
      if (!this.flushing) outsideRequests(() => void this.flush());
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
      this.options.logger.warn(
        `cli-proxy-management: unexpected error while saving the config: ${err instanceof Error ? err.name : typeof err}`,
      );
      this.failAll(batch, saveFailed('unexpected error'));
    }
  }
}
