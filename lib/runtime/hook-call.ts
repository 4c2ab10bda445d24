// How a hook is called: its context (config snapshot, signal), its time limit, and what its
// throw becomes. The thrown text is never sent or logged: it may hold a secret.
import type { Request, Response } from 'express';
import { HttpError } from '../http/errors';
import type { Logger, ProxyConfig } from '../types';
import type { HookContext } from './types';

/**
 * Throw this from a hook (or a host route) to answer on purpose: `<status> {"error":"<message>"}`
 * when `status` is 400-599 but not 401, 407 or 429 (the panel logs out on a 401; 429 is the
 * lock-out's) and `message` is 1-200 printable ASCII characters; otherwise the answer is
 * `500 {"error":"runtime error"}`.
 *
 * @example
 * ```ts
 * readLogs() { throw new HookError(503, 'log store offline'); }
 * ```
 */
export class HookError extends Error {
  /**
   * @param status - The answer's status, 400-599 (not 401, 407, 429).
   * @param message - The answer's `error`, 1-200 printable ASCII characters.
   */
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HookError';
  }
}

/** A hook value that does not match its type: `500` and a warning naming the hook and the JSON path. */
export class ShapeError extends Error {
  constructor(readonly path: string) {
    super(`bad value at ${path}`);
    this.name = 'ShapeError';
  }
}

/** The hook's time is up. */
class HookTimeout extends Error {
  constructor() {
    super('runtime timeout');
    this.name = 'HookTimeout';
  }
}

const RUNTIME_ERROR = (): HttpError => new HttpError(500, 'runtime error');

/** The answer of a `HookError` when its status and message may be sent, else `undefined`. */
export function hookErrorAnswer(err: unknown): HttpError | undefined {
  if (!(err instanceof HookError)) return undefined;
  const { status, message } = err;
  if (
    !Number.isInteger(status) ||
    status < 400 ||
    status > 599 ||
    status === 401 ||
    status === 407 ||
    status === 429
  )
    return undefined;
  if (typeof message !== 'string' || !/^[\x20-\x7e]{1,200}$/.test(message)) return undefined;
  return new HttpError(status, message);
}

/** What a failed hook answers, logging what may be logged (the hook's name and the error's class, never its text). */
export function hookFailure(name: string, err: unknown, logger: Logger): HttpError {
  if (err instanceof HttpError) return err; // the router's own (a timeout)
  const answer = hookErrorAnswer(err);
  if (answer) return answer;
  if (err instanceof ShapeError) {
    logger.warn(`cli-proxy-management: runtime hook ${name} returned a bad value at ${err.path}`);
    return RUNTIME_ERROR();
  }
  logger.warn(`cli-proxy-management: runtime hook ${name} failed (${errorName(err)})`);
  return RUNTIME_ERROR();
}

/** The error's class name, safe to log (a name longer or stranger than a class name is not shown). */
export function errorName(err: unknown): string {
  const name = err instanceof Error ? err.name : typeof err;
  return /^[A-Za-z0-9_$]{1,64}$/.test(name) ? name : 'Error';
}

/** A signal aborted when the client leaves before the answer is sent. */
export function clientGone(res: Response): { signal: AbortSignal; done(): void } {
  const controller = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort(new Error('client closed the connection'));
  };
  res.once('close', onClose);
  return { signal: controller.signal, done: () => void res.off('close', onClose) };
}

/** Calls hooks for one router: the snapshot of each request, the timeout, the failure answers. */
export class HookRunner {
  constructor(
    readonly timeoutMs: number,
    readonly logger: Logger,
    readonly snapshot: (req: Request) => ProxyConfig,
  ) {}

  /** What a failure of hook `name` outside {@link HookRunner.call} answers (a download source). */
  failure(name: string, err: unknown): HttpError {
    return hookFailure(name, err, this.logger);
  }

  /**
   * Run `fn` with a context for `req`: a timeout of `timeoutMs` aborts the signal and answers
   * `504 {"error":"runtime timeout"}` (a value coming later is dropped); the client leaving
   * aborts it too. A throw becomes the answer of {@link hookFailure}. `check` checks the value and shapes it.
   */
  async call<R>(
    name: string,
    req: Request,
    res: Response,
    fn: (ctx: HookContext) => unknown,
    check: (value: unknown) => R,
  ): Promise<R> {
    const gone = clientGone(res);
    const controller = new AbortController();
    const abort = (): void => controller.abort(gone.signal.reason);
    gone.signal.addEventListener('abort', abort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const ctx: HookContext = { config: this.snapshot(req), signal: controller.signal };
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort(new HookTimeout());
          reject(new HttpError(504, 'runtime timeout'));
        }, this.timeoutMs);
      });
      const value = await Promise.race([Promise.resolve().then(() => fn(ctx)), timeout]);
      return check(value);
    } catch (err) {
      throw hookFailure(name, err, this.logger);
    } finally {
      clearTimeout(timer);
      gone.signal.removeEventListener('abort', abort);
      gone.done();
    }
  }
}
