import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import multer from 'multer';
import { constants, promises as fs, lstat as lstatCallback, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { badBody, HttpError, ManagementError } from '../http/errors';
import { atomicWrite, cleanupTempFilesIn } from '../store/atomic-write';
import type { FilesDescriptor } from '../types';
import { defineRoutes, isPlainObject, ok, queryParam, type Handler, type ResourceContext } from './common';

/** Letters (any script, with their combining marks), decimal digits, space and `._-@+`. */
const NAME_CHARS = /^[\p{L}\p{M}\p{Nd} ._@+-]+$/u;
const JSON_SUFFIX = /\.json$/i;
const MAX_NAME_BYTES = 255;
const DELETE_ALL = new Set(['true', '1', '*']);
/** How many `lstat`s `GET /auth-files` keeps in flight at once. */
const LIST_CONCURRENCY = 64;

const invalidName = (): HttpError => new HttpError(400, 'invalid name');
const fileNotFound = (): HttpError => new HttpError(404, 'file not found');
const errCode = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? 'error';

/**
 * The one check of an auth-file name (CONTRACT section 7), for every route: a non-empty string
 * of at most 255 bytes (UTF-8), not starting with `.`, of letters, digits, space and `._-@+`
 * only (so no `/`, `\`, NUL, control character or `%`), ending in `.json` (any case). A name
 * that passes is a single path component inside the folder.
 *
 * @param notJson the error for a name that is fine except for its ending: `name must end with
 *   .json` for `?name=`, `file must be .json` for a multipart file name.
 * @throws {HttpError} `400 invalid name`, or `400 <notJson>`.
 */
export function authFileName(raw: unknown, notJson = 'name must end with .json'): string {
  if (typeof raw !== 'string' || raw === '' || raw.startsWith('.')) throw invalidName();
  if (Buffer.byteLength(raw, 'utf8') > MAX_NAME_BYTES || !NAME_CHARS.test(raw)) throw invalidName();
  if (!JSON_SUFFIX.test(raw)) throw new HttpError(400, notJson);
  return raw;
}

/** The path of a checked name, asserted to be a direct child of `dir` (defence in depth). */
function inside(dir: string, name: string): string {
  const full = path.join(dir, name);
  if (path.dirname(full) !== dir || path.basename(full) !== name) throw invalidName();
  return full;
}

/**
 * `lstat`, `undefined` when the entry is missing, else `500 failed to read file`. On the
 * callback API, which costs about half of `fs.promises.lstat` per call (no `FileHandle`
 * machinery); the listing makes one call per file.
 */
function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  return new Promise((resolve, reject) => {
    lstatCallback(file, (err, st) => {
      if (!err) return resolve(st);
      const code = errCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return resolve(undefined);
      reject(new HttpError(500, `failed to read file: ${code}`));
    });
  });
}

/**
 * At construction: an existing `authDir` must be a folder (a fatal misconfiguration otherwise,
 * reported before the first request). A missing one is fine: it is created by the first upload.
 */
function checkFolder(dir: string): void {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (err) {
    const code = errCode(err);
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new ManagementError('ERR_INVALID_OPTION', `authDir is not a folder: ${dir}`);
    throw new ManagementError('ERR_INVALID_OPTION', `authDir cannot be read: ${dir} (${code})`);
  }
  if (!st.isDirectory()) throw new ManagementError('ERR_INVALID_OPTION', `authDir is not a folder: ${dir}`);
}

/** Regular `.json` files of the folder; `[]` when the folder vanished. Symlinks are not files here. */
async function jsonFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errCode(err) === 'ENOENT') return [];
    throw new HttpError(500, `failed to list files: ${errCode(err)}`);
  }
  return entries
    .filter((e) => e.isFile() && JSON_SUFFIX.test(e.name))
    .map((e) => e.name)
    .sort();
}

