import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import type Multer from 'multer';
import { badBody, HttpError, storeHttpError } from '../../http/errors';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../../http/json-body';
import { StoreError } from '../../engines/errors';
import { tokenFileName } from '../../engines/tokens';
import { queryParam } from '../../http/request';
import { ok, sendJson } from '../../http/reply';
import type { Handler, RouteTable } from '../../http/routes';
import { isPlainObject, PROTOTYPE_NAMES } from '../../plain-data';
import { loadSync } from '../../load-sync';
import type { ResolvedFiles } from '../../settings';
import { authFileEntry, MAX_WEIGHT } from './entry';
import type { ResourceContext } from '../context';
import { filesDraft } from '../../history/entry';
import { requestOrigin, SYSTEM } from '../../history/origin';
import {
  getMember,
  jsonNode,
  parseJsonDoc,
  removeMember,
  renderJsonDoc,
  setMember,
  setPath,
  type JsonNode,
} from './json-doc';

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
    if (err instanceof StoreError && err.code === 'NAME_NOT_JSON')
      throw new HttpError(400, notJson);
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
 * depend on the host's Express; the API fixes the quoted form.
 */
export function contentDisposition(name: string): string {
  if (/^[\x20-\x7e]*$/.test(name)) return `attachment; filename="${name}"`;
  const fallback = name.replace(/[^\x20-\x7e]/gu, '?');
  const encoded = encodeURIComponent(name).replace(
    /['()*!]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

let multerModule: typeof Multer | undefined;
/** multer, loaded with the first multipart request (a host that never uploads never pays for it). */
const multer = (): typeof Multer => (multerModule ??= loadSync('multer') as typeof Multer);

/** Multer's and busboy's failures as the API's errors. */
function uploadError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof multer().MulterError) {
    if (err.code === 'LIMIT_FILE_SIZE' || err.code === 'LIMIT_FIELD_VALUE')
      return new HttpError(413, 'request body too large');
    if (err.code === 'LIMIT_FILE_COUNT') return new HttpError(413, 'too many files');
    return badBody(err.message);
  }
  return badBody('malformed multipart body');
}

/** The message of a failure of one file in a batch: what the same request for that file alone would answer. */
function failureMessage(err: unknown): string {
  if (err instanceof HttpError) return err.error;
  if (err instanceof StoreError) return storeHttpError(err).error;
  throw err;
}

interface Failure {
  name: string;
  error: string;
}

/**
 * Run `one` on each item of a batch, in order. The storage being unavailable is not one item's
 * failure: the batch stops there, and when nothing was done yet the whole request answers as a
 * single mutation does (`503` with `Retry-After`); else the items left are failed with that reason.
 */
async function eachOfBatch<T>(
  items: readonly T[],
  nameOf: (item: T) => string,
  one: (item: T) => Promise<string>,
  res: Response,
): Promise<{ done: string[]; failed: Failure[] }> {
  const done: string[] = [];
  const failed: Failure[] = [];
  for (const [i, item] of items.entries()) {
    try {
      done.push(await one(item));
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'UNAVAILABLE')) {
        failed.push({ name: nameOf(item), error: failureMessage(err) });
        continue;
      }
      if (done.length === 0 && failed.length === 0) throw err;
      res.setHeader('Retry-After', String(err.retryAfter ?? 5));
      for (const rest of items.slice(i))
        failed.push({ name: nameOf(rest), error: failureMessage(err) });
      break;
    }
  }
  return { done, failed };
}

/** `200 {"status":"ok", <count>: N, "files": [...]}`, or `207` with `"partial"` and `failed` when any failed. */
function batchAnswer(
  res: Response,
  count: 'uploaded' | 'deleted',
  files: string[],
  failed: Failure[],
): void {
  if (failed.length === 0) {
    sendJson(res, { status: 'ok', [count]: files.length, files });
    return;
  }
  sendJson(res, { status: 'partial', [count]: files.length, files, failed }, 207);
}

/**
 * The names of a delete: repeated `?name=` when there is any, else the JSON
 * body (`{"names": [...]}`, `{"name": "a"}`, both, or a bare array); blanks dropped. One name
 * sent is a single delete and is taken exactly as sent (a padded one is `400 invalid name`, like
 * every other route); a list of several is trimmed, blanks and repeats dropped, in the order
 * given (safe: no stored name starts or ends with a space). A `?name=` that is not a plain
 * string list (`name[x]=` under Express 4's query parser) is an invalid name; a body of another
 * shape is an invalid body.
 */
