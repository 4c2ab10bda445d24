import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../types';
import type { HookRunner } from './hook-call';
import type { PatternHandler } from './patterns';
import type { ResolvedRuntime } from './settings';
import type { HookContext } from './types';

/** What each runtime route builder gets. */
export interface RuntimeContext {
  readonly runtime: ResolvedRuntime;
  readonly runner: HookRunner;
  /** The router's JSON body parser. */
  readonly json: RequestHandler;
  readonly logger: Logger;
  /** Add a route (a path the router's table has already is `ERR_INVALID_OPTION`). */
  add(
    path: string,
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    handler: PatternHandler,
    before?: readonly RequestHandler[],
  ): void;
}

/** The hook's context for a handler that is not a hook call (host routes): no timeout. */
export type ContextFor = (req: Request, res: Response) => HookContext;