/**
 * Open a regular file for reading without following a symlink: `lstat` first (a symlink, a
 * folder, a FIFO or a device is never opened), then `O_NOFOLLOW | O_NONBLOCK`, then `fstat` must
 * show the same regular file (the name may have been swapped in between).
 */
async function openRegular(file: string): Promise<{ handle: fs.FileHandle; size: number } | undefined> {
  const before = await lstatOrUndefined(file);
  if (!before?.isFile()) return undefined;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = errCode(err);
    if (['ENOENT', 'ELOOP', 'EMLINK', 'ENOTDIR', 'ENXIO', 'EISDIR'].includes(code)) return undefined;
    throw new HttpError(500, `failed to read file: ${code}`);
  }
  const st = await handle.stat();
  if (!st.isFile() || st.ino !== before.ino || st.dev !== before.dev) {
    await handle.close();
    return undefined;
  }
  return { handle, size: st.size };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The upload is kept byte for byte, but only when it is UTF-8 text holding one JSON object. */
function isJsonObject(data: Uint8Array): boolean {
  try {
    return isPlainObject(JSON.parse(utf8.decode(data)));
  } catch {
    return false;
  }
}

/**
 * `attachment; filename="<name>"`, plus RFC 6266 `filename*=UTF-8''<percent-encoded>` when the
 * name has a character beyond printable ASCII (the plain `filename` then carries `?` in its
 * place, for old clients). A checked name has no `"` or `\`, so quoting it is safe.
 *
 * Hand-written rather than `res.attachment()`: Express 4 and 5 bundle different majors of
 * `content-disposition`, and 1.x writes `filename=acc1.json` unquoted, so the header would
 * depend on the host's Express; the contract fixes the quoted form.
 */
export function contentDisposition(name: string): string {
  if (/^[\x20-\x7e]*$/.test(name)) return `attachment; filename="${name}"`;
  const fallback = name.replace(/[^\x20-\x7e]/gu, '?');
  const encoded = encodeURIComponent(name).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/** Multer's and busboy's failures as the contract's errors. */
function uploadError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof multer.MulterError) {
    if (err.code === 'LIMIT_FILE_SIZE' || err.code === 'LIMIT_FIELD_VALUE') return new HttpError(413, 'request body too large');
    return badBody(err.message);
  }
  return badBody('malformed multipart body');
}

/**
 * Routes of the `files` row over the router's `authDir` (CONTRACT section 7):
 * `GET <path>`, `GET <path>/download?name=`, `POST <path>` (multipart field `file`, or a raw
 * body with `?name=`), `DELETE <path>?name=` and `?all=true|1|*`.
 *
 * A missing folder is created (0700, parents too) by the first upload that needs it; until then
 * the list is empty. Symlinks and other non-regular entries are never listed, read, replaced or
 * deleted.
 */
