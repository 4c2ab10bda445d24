/**
 * Why a store operation failed. A store never speaks HTTP: `lib/http/errors.ts` alone turns a
 * code into a status and a body (and says which, in one table).
 */
export type StoreErrorCode =
  /** The config could not be written (the reason says why: not usable, lock, disk...). */
  | 'SAVE_FAILED'
  /** A token file could not be written. */
  | 'WRITE_FAILED'
  /** A token file (or the folder listing) could not be read. */
  | 'READ_FAILED'
  /** The token folder could not be listed. */
  | 'LIST_FAILED'
  /** A token file could not be deleted. */
  | 'DELETE_FAILED'
  /** A token-file name breaks the name rule. */
  | 'INVALID_NAME'
  /** A token-file name is fine except that it does not end in `.json`. */
  | 'NAME_NOT_JSON'
  /** No token file of that name. */
  | 'NOT_FOUND'
  /** The name belongs to a symlink, a folder or another non-regular entry: never replaced. */
  | 'NOT_REGULAR'
  /** The shared storage (a database) cannot be reached now; nothing was changed. */
  | 'UNAVAILABLE'
  /** The config holds something else where a mapping or a list is needed (the reason says where); nothing was changed. */
  | 'CONFIG_CONFLICT';

/** A store failure: a code for the HTTP layer and a reason safe to show (no secret, no path). */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    /** Short, safe to show to a client: never a path, a connection string or a config value. */
    readonly reason = '',
    /** For `UNAVAILABLE`: seconds after which a retry makes sense. */
    readonly retryAfter?: number,
  ) {
    super(reason ? `${code}: ${reason}` : code);
    this.name = 'StoreError';
  }
}

/** `SAVE_FAILED` with `reason`. */
export const saveFailed = (reason: string): StoreError => new StoreError('SAVE_FAILED', reason);

/** The errno code of a file-system error, `'error'` when there is none. */
export const errCode = (err: unknown): string =>
  (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
