import type { NextFunction, Request, Response } from 'express';

/** A failure that becomes the contract's JSON error body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly details?: unknown,
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(error);
    this.name = 'HttpError';
  }
}

/** Codes of {@link ManagementError}, thrown at construction for a fatal misconfiguration. */
export type ManagementErrorCode =
  | 'ERR_CONFIG_NOT_FOUND'
  | 'ERR_CONFIG_UNREADABLE'
  | 'ERR_CONFIG_INVALID'
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_DESCRIPTOR';

/** Thrown by `createManagementRouter` when it cannot work, instead of failing at the first request. */
export class ManagementError extends Error {
  constructor(
    readonly code: ManagementErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'ManagementError';
  }
}

export function sendError(res: Response, err: HttpError): void {
  if (res.headersSent) return;
  if (err.headers) res.set(err.headers);
  const body: { error: string; details?: unknown } = { error: err.error };
  if (err.details !== undefined) body.details = err.details;
  res.status(err.status).json(body);
}

export const badBody = (details?: unknown): HttpError => new HttpError(400, 'invalid body', details);
export const notFoundItem = (): HttpError => new HttpError(404, 'item not found');

/**
 * Wraps an async handler so a rejection reaches the router's error handler under Express 4
 * (which ignores returned promises) as well as Express 5.
 */
export function asyncHandler(
  fn: (req: Request, res: Response) => Promise<void>,
): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    fn(req, res).catch(next);
  };
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
    const e = (err ?? {}) as BodyParserError;
    if (e.type === 'entity.too.large') return sendError(res, new HttpError(413, 'request body too large'));
    if (e.type === 'entity.parse.failed' || e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      return sendError(res, badBody('malformed JSON'));
    }
    const status = e.status ?? e.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(res, new HttpError(status, 'invalid body'));
    }
    logger.warn(`cli-proxy-management: unexpected error: ${err instanceof Error ? err.name : typeof err}`);
    sendError(res, new HttpError(500, 'internal error'));
  };
}