function deleteNames(req: Request): string[] {
  const query: unknown = (req.query as Record<string, unknown>).name;
  let raw: unknown[];
  if (query !== undefined) {
    raw = Array.isArray(query) ? query : [query];
    if (raw.some((n) => typeof n !== 'string')) throw new HttpError(400, 'invalid name');
  } else {
    const body: unknown = req.body;
    if (Array.isArray(body)) raw = body;
    else if (isPlainObject(body)) {
      const { names, name } = body;
      if (names !== undefined && !Array.isArray(names))
        throw badBody('"names" must be an array of strings');
      raw = [...((names as unknown[] | undefined) ?? []), ...(name === undefined ? [] : [name])];
    } else if (body === undefined || (Buffer.isBuffer(body) && body.length === 0)) raw = [];
    else throw badBody('expected {"names": [...]}, {"name": "..."} or an array of names');
    if (raw.some((n) => typeof n !== 'string')) throw badBody('names must be strings');
  }
  const given = (raw as string[]).filter((n) => n.trim() !== '');
  if (given.length === 1) return given;
  return [...new Set(given.map((n) => n.trim()))];
}

/** Members of `PATCH /auth-files/fields` spelled in kebab case that are stored in snake case. */
const KEBAB_FIELDS = new Set([
  'api-key',
  'base-url',
  'disable-cooling',
  'excluded-models',
  'fingerprint-profile',
  'model-aliases',
  'proxy-url',
  'request-retry',
  'request-scoped-errors',
  'tool-prefix-disabled',
]);

const FORBIDDEN_SEGMENTS = PROTOTYPE_NAMES;

/** One edit of a token file, checked before the file is read. */
type FieldEdit =
  | { readonly op: 'set'; readonly path: readonly string[]; readonly value: JsonNode }
  | { readonly op: 'remove'; readonly key: string }
  | { readonly op: 'headers'; readonly headers: Readonly<Record<string, string>> };

/** The name of a PATCH body: present and not blank, then (as sent, untrimmed) the one name rule. */
function patchName(body: Record<string, unknown>): string {
  const { name } = body;
  if (typeof name !== 'string' || name.trim() === '') throw new HttpError(400, 'name is required');
  return name;
}

/** The edits of a `PATCH /auth-files/fields` body, every rule checked. */
function fieldEdits(body: Record<string, unknown>): FieldEdit[] {
  const fields = new Map<string, unknown>();
  for (const [key, value] of Object.entries(body)) {
    if (key === 'name') continue;
    const snake = KEBAB_FIELDS.has(key) ? key.replaceAll('-', '_') : key;
    // The snake spelling wins over the kebab one, whichever comes first.
    if (snake !== key && Object.prototype.hasOwnProperty.call(body, snake)) continue;
    fields.set(snake, value);
  }
  if (fields.size === 0) throw new HttpError(400, 'no fields to update');
  const edits: FieldEdit[] = [];
  for (const [field, value] of fields) {
    const path = field.split('.');
    if (path.some((seg) => seg === '')) throw new HttpError(400, `invalid field path: ${field}`);
    if (path.some((seg) => FORBIDDEN_SEGMENTS.has(seg)))
      throw badBody('forbidden key (__proto__, constructor or prototype)');
    // The file nests as deep as the path plus the value: bounded like a JSON body (each level
    // also indents every line below it, so depth alone could grow a 4 KB request into megabytes).
    if (path.length > MAX_JSON_DEPTH || nestedDeeperThan(value, MAX_JSON_DEPTH - path.length)) {
      throw new HttpError(
        400,
        `field path too deep: the result would nest deeper than ${MAX_JSON_DEPTH} levels`,
      );
    }
    const [top] = path as [string, ...string[]];
    if (
      (top === 'weight' || top === 'request_retry' || top === 'request-retry') &&
      path.length > 1
    ) {
      throw new HttpError(400, `${top} does not support nested fields`);
    }
    if (field === 'weight') {
      if (value === null) edits.push({ op: 'remove', key: 'weight' });
      else if (typeof value !== 'number' || !Number.isSafeInteger(value))
        throw new HttpError(400, 'weight must be an integer');
      else if (value > MAX_WEIGHT) throw new HttpError(400, `weight must not exceed ${MAX_WEIGHT}`);
      else edits.push({ op: 'set', path, value: jsonNode(Math.max(value, 0)) });
    } else if (field === 'request_retry') {
      if (
        value === null ||
        (typeof value === 'number' && Number.isSafeInteger(value) && value < 0)
      ) {
        edits.push({ op: 'remove', key: 'request_retry' });
      } else if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw new HttpError(400, 'request_retry must be an integer or null');
      } else edits.push({ op: 'set', path, value: jsonNode(value) });
    } else if (field === 'headers') {
      if (!isPlainObject(value) || Object.values(value).some((v) => typeof v !== 'string')) {
        throw new HttpError(400, 'headers must be an object of strings');
      }
      edits.push({ op: 'headers', headers: value as Record<string, string> });
    } else edits.push({ op: 'set', path, value: jsonNode(value) });
  }
  return edits;
}

