import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';

export type Method = 'get' | 'put' | 'patch' | 'post' | 'delete';
export type Handler = (req: Request, res: Response) => Promise<void>;

/**
 * Wraps an async handler so a rejection reaches the router's error handler under Express 4
 * (which ignores returned promises) as well as Express 5.
 */
export function asyncHandler(fn: Handler): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    fn(req, res).catch(next);
  };
}

/**
 * Register the handlers of one path, plus a fallback answering any other method with
 * `405 {"error":"method not allowed"}` and an `Allow` header.
 */
export function defineRoutes(
  router: Router,
  path: string,
  handlers: Partial<Record<Method, Handler>>,
  before: Partial<Record<Method, RequestHandler[]>> = {},
): void {
  const allowed: string[] = [];
  for (const method of ['get', 'put', 'patch', 'post', 'delete'] as const) {
    const handler = handlers[method];
    if (!handler) continue;
    router[method](path, ...(before[method] ?? []), asyncHandler(handler));
    allowed.push(method.toUpperCase());
    if (method === 'get') allowed.push('HEAD');
  }
  const allow = allowed.join(', ');
  router.all(path, (_req, res) => {
    res.set('Allow', allow).status(405).json({ error: 'method not allowed' });
  });
}

/** The contract's success body of a mutation. */
export const ok = (res: Response): void => {
  res.json({ status: 'ok' });
};
