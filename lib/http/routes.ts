import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { sendJson } from './reply';
import { withRequestOrigin } from '../history/origin';

export type Method = 'get' | 'put' | 'patch' | 'post' | 'delete';
/** A route's handler: it answers, or throws / rejects (the router's error handler answers then). */
export type Handler = (req: Request, res: Response) => Promise<void>;

interface PathEntry {
  /** Upper-case method -> the handlers in order (body parsers, then the route's handler). */
  readonly methods: ReadonlyMap<string, readonly (RequestHandler | Handler)[]>;
  /** The `Allow` header of a `405`. */
  readonly allow: string;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof (v as PromiseLike<unknown> | undefined)?.then === 'function';

/**
 * Run `chain` as Express runs a route's handlers: each calls `next()` to go on or `next(err)` to
 * stop; a throw or a rejected promise is `next(err)`. `done` gets the error, or nothing when the
 * last handler called `next()`.
 */
function runChain(
  chain: readonly (RequestHandler | Handler)[],
  req: Request,
  res: Response,
  done: NextFunction,
): void {
  let i = 0;
  const step = (err?: unknown): void => {
    if (err === 'route') return done();
    if (err) return done(err);
    const fn = chain[i++];
    if (!fn) return done();
    try {
      const r: unknown = fn(req, res, step);
      if (isThenable(r))
        r.then(undefined, (e: unknown) => step(e ?? new Error('rejected promise')));
    } catch (e) {
      step(e ?? new Error('thrown value'));
    }
  };
  step();
}

/**
 * The API's routes as one lookup: every path is exact, so a request finds its handlers with one
 * `Map` lookup in one router layer (`dispatch`) instead of a walk of a layer per route and method.
 * Paths match as Express's default router matches them: letters in any case, one trailing slash
 * allowed. A known path with a method it has no handler for answers
 * `405 {"error":"method not allowed"}` with an `Allow` header; `HEAD` runs the `GET` handlers.
 */
export class RouteTable {
  readonly #paths = new Map<string, PathEntry>();
  /** Paths with one parameter (`/config/history/:id`): tried after the exact paths. */
  readonly #patterns: { readonly re: RegExp; readonly name: string; readonly entry: PathEntry }[] =
    [];

  /** Register the handlers of one path; `before` runs ahead of a method's handler (its body parser). */
  define(
    path: string,
    handlers: Partial<Record<Method, Handler>>,
    before: Partial<Record<Method, RequestHandler[]>> = {},
  ): void {
    const key = path.toLowerCase();
    const param = /^(.*)\/:([a-z]+)(\/.*)?$/.exec(path);
    if (param) {
      const [, head = '', name = '', tail = ''] = param;
      const esc = (s: string): string => s.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      this.#patterns.push({
        re: new RegExp(`^${esc(head)}/([^/]+)${esc(tail)}/?$`, 'i'),
        name,
        entry: this.#entry(handlers, before),
      });
      return;
    }
    if (this.#paths.has(key)) throw new Error(`route ${path} is defined twice`);
    this.#paths.set(key, this.#entry(handlers, before));
  }

  #entry(
    handlers: Partial<Record<Method, Handler>>,
    before: Partial<Record<Method, RequestHandler[]>>,
  ): PathEntry {
    const methods = new Map<string, readonly (RequestHandler | Handler)[]>();
    const allowed: string[] = [];
    for (const method of ['get', 'put', 'patch', 'post', 'delete'] as const) {
      const handler = handlers[method];
      if (!handler) continue;
      methods.set(method.toUpperCase(), [...(before[method] ?? []), handler]);
      allowed.push(method.toUpperCase());
      if (method === 'get') allowed.push('HEAD');
    }
    return { methods, allow: allowed.join(', ') };
  }

  /** Whether `path` is a route of the table (another case or a trailing slash is the same path). */
  has(path: string): boolean {
    return this.#find(path) !== undefined;
  }

  /** The entry of `path`; a parameter's value goes to `req.params` when `req` is given. */
  #find(path: string, req?: Request): PathEntry | undefined {
    const exact = this.#paths.get(path);
    if (exact) return exact;
    // Rarely reached: another case, or a trailing slash (only ASCII letters fold: the routes are ASCII).
    let p = path.replace(/[A-Z]+/g, (s) => s.toLowerCase());
    if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
    const found = this.#paths.get(p);
    if (found) return found;
    for (const { re, name, entry } of this.#patterns) {
      const m = re.exec(path);
      if (!m) continue;
      let value: string;
      try {
        value = decodeURIComponent(m[1] as string);
      } catch {
        value = m[1] as string;
      }
      if (req) req.params = { [name]: value };
      return entry;
    }
    return undefined;
  }

  /** The middleware: the matching route's handlers, or `next()` for a path it does not know. */
  readonly dispatch = (req: Request, res: Response, next: NextFunction): void => {
    const entry = this.#find(req.path, req);
    if (!entry) return next();
    const chain =
      entry.methods.get(req.method) ??
      (req.method === 'HEAD' ? entry.methods.get('GET') : undefined);
    if (!chain) {
      res.setHeader('Allow', entry.allow);
      sendJson(res, { error: 'method not allowed' }, 405);
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') return runChain(chain, req, res, next);
    // A change made by this request is recorded with its method, path and client (history).
    withRequestOrigin({ source: 'api', method: req.method, path: req.path, client: req.ip }, () =>
      runChain(chain, req, res, next),
    );
  };
}
