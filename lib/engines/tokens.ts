import { StoreError } from './errors';

/** One token file as a listing shows it. */
export interface TokenFileInfo {
  /** The file's name (it passed {@link tokenFileName}). */
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  /** Last modification. */
  readonly modtime: Date;
}

/** One token file with its bytes. */
export interface TokenFile extends TokenFileInfo {
  /** The file's bytes, exactly as stored. */
  readonly data: Buffer;
}

/**
 * The folder of JSON token files, behind an interface so that the file engine (a local folder,
 * the default) and the PostgreSQL engine serve the same routes. Every name a method takes is
 * checked by {@link tokenFileName} first (`INVALID_NAME` / `NAME_NOT_JSON`); only regular files
 * count: a symlink or another non-regular entry is never listed, read, replaced or removed.
 * Failures are {@link StoreError}s; no HTTP in here.
 */
export interface TokenStore {
  /** Regular `.json` files, sorted by name; `[]` when the folder does not exist (yet). */
  list(): Promise<TokenFileInfo[]>;
  /** The file's bytes and metadata, `undefined` when there is no such regular file. */
  read(name: string): Promise<TokenFile | undefined>;
  /**
   * Every regular `.json` file with its bytes, sorted by name (what {@link list} lists, read as
   * {@link read} reads): one call, so an engine can fetch all of them in one round trip. A file
   * that vanishes between listing and reading is left out. `[]` when the folder does not exist.
   */
  readAll(): Promise<TokenFile[]>;
  /** Create or replace the file atomically (mode 0600); `NOT_REGULAR` when the name is a symlink or folder. */
  write(name: string, data: Uint8Array): Promise<void>;
  /**
   * Read-modify-write one file atomically with respect to every other write of this store (and,
   * for a shared engine, of every replica): `edit` gets the current bytes and returns the new
   * ones, or throws to change nothing. Returns false when there is no such file.
   */
  update(name: string, edit: (data: Buffer) => Uint8Array): Promise<boolean>;
  /** Remove the file; false when there was none. */
  remove(name: string): Promise<boolean>;
  /** Remove every regular `.json` file; returns how many were removed. */
  removeAll(): Promise<number>;
  /** Release every resource (watchers, connections). */
  close(): Promise<void>;
}

/** Letters (any script, with their combining marks), decimal digits, space and `._-@+`. */
const NAME_CHARS = /^[\p{L}\p{M}\p{Nd} ._@+-]+$/u;
export const JSON_SUFFIX = /\.json$/i;
const MAX_NAME_BYTES = 255;

/**
 * The one check of a token-file name, for every engine and route: a non-empty string of at
 * most 255 bytes (UTF-8), not starting with `.` nor starting or ending with a space, of letters,
 * digits, space and `._-@+` only (so no `/`, `\`, NUL, control character or `%`), ending in
 * `.json` (any case). A name that passes is a single path component. Names are taken exactly as
 * sent, never trimmed: `" acc.json"` is refused, so no request can reach `acc.json` by it.
 *
 * @throws {StoreError} `INVALID_NAME`, or `NAME_NOT_JSON` for a name that is fine but for its ending.
 */
export function tokenFileName(raw: unknown): string {
  if (
    typeof raw !== 'string' ||
    raw === '' ||
    raw.startsWith('.') ||
    raw.startsWith(' ') ||
    raw.endsWith(' ')
  )
    throw new StoreError('INVALID_NAME');
  if (Buffer.byteLength(raw, 'utf8') > MAX_NAME_BYTES || !NAME_CHARS.test(raw))
    throw new StoreError('INVALID_NAME');
  if (!JSON_SUFFIX.test(raw)) throw new StoreError('NAME_NOT_JSON');
  return raw;
}

/** Whether `name` passes {@link tokenFileName}. */
export function isTokenFileName(name: string): boolean {
  try {
    tokenFileName(name);
    return true;
  } catch {
    return false;
  }
}