export function authFilesRoutes(router: Router, d: FilesDescriptor, ctx: ResourceContext): void {
  const dir = ctx.authDir;
  checkFolder(dir);
  // Temp files of uploads that a crash interrupted (hidden, 0600, never listed): remove them.
  void cleanupTempFilesIn(dir).catch(() => undefined);

  // Memory storage: nothing is written anywhere until the upload is accepted, so no temp file
  // can be left behind. Files of other fields are skipped unread.
  const multipart = multer({
    storage: multer.memoryStorage(),
    // The name the client sent, path included: `../x.json` must be refused, not cut to `x.json`.
    preservePath: true,
    defParamCharset: 'utf8',
    limits: { fileSize: ctx.uploadLimit, files: 4, fields: 16, fieldSize: 64 * 1024, parts: 32, headerPairs: 64 },
    fileFilter: (_req, file, cb) => cb(null, file.fieldname === 'file'),
  }).any();
  const raw = express.raw({ type: () => true, limit: ctx.uploadLimit });
  const body: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    if (req.is('multipart')) {
      multipart(req, res, (err?: unknown) => next(err === undefined ? undefined : uploadError(err)));
      return;
    }
    raw(req, res, next);
  };

  const list: Handler = async (_req, res) => {
    const files: { name: string; size: number; modtime: string }[] = [];
    const names = await jsonFiles(dir);
    // lstat in slices of LIST_CONCURRENCY at once: one at a time, each waits for a round trip
    // to the thread pool, which made 10,000 files take 0.3 s; all at once would queue 10,000
    // requests ahead of every other request's file-system work.
    for (let i = 0; i < names.length; i += LIST_CONCURRENCY) {
      const slice = names.slice(i, i + LIST_CONCURRENCY);
      const stats = await Promise.all(slice.map((name) => lstatOrUndefined(path.join(dir, name))));
      slice.forEach((name, k) => {
        const st = stats[k];
        if (st?.isFile()) files.push({ name, size: st.size, modtime: st.mtime.toISOString() });
      });
    }
    res.json({ files });
  };

  const download: Handler = async (req, res) => {
    const name = authFileName(queryParam(req, 'name', 'invalid name'));
    const opened = await openRegular(inside(dir, name));
    if (!opened) throw fileNotFound();
    const { handle, size } = opened;
    try {
      res.status(200);
      res.setHeader('Content-Disposition', contentDisposition(name));
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Content-Length', String(size));
      if (size === 0) {
        res.end();
        return;
      }
      // At most the bytes fstat saw, so Content-Length holds even if the file grows meanwhile.
      await pipeline(handle.createReadStream({ start: 0, end: size - 1, autoClose: false }), res);
    } finally {
      await handle.close();
    }
  };

  const upload: Handler = async (req, res) => {
    let name: string;
    let data: Uint8Array;
    if (req.is('multipart')) {
      const files = (Array.isArray(req.files) ? req.files : []).filter((f) => f.fieldname === 'file');
      const [file, extra] = files;
      if (!file) throw new HttpError(400, 'no file uploaded');
      if (extra) throw badBody('expected one file in the field "file"');
      name = authFileName(file.originalname, 'file must be .json');
      data = file.buffer;
    } else {
      name = authFileName(queryParam(req, 'name', 'invalid name'));
      data = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    }
    if (!isJsonObject(data)) throw new HttpError(400, 'invalid json');
    const target = inside(dir, name);
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new HttpError(500, `failed to write file: ${errCode(err)}`);
    }
    const existing = await lstatOrUndefined(target);
    // A symlink (or folder, FIFO...) under that name is the owner's doing: never replace it.
    if (existing && !existing.isFile()) throw new HttpError(409, 'not a regular file');
    try {
      await atomicWrite(target, data, 0o600, { keepMode: false });
    } catch (err) {
      throw new HttpError(500, `failed to write file: ${errCode(err)}`);
    }
    ok(res);
  };

  const remove = async (file: string): Promise<boolean> => {
    const st = await lstatOrUndefined(file);
    if (!st?.isFile()) return false;
    try {
      await fs.unlink(file);
      return true;
    } catch (err) {
      if (errCode(err) === 'ENOENT') return false; // a concurrent delete won
      throw new HttpError(500, `failed to delete file: ${errCode(err)}`);
    }
  };

  const del: Handler = async (req, res) => {
    const all: unknown = req.query.all;
    if (typeof all === 'string' && DELETE_ALL.has(all)) {
      let deleted = 0;
      for (const name of await jsonFiles(dir)) if (await remove(path.join(dir, name))) deleted++;
      res.json({ status: 'ok', deleted });
      return;
    }
    const name = authFileName(queryParam(req, 'name', 'invalid name'));
    if (!(await remove(inside(dir, name)))) throw fileNotFound();
    ok(res);
  };

  defineRoutes(router, d.path, { get: list, post: upload, delete: del }, { post: [body] });
  defineRoutes(router, `${d.path}/download`, { get: download });
}
