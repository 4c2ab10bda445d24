import type { NextFunction, Request, Response } from 'express';

/** Response headers a cross-origin panel may read: the `X-CPA-*` ones, then the lock-out wait, 405 methods and download name. */
const EXPOSED_HEADERS =
  'X-CPA-VERSION, X-CPA-COMMIT, X-CPA-BUILD-DATE, X-CPA-SUPPORT-PLUGIN, Retry-After, Allow, Content-Disposition';

/**
 * The `cors` option. Mounted before access control: a browser's preflight carries no key, and
 * a 401/403/429 must carry `Access-Control-Allow-Origin` too or the panel cannot read the error.
 * `Retry-After`, `Allow` and `Content-Disposition` are not CORS-safelisted response headers, so
 * they are exposed for a panel to read (lock-out wait, 405 methods, download name).
 */
export function corsMiddleware(origin: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.set('Access-Control-Allow-Origin', origin);
    if (origin !== '*') res.vary('Origin');
    if (req.method === 'OPTIONS') {
      res.set({
        'Access-Control-Allow-Methods': 'GET, PUT, PATCH, POST, DELETE, OPTIONS',
        'Access-Control-Allow-Headers': 'Authorization, X-Management-Key, Content-Type',
        'Access-Control-Max-Age': '600',
      });
      res.status(204).end();
      return;
    }
    res.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    next();
  };
}
