import type { ErrorObject } from 'ajv';
import type { NextFunction, Request, Response } from 'express';
import { StoreError, type StoreErrorCode } from '../engines/errors';
import { sendJson } from './reply';

/** A failure that becomes the API's JSON error body (`{"error": ...}`). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly details?: unknown,
    readonly headers?: Readonly<Record<string, string>>,
    /** A `"message"` member of the body (the whole-config endpoints answer `{error, message}`). */
    readonly text?: string,
  ) {
    super(error);
    this.name = 'HttpError';
  }
}

export function sendError(res: Response, err: HttpError): void {
  if (res.headersSent) return;
  if (err.headers) res.set(err.headers);
  const body: { error: string; message?: string; details?: unknown } = { error: err.error };
  if (err.text !== undefined) body.message = err.text;
  if (err.details !== undefined) body.details = err.details;
  sendJson(res, body, err.status);
}

/** Status and message of each store failure: the one place a store error meets HTTP. */
const STORE_ERRORS: Readonly<Record<StoreErrorCode, readonly [number, string]>> = {
  SAVE_FAILED: [500, 'failed to save config'],
  WRITE_FAILED: [500, 'failed to write file'],
  READ_FAILED: [500, 'failed to read file'],
  LIST_FAILED: [500, 'failed to list files'],
  DELETE_FAILED: [500, 'failed to delete file'],
  INVALID_NAME: [400, 'invalid name'],
  NAME_NOT_JSON: [400, 'name must end with .json'],
  NOT_FOUND: [404, 'file not found'],
  NOT_REGULAR: [409, 'not a regular file'],
  UNAVAILABLE: [503, 'storage unavailable'],
  CONFIG_CONFLICT: [409, 'config conflict'],
};

/** The API's answer to a store failure: `<message>: <reason>` for the 500s. */
export function storeHttpError(err: StoreError): HttpError {
  const [status, message] = STORE_ERRORS[err.code];
  const headers =
    err.code === 'UNAVAILABLE' ? { 'Retry-After': String(err.retryAfter ?? 5) } : undefined;
  const details = err.code === 'CONFIG_CONFLICT' ? err.reason : undefined;
  return new HttpError(
    status,
    status === 500 && err.reason ? `${message}: ${err.reason}` : message,
    details,
    headers,
  );
}

export const badBody = (details?: unknown): HttpError =>
  new HttpError(400, 'invalid body', details);
export const notFoundItem = (): HttpError => new HttpError(404, 'item not found');

/** Ajv errors as short `{path, message}` details for a 400 body. */
export function schemaDetails(
  errors: readonly ErrorObject[] | null | undefined,
  prefix = '',
): { path: string; message: string }[] {
  return (errors ?? []).map((e) => ({
    path: `${prefix}${e.instancePath}` || '/',
    message: e.message ?? 'invalid',
  }));
}

interface BodyParserError {
  type?: string;
  status?: number;
  statusCode?: number;
}

/**
 * The router's last error handler: every failure becomes a JSON body, never an HTML page or a
 * stack trace. Unknown errors are 500 without their message (it may hold a path or a value).
 */
export function errorHandler(logger: { warn(m: string): void }) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    if (err instanceof HttpError) return sendError(res, err);
    if (err instanceof StoreError) return sendError(res, storeHttpError(err));
    const e = (err ?? {}) as BodyParserError;
    if (e.type === 'entity.too.large')
      return sendError(res, new HttpError(413, 'request body too large'));
    if (e.type === 'charset.unsupported')
      return sendError(res, new HttpError(415, 'unsupported charset'));
    if (e.type === 'entity.parse.failed' || e.type === 'encoding.unsupported') {
      return sendError(res, badBody('malformed JSON'));
    }
    const status = e.status ?? e.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(res, new HttpError(status, 'invalid body'));
    }
    logger.warn(
      `cli-proxy-management: unexpected error: ${err instanceof Error ? err.name : typeof err}`,
    );
    sendError(res, new HttpError(500, 'internal error'));
  };
}
