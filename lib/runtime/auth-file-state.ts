// `authFileState` merged into GET /auth-files: run for each listed file, 64 at a time, under one
// time limit for the whole listing. The list never fails for the hook: an entry whose hook value
// is missing, late, thrown or malformed stays as the file alone describes it (one warning).
import type { Request, Response } from 'express';
import type { RuntimeContext } from './context';
import { clientGone, errorName, ShapeError } from './hook-call';
import * as shape from './shapes';

/** Hook calls running at once for one listing. */
const BATCH = 64;

/** An entry of the listing as the router builds it. */
interface ListedEntry {
  readonly name: string;
  readonly disabled: boolean;
}

/** What the auth-files listing calls to add the host's state, or `undefined` without the hook. */
export type AuthFileStateMerge = <E extends ListedEntry>(
  entries: readonly E[],
  req: Request,
  res: Response,
) => Promise<(E | (E & Record<string, unknown>))[]>;

export function authFileStateMerge(rc: RuntimeContext): AuthFileStateMerge | undefined {
  const hook = rc.runtime.hooks.authFileState;
  if (!hook) return undefined;
  const TIMEOUT = Symbol('timeout');
  return async (entries, req, res) => {
    const out = [...entries] as ((typeof entries)[number] & Record<string, unknown>)[];
    if (entries.length === 0) return out;
    const gone = clientGone(res);
    const controller = new AbortController();
    const onGone = (): void => controller.abort(gone.signal.reason);
    gone.signal.addEventListener('abort', onGone, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<typeof TIMEOUT>((resolve) => {
      timer = setTimeout(() => {
        controller.abort(new Error('runtime timeout'));
        resolve(TIMEOUT);
      }, rc.runtime.hookTimeoutMs);
    });
    const ctx = { config: rc.runner.snapshot(req), signal: controller.signal };
    let settled = 0;
    let reason = '';
    const fail = (why: string): void => {
      reason ||= why;
    };
    try {
      for (let start = 0; start < entries.length && !controller.signal.aborted; start += BATCH) {
        await Promise.all(
          entries.slice(start, start + BATCH).map(async (entry, j) => {
            const result = await Promise.race([
              Promise.resolve()
                .then(() => hook(entry.name, ctx))
                .then(
                  (value: unknown) => ({ value }),
                  (error: unknown) => ({ error }),
                ),
              deadline,
            ]);
            if (result === TIMEOUT) return fail('timed out');
            if ('error' in result) return fail(`failed (${errorName(result.error)})`);
            if (result.value === undefined) return void settled++;
            try {
              out[start + j] = { ...entry, ...shape.authFileState(result.value, entry.disabled) };
              settled++;
            } catch (err) {
              fail(
                err instanceof ShapeError
                  ? `returned a bad value at ${err.path}`
                  : `failed (${errorName(err)})`,
              );
            }
          }),
        );
      }
      if (controller.signal.aborted) fail('timed out');
    } finally {
      clearTimeout(timer);
      gone.signal.removeEventListener('abort', onGone);
      gone.done();
    }
    const failures = entries.length - settled;
    if (failures > 0)
      rc.logger.warn(
        `cli-proxy-management: runtime hook authFileState ${reason} (${failures} of ${entries.length} files listed without it)`,
      );
    return out;
  };
}
