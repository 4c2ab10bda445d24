import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import type multerType from 'multer';
import { badBody, HttpError } from '../http/errors';
import { StoreError } from '../store/errors';
import { tokenFileName } from '../store/token-store';
import { queryParam } from '../http/request';
import { defineRoutes, ok, type Handler } from '../http/routes';
import { isPlainObject } from '../plain-data';
import type { ResolvedFiles } from '../settings';
import type { ResourceContext } from './context';

const DELETE_ALL = new Set(['true', '1', '*']);

const fileNotFound = (): HttpError => new HttpError(404, 'file not found');

/**
 * A name from `?name=` or a multipart file name, checked by the token store's one rule.
 * A multipart name that is fine but for its ending answers `file must be .json`.
 */
export function authFileName(raw: unknown, notJson = 'name must end with .json'): string {
  try {
    return tokenFileName(raw);
  } catch (err) {
    if (err instanceof StoreError && err.code === 'NAME_NOT_JSON') throw new HttpError(400, notJson);
    throw err;
  }
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
function uploadError(err: unknown, multer: typeof multerType): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof multer.MulterError) {
    if (err.code === 'LIMIT_FILE_SIZE' || err.code === 'LIMIT_FIELD_VALUE') return new HttpError(413, 'request body too large');
    return badBody(err.message);
  }
  return badBody('malformed multipart body');
}

/**
 * Routes of the `files` row over the router's token store (CONTRACT section 7):
 * `GET <path>`, `GET <path>/download?name=`, `POST <path>` (multipart field `file`, or a raw
 * body with `?name=`), `DELETE <path>?name=` and `?all=true|1|*`. The name and symlink rules
 * live in the store; this file is HTTP only: multer, headers, handlers.
 */
export function authFilesRoutes(router: Router, row: ResolvedFiles, ctx: ResourceContext): void {
  const { tokens } = ctx;

  // Memory storage: nothing is written anywhere until the upload is accepted, so no temp file
  // can be left behind. Files of other fields are skipped unread. Multer is loaded on the first
  // multipart request (a host that never uploads does not pay for it at start-up).
  let multipart: Promise<{ multer: typeof multerType; handler: RequestHandler }> | undefined;
  const loadMultipart = () =>
    (multipart ??= import('multer').then((m) => {
      const multer = (m as { default?: typeof multerType }).default ?? (m as unknown as typeof multerType);
      const handler = multer({
        storage: multer.memoryStorage(),
        // The name the client sent, path included: `../x.json` must be refused, not cut to `x.json`.
        preservePath: true,
        defParamCharset: 'utf8',
        limits: { fileSize: ctx.uploadLimit, files: 4, fields: 16, fieldSize: 64 * 1024, parts: 32, headerPairs: 64 },
        fileFilter: (_req, file, cb) => cb(null, file.fieldname === 'file'),
      }).any();
      return { multer, handler };
    }));
  const raw = express.raw({ type: () => true, limit: ctx.uploadLimit });
  const body: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    if (req.is('multipart')) {
      loadMultipart().then(
        ({ multer, handler }) => handler(req, res, (err?: unknown) => next(err === undefined ? undefined : uploadError(err, multer))),
        next,
      );
      return;
    }
    raw(req, res, next);
  };

  const list: Handler = async (_req, res) => {
    const files = await tokens.list();
    res.json({ files: files.map((f) => ({ name: f.name, size: f.size, modtime: f.modtime.toISOString() })) });
  };

  const download: Handler = async (req, res) => {
    const name = authFileName(queryParam(req, 'name', 'invalid name'));
    const file = await tokens.read(name);
    if (!file) throw fileNotFound();
    res.status(200);
    res.setHeader('Content-Disposition', contentDisposition(name));
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Content-Length', String(file.data.length));
    res.end(file.data);
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
    await tokens.write(name, data);
    ok(res);
  };

  const del: Handler = async (req, res) => {
    const all: unknown = req.query.all;
    if (typeof all === 'string' && DELETE_ALL.has(all)) {
      const deleted = await tokens.removeAll();
      res.json({ status: 'ok', deleted });
      return;
    }
    const name = authFileName(queryParam(req, 'name', 'invalid name'));
    if (!(await tokens.remove(name))) throw fileNotFound();
    ok(res);
  };

  defineRoutes(router, row.path, { get: list, post: upload, delete: del }, { post: [body] });
  defineRoutes(router, `${row.path}/download`, { get: download });
}
