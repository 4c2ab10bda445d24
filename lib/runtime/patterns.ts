// Routes with `:name` segments (the runtime's downloads, the host's routes), matched after the
// router's exact-path table: a path that table knows is answered there (its 405 included).
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { HttpError } from '../http/errors';
import { sendJson } from '../http/reply';

/** A route's handler: answers, or throws / rejects (the router's error handler answers then). */
export type PatternHandler = (req: Request, res: Response) => Promise<void>;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Pattern {
  /** Lower-case literal segments; `null` for a parameter. */
  readonly segments: readonly (string | null)[];
  readonly names: readonly string[];
  readonly methods: Map<Method, readonly (RequestHandler | PatternHandler)[]>;
}

const LITERAL = /^[A-Za-z0-9._~-]+$/;
const PARAM = /^:([A-Za-z_][A-Za-z0-9_]{0,63})$/;
export const MAX_SEGMENTS = 16;

/**
 * The segments of a route path (`/plugins/:id/config`): literal ones (`A-Za-z0-9._~-`) or
 * `:name`, at most 16, no name twice. `undefined` for a path that is not one.
 */
export function parsePattern(
  path: string,
): { segments: (string | null)[]; names: string[] } | undefined {
  if (typeof path !== 'string' || !path.startsWith('/') || path.length > 1024) return undefined;
  const parts = path.slice(1).split('/');
  if (parts.length > MAX_SEGMENTS || parts.some((p) => p === '')) return undefined;
  const segments: (string | null)[] = [];
  const names: string[] = [];
  for (const part of parts) {
    const param = PARAM.exec(part);
    if (param) {
      if (names.includes(param[1] as string)) return undefined;
      names.push(param[1] as string);
      segments.push(null);
    } else if (LITERAL.test(part)) segments.push(part.toLowerCase());
    else return undefined;
  }
  return { segments, names };
}

/** The key two routes share when they match the same requests (case and parameter names ignored). */
export const patternKey = (segments: readonly (string | null)[]): string =>
  segments.map((s) => (s === null ? ':' : s)).join('/');

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  typeof (v as PromiseLike<unknown> | undefined)?.then === 'function';

/** Run the handlers in order, as Express runs a route's (see `RouteTable`). */
function runChain(
  chain: readonly (RequestHandler | PatternHandler)[],
  req: Request,
  res: Response,
  done: NextFunction,
): void {
  let i = 0;
  const step = (err?: unknown): void => {
    if (err) return done(err === 'route' ? undefined : err);
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

/** Routes by pattern; literal segments win over parameters, in the order of the path. */
export class PatternRoutes {
  readonly #patterns: Pattern[] = [];
  readonly #keys = new Map<string, Pattern>();

  /** Whether a route answers `method` at `path` already (case and parameter names ignored). */
  has(path: string, method: Method): boolean {
    const parsed = parsePattern(path);
    return (
      parsed !== undefined &&
      (this.#keys.get(patternKey(parsed.segments))?.methods.has(method) ?? false)
    );
  }

  /** Add one method of one path; `chain` runs in order (body parsers, then the handler). */
  add(path: string, method: Method, chain: readonly (RequestHandler | PatternHandler)[]): void {
    const parsed = parsePattern(path);
    if (!parsed) throw new Error(`bad route path ${path}`);
    const key = patternKey(parsed.segments);
    let pattern = this.#keys.get(key);
    if (!pattern) {
      pattern = { segments: parsed.segments, names: parsed.names, methods: new Map() };
      this.#keys.set(key, pattern);
      this.#patterns.push(pattern);
      // Literal segments first, segment by segment: `/a/b` before `/a/:x`, `/a/:x/c` before `/:y/b/c`.
      this.#patterns.sort((x, y) => rank(x).localeCompare(rank(y)));
    }
    if (pattern.methods.has(method)) throw new Error(`route ${method} ${path} is defined twice`);
    pattern.methods.set(method, chain);
  }

  /** The paths and methods, for the OpenAPI document. */
  list(): { segments: readonly (string | null)[]; names: readonly string[]; methods: Method[] }[] {
    return this.#patterns.map((p) => ({
      segments: p.segments,
      names: p.names,
      methods: [...p.methods.keys()],
    }));
  }

  get size(): number {
    return this.#patterns.length;
  }

  #match(path: string): { pattern: Pattern; params: Record<string, string> } | undefined {
    let p = path;
    if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
    const parts = p.slice(1).split('/');
    for (const pattern of this.#patterns) {
      if (pattern.segments.length !== parts.length) continue;
      const values: string[] = [];
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = pattern.segments[i];
        const part = parts[i] as string;
        if (seg === null) {
          if (part === '') ok = false;
          else values.push(part);
        } else ok = seg === part.toLowerCase();
      }
      if (!ok) continue;
      const params: Record<string, string> = {};
      for (const [i, name] of pattern.names.entries()) {
        try {
          params[name] = decodeURIComponent(values[i] as string);
        } catch {
          throw new HttpError(400, 'invalid path');
        }
      }
      return { pattern, params };
    }
    return undefined;
  }

  /** The middleware: the matching route, `405` with `Allow` for another method, or `next()`. */
  readonly dispatch = (req: Request, res: Response, next: NextFunction): void => {
    let found: { pattern: Pattern; params: Record<string, string> } | undefined;
    try {
      found = this.#match(req.path);
    } catch (err) {
      return next(err);
    }
    if (!found) return next();
    const { pattern, params } = found;
    const chain =
      pattern.methods.get(req.method as Method) ??
      (req.method === 'HEAD' ? pattern.methods.get('GET') : undefined);
    if (!chain) {
      const allow = [...pattern.methods.keys()].flatMap((m) =>
        m === 'GET' ? ['GET', 'HEAD'] : [m],
      );
      res.setHeader('Allow', allow.join(', '));
      sendJson(res, { error: 'method not allowed' }, 405);
      return;
    }
    req.params = params;
    runChain(chain, req, res, next);
  };
}

/** Sort key: each literal segment `0<text>`, each parameter `1`. */
const rank = (p: Pattern): string => p.segments.map((s) => (s === null ? '1' : `0${s}`)).join('/');
