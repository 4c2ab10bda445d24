// The storage engine interfaces: what an engine implements (a text backend for the config, a
// token backend for the auth files, optionally a shared lock-out store) and what it is given.
// The guide for writing an engine is README.md beside this file.
import type { Draft } from '../history/entry';
import type { HistoryReader } from '../history/journal';
import type { TokenStore } from './tokens';
import type { OAuthSessionStore } from '../oauth/types';

/** Lock-out state of one client, as a {@link LockoutStore} keeps it. */
export interface LockoutRecord {
  /** Failed attempts counted in the current window. */
  readonly failures: number;
  /** Epoch milliseconds at which the record (and any lock) expires. */
  readonly resetTime: number;
}

/**
 * Where failed key attempts are counted. The memory default suits one process; a cluster
 * passes a shared implementation (Redis, a database). Methods may be sync or async.
 */
export interface LockoutStore {
  /** Called once by the router with its settings, before any other call. */
  init?(settings: { readonly windowMs: number }): void;
  /** The live record of `key`, or `undefined` when there is none or it expired. */
  get(key: string): LockoutRecord | undefined | Promise<LockoutRecord | undefined>;
  /** Count one failure of `key`; the window restarts at each failure. Returns the new record. */
  increment(key: string): LockoutRecord | Promise<LockoutRecord>;
  /** Forget `key` (called after a successful authentication). */
  reset(key: string): void | Promise<void>;
}

/** Minimal logger; the router never passes it a secret. */
export interface Logger {
  /** A warning (a key could not be hashed on disk, an unexpected error); never holds a secret. */
  warn(message: string): void;
  /** An error that leaves the API disabled (an unusable management key). Default: `warn`. */
  error?(message: string): void;
}
/** A version of the stored config text: any value the engine picks, compared with `===`. */
export type TextVersion = string | number;

/** The config text as an engine stores it. */
export interface StoredText {
  /** The YAML text, exactly as stored (the user's comments and layout included). */
  readonly text: string;
  /** Changes whenever the stored text may have changed (a counter, a file's identity). */
  readonly version: TextVersion;
  /**
   * Set when the text can be read but must never be written back (the file engine: its bytes
   * are not UTF-8): every write is refused with this reason, reads serve the text.
   */
  readonly readOnly?: string;
}

/** What {@link ConfigBackend.save} did: stored (with the new version), or not, because the version moved on. */
export type SaveResult =
  | { readonly saved: true; readonly version: TextVersion; readonly ids?: readonly string[] }
  | { readonly saved: false };

/** How much history a router keeps (its `history` option, resolved). */
export interface HistoryLimits {
  /** Most entries kept; older ones are dropped. */
  readonly maxEntries: number;
  /** Most bytes of entries kept (their JSON, diffs included). */
  readonly maxBytes: number;
  /** The file engine's journal file (default: the config's real path + `.history`). */
  readonly file?: string | undefined;
}

/**
 * The optional history part of a {@link ConfigBackend}: where the entries of the config's
 * changes are kept and read. The core builds every entry (diff, key hidden, who and when); the
 * engine only stores them, with the text they belong to (see {@link ConfigBackend.save}).
 */
export interface ConfigJournal extends HistoryReader {
  /**
   * Store entries of changes that are not of the config text (auth files), in order with the
   * config's own; resolves with their ids (decimal, increasing).
   */
  record(drafts: readonly Draft[]): Promise<string[]>;
  /**
   * Optional: a change of the text found by `load` and not made through `save` (an edit on
   * disk). Store `draft()` as one entry and resolve with its id, or resolve with `[]` when it is
   * recorded already (another process sharing the file saved it with its entries).
   */
  recordEdit?(before: string, after: string, draft: () => Draft): Promise<string[]>;
}

/** Why a whole-text write was refused (see {@link TextEvents.edited}). */
export type TextRefusal = 'invalid_yaml' | 'invalid_config' | 'save_failed' | 'unavailable';

/** What {@link TextEvents.edited} and a whole-text write answer. */
export type TextOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: TextRefusal; readonly message: string };