/** Merge `headers` into the file's `headers` object: `""` removes one; an empty result removes the member. */
function mergeHeaders(
  doc: JsonNode & { kind: 'object' },
  headers: Readonly<Record<string, string>>,
): void {
  const current = getMember(doc, 'headers');
  const target: JsonNode & { kind: 'object' } =
    current?.kind === 'object' ? current : { kind: 'object', members: [] };
  for (const [name, value] of Object.entries(headers)) {
    if (value === '') removeMember(target, name);
    else setMember(target, name, jsonNode(value));
  }
  if (target.members.length === 0) removeMember(doc, 'headers');
  else setMember(doc, 'headers', target);
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BOM = '\uFEFF';

/**
 * Apply `change` to a token file's JSON object, keeping member order, numbers and strings as
 * written; the result has a 2-space indent and keeps the file's BOM and final newline, if any.
 * A file that is not UTF-8 JSON holding an object is left alone: `409 file is not a JSON object`.
 */
function editJsonObject(
  data: Buffer,
  change: (doc: JsonNode & { kind: 'object' }) => void,
  limit: number,
): Uint8Array {
  let doc: JsonNode;
  let text: string;
  try {
    text = utf8Strict.decode(data);
    doc = parseJsonDoc(text.startsWith(BOM) ? text.slice(1) : text);
  } catch {
    throw new HttpError(409, 'file is not a JSON object');
  }
  if (doc.kind !== 'object') throw new HttpError(409, 'file is not a JSON object');
  change(doc);
  const bom = text.startsWith(BOM) ? BOM : '';
  const newline = /\r?\n$/.exec(text)?.[0] ?? '';
  const out = Buffer.from(bom + renderJsonDoc(doc) + newline, 'utf8');
  // An edit may not grow a file past what an upload may send.
  if (out.length > limit && out.length > data.length) throw new HttpError(413, 'file too large');
  return out;
}

/**
 * Routes of the `files` row over the router's token store:
 * `GET <path>` (entries derived from each file), `GET <path>/download?name=`, `POST <path>`
 * (multipart, one or several `file` parts, or a raw body with `?name=`), `DELETE <path>` (one or
 * several names, or `?all=true|1|*`), `PATCH <path>/status` and `PATCH <path>/fields`. The name
 * and symlink rules live in the store; this file is HTTP only.
 */
export function authFilesRoutes(
  routes: RouteTable,
  row: ResolvedFiles,
  ctx: ResourceContext,
): void {
  const { tokens } = ctx;
  /** A history entry for changed auth files (their names only), before the answer; a failure to record is logged, the change stands. */
  const recorded = async (names: readonly string[]): Promise<void> => {
    if (names.length === 0) return;
    try {
      await ctx.store.record([filesDraft(requestOrigin() ?? SYSTEM, names, new Date())]);
    } catch (err) {
      ctx.logger.warn(
        `cli-proxy-management: an auth-file change could not be recorded in the history (${err instanceof StoreError ? err.code : 'error'})`,
      );
    }
  };

  // Memory storage: nothing is written anywhere until the upload is accepted, so no temp file
  // can be left behind. Files of other fields are skipped unread.
  const makeMultipart = (): RequestHandler =>
    multer()({
      storage: multer().memoryStorage(),
      // The name the client sent, path included: `../x.json` must be refused, not cut to `x.json`.
      preservePath: true,
      defParamCharset: 'utf8',
      limits: {
        fileSize: ctx.uploadLimit,
        files: ctx.uploadMaxFiles,
        fields: 16,
        fieldSize: 64 * 1024,
        parts: ctx.uploadMaxFiles + 16,
        headerPairs: 64,
      },
      fileFilter: (_req, file, cb) => cb(null, file.fieldname === 'file'),
    }).any();
  let multipart: RequestHandler | undefined;
  const raw = express.raw({ type: () => true, limit: ctx.uploadLimit });
  const body: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    if (req.is('multipart')) {
      multipart ??= makeMultipart();
      multipart(req, res, (err?: unknown) =>
        next(err === undefined ? undefined : uploadError(err)),
      );
      return;
    }
    raw(req, res, next);
  };

  const list: Handler = async (req, res) => {
    const entries = (await tokens.readAll()).map(authFileEntry);
    sendJson(res, {
      files: ctx.authFileState ? await ctx.authFileState(entries, req, res) : entries,
    });
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

  /** Check and store one uploaded file; its name. */
  const store = async (rawName: unknown, data: Uint8Array, notJson?: string): Promise<string> => {
    const name = authFileName(rawName, notJson);
    if (!isJsonObject(data)) throw new HttpError(400, 'invalid json');
    await tokens.write(name, data);
    ctx.authFileWritten?.(name, 'upload');
    return name;
  };

  const upload: Handler = async (req, res) => {
    if (!req.is('multipart')) {
      await recorded([
        await store(
          queryParam(req, 'name', 'invalid name'),
          Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        ),
      ]);
      return ok(res);
    }
    const files = (Array.isArray(req.files) ? req.files : []).filter((f) => f.fieldname === 'file');
    const [first] = files;
    if (!first) throw new HttpError(400, 'no file uploaded');
    if (files.length === 1) {
      await recorded([await store(first.originalname, first.buffer, 'file must be .json')]);
      return ok(res);
    }
    const { done, failed } = await eachOfBatch(
      files,
      (f) => f.originalname,
      (f) => store(f.originalname, f.buffer, 'file must be .json'),
      res,
    );
    await recorded(done);
    batchAnswer(res, 'uploaded', done, failed);
  };

  /** Remove one file by a name as sent; its checked name. */
  const removeOne = async (raw: string): Promise<string> => {
    const name = authFileName(raw);
    if (!(await tokens.remove(name))) throw fileNotFound();
    return name;
  };

  const del: Handler = async (req, res) => {
    const all: unknown = req.query.all;
    if (typeof all === 'string' && DELETE_ALL.has(all)) {
      const names = (await tokens.list()).map((f) => f.name);
      const deleted = await tokens.removeAll();
      if (deleted > 0) await recorded(names);
      sendJson(res, { status: 'ok', deleted });
      return;
    }
    const names = deleteNames(req);
    const [only] = names;
    if (only === undefined) throw new HttpError(400, 'invalid name');
    if (names.length === 1) {
      await recorded([await removeOne(only)]);
      return ok(res);
    }
    const { done, failed } = await eachOfBatch(names, (n) => n, removeOne, res);
    await recorded(done);
    batchAnswer(res, 'deleted', done, failed);
  };

  /** Read-modify-write one file through the store (atomic, mode 0600); 404 when it is gone. */
  const edit = async (
    rawName: string,
    change: (doc: JsonNode & { kind: 'object' }) => void,
  ): Promise<void> => {
    const name = authFileName(rawName);
    if (!(await tokens.update(name, (data) => editJsonObject(data, change, ctx.uploadLimit))))
      throw fileNotFound();
    await recorded([name]);
  };

  const status: Handler = async (req, res) => {
    const patch = patchBody(req);
    const name = patchName(patch);
    const { disabled } = patch;
    if (typeof disabled !== 'boolean') throw new HttpError(400, 'disabled is required');
    await edit(name, (doc) => setMember(doc, 'disabled', jsonNode(disabled)));
    sendJson(res, { status: 'ok', disabled });
  };

  const fields: Handler = async (req, res) => {
    const patch = patchBody(req);
    const name = patchName(patch);
    const edits = fieldEdits(patch);
    await edit(name, (doc) => {
      for (const e of edits) {
        if (e.op === 'remove') removeMember(doc, e.key);
        else if (e.op === 'headers') mergeHeaders(doc, e.headers);
        else setPath(doc, e.path, e.value);
      }
    });
    ok(res);
  };

  routes.define(
    row.path,
    { get: list, post: upload, delete: del },
    { post: [body], delete: [deleteBody(ctx)] },
  );
  routes.define(`${row.path}/download`, { get: download });
  routes.define(`${row.path}/status`, { patch: status }, { patch: [ctx.json] });
  routes.define(`${row.path}/fields`, { patch: fields }, { patch: [ctx.json] });
}

/** The body of a PATCH: a JSON object, else `400 invalid body`. */
function patchBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (!isPlainObject(body)) throw badBody('expected a JSON object');
  return body;
}

/**
 * The JSON parser of a DELETE, only when the names come from the body: a `DELETE ?name=` or
 * `?all=true` never has its body read, so it answers as before whatever it carries.
 */
function deleteBody(ctx: ResourceContext): RequestHandler {
  return (req, res, next) => {
    const length = req.headers['content-length'];
    const hasBody =
      req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    const { name, all } = req.query as Record<string, unknown>;
    if (!hasBody || name !== undefined || (typeof all === 'string' && DELETE_ALL.has(all)))
      return next();
    ctx.json(req, res, next);
  };
}