/** How an engine tells the core of changes it did not make through {@link ConfigBackend.save}. */
export interface TextEvents {
  /**
   * The stored text may have changed (an edit on disk, another replica's commit, a reconnect):
   * the core calls {@link ConfigBackend.load} again, in turn with its writes. `stillNeeded`,
   * when given, is asked when that turn comes (a notice of a version already loaded meanwhile
   * needs no load). Rejects when that load rejects.
   */
  changed(stillNeeded?: () => boolean): Promise<void>;
  /**
   * A person edited a copy of the text that the engine keeps (a mirror file): the core stores
   * `merge(newest)` as a whole-text write, checked and with a plaintext key hashed, like every
   * write. Resolves with what happened (never rejects).
   */
  edited(merge: (newest: string) => string): Promise<TextOutcome>;
  /**
   * A text the engine must store before any write of the core (a seed copied from a local file):
   * checked to be a usable config, its plaintext management key replaced by the hash. Rejects
   * with a `StoreError` (`SAVE_FAILED`, the reason safe to show) when it is not usable.
   */
  prepare(text: string): Promise<string>;
}

/**
 * Where the config text lives. An engine stores and fetches text: it never parses YAML or
 * hashes a key (the core does both, for every engine). The core calls `load` and `save` one at a
 * time, never concurrently.
 */
export interface ConfigBackend {
  /**
   * The text known when the engine opened, served until {@link ConfigBackend.start} resolves.
   * `cached: false` (the file engine): it is the source, and a text that is not a usable config
   * is a fatal `ERR_CONFIG_INVALID` at construction. `cached: true` (a local copy of a shared
   * store): used only when it is a usable config. Absent: an empty config until the first load.
   */
  readonly initial?: StoredText & { readonly cached: boolean };
  /**
   * What `onChange` names a change the engine reports (not made through this router): `'file'`
   * (default: an edit on disk) or `'replica'` (a shared store: another replica's commit).
   */
  readonly changeSource?: 'file' | 'replica';
  /** Begin: tell `events` of changes from now on. Resolves once `load` can serve (rejects for a fatal start-up error). */
  start(events: TextEvents): Promise<void>;
  /**
   * The newest text and its version. Rejects with a `StoreError`: `UNAVAILABLE` while shared
   * storage cannot be reached, `SAVE_FAILED` with the reason when the source is not usable
   * (missing, not a regular file); reads then keep the last good config.
   */
  load(): Promise<StoredText>;
  /**
   * Store `text` if the stored version is still `expected` (compare-and-swap), atomically and
   * durably: `{ saved: true, version }` once it is, `{ saved: false }` when the version moved
   * on (the core then loads, applies its changes again and retries). Rejects with a
   * `StoreError` for a failure (`SAVE_FAILED`, `UNAVAILABLE`); nothing may have been stored then.
   */
  save(text: string, expected: TextVersion, entries?: readonly Draft[]): Promise<SaveResult>;
  /**
   * The history, when the engine keeps one (the router mounts the history routes then). With it,
   * `save` gets `entries` (one per request of a group commit, oldest first) and stores them with
   * the text, all or nothing: staged as durably as the text before it is in place (file), in the
   * same transaction as the compare-and-swap (a database); `{ saved: true }` then carries their
   * `ids` in the same order.
   */
  readonly history?: ConfigJournal;
  /** Stop telling of changes and release every resource; called once, after the last save. */
  close(): Promise<void>;
}

/** What a {@link Storage} engine is given for one router. */
export interface StorageContext {
  /** The router's `configPath` argument, as given. */
  readonly configPath: string;
  /** The router's `authDir`, `~` expanded and resolved. */
  readonly authDir: string;
  /** Watch the sources for changes made outside the router (`watch` option). */
  readonly watch: boolean;
  /** Where warnings go (never with a secret in them). */
  readonly logger: Logger;
  /** Keep a history of the config's changes within these limits (`undefined`: off). */
  readonly history?: HistoryLimits | undefined;
}

/** The backends one router reads and writes through. */
export interface OpenedStorage {
  /** The config text. */
  readonly config: ConfigBackend;
  /** The token files. */
  readonly tokens: TokenStore;
  /** A lock-out store shared by every replica, used unless the host passes `lockoutStore`. */
  readonly lockout?: LockoutStore;
  /** A login session store shared by every replica, used unless the host passes `oauth.sessionStore`. */
  readonly oauthSessions?: OAuthSessionStore;
}

/**
 * A storage engine: where the config text and the token files live. The file engine
 * ({@link fileStorage}) is the default; `postgresStorage` from `cli-proxy-management/postgres`
 * shares one config and one token folder between replicas. The guide to writing one is
 * `lib/engines/README.md` in the repository.
 */
export interface Storage {
  /**
   * Open the backends of one router. Called once, synchronously, at construction: throw a
   * `ManagementError` for a fatal misconfiguration; slow start-up work goes behind
   * `config.start()`.
   */
  open(context: StorageContext): OpenedStorage;
}
