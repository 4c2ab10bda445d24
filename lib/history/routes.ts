// The history routes: the list, one entry with its diff, and a revert (see README.md beside this file).
import { HttpError } from '../http/errors';
import { sendJson } from '../http/reply';
import type { Handler, RouteTable } from '../http/routes';
import type { ConfigStore } from '../config/store';
import { StoreError } from '../engines/errors';
import { parseConfigText } from '../yaml/text';
import type { ProxyConfig } from '../types';
import { revertText, unifiedDiff } from './diff';
import { publicEntry, secretOf as secretIn } from './entry';
import { idNumber, type HistoryReader } from './journal';

/** `limit` of a page: 1 to 500, default 50. */
function pageLimit(value: unknown): number {
  if (value === undefined) return 50;
  const n = typeof value === 'string' && /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 500)) throw new HttpError(400, 'invalid limit');
  return n;
}

const notFound = (): HttpError => new HttpError(404, 'entry not found');

/** The key's value (plaintext or hash) of a config text, `''` when none. */
function secretOf(text: string): string {
  const parsed = parseConfigText(text);
  if ('error' in parsed) return '';
  return secretIn((parsed.doc.toJS() ?? {}) as ProxyConfig);
}

/** What the revert routes need besides the history: the store, and the check every whole text gets. */
export interface HistoryRouteContext {
  readonly history: HistoryReader;
  readonly store: ConfigStore;
  /** Why a config text is not acceptable: the reason of each known row whose value is wrong. */
  readonly check: (text: string) => readonly string[];
}

/** `GET /config/history`, `GET /config/history/:id` and `POST /config/history/:id/revert`. */
export function historyRoutes(
  routes: RouteTable,
  { history, store, check }: HistoryRouteContext,
): void {
  const list: Handler = async (req, res) => {
    const limit = pageLimit(req.query.limit);
    const before = req.query.before;
    if (before !== undefined && (typeof before !== 'string' || idNumber(before) === undefined))
      throw new HttpError(400, 'invalid before');
    sendJson(res, await history.list(limit, before));
  };

  const find = async (
    id: unknown,
  ): Promise<NonNullable<Awaited<ReturnType<HistoryReader['get']>>>> => {
    if (typeof id !== 'string' || idNumber(id) === undefined) throw notFound();
    const entry = await history.get(id);
    if (!entry) throw notFound();
    return entry;
  };

  const one: Handler = async (req, res) => {
    const entry = await find(req.params.id);
    sendJson(res, { ...publicEntry(entry), diff: unifiedDiff(entry.hunks ?? '') });
  };

  const revert: Handler = async (req, res) => {
    const entry = await find(req.params.id);
    if (entry.hunks === undefined || entry.hunks === '') throw new HttpError(409, 'not revertible');
    const hunks = entry.hunks;
    let id: string | undefined;
    try {
      id = await store.mutateText(
        (current) => {
          const secret = secretOf(current);
          const result = revertText(current, hunks, [secret]);
          if ('conflicts' in result)
            throw new HttpError(
              409,
              'revert conflict',
              result.conflicts.map((line) => ({ line })),
            );
          // Only the key's lines changed (a rotation): there is nothing a revert may undo.
          if (result.text === current) throw new HttpError(409, 'not revertible');
          const parsed = parseConfigText(result.text);
          if ('error' in parsed)
            throw new HttpError(
              422,
              'invalid_config',
              [{ message: parsed.error }],
              undefined,
              parsed.error,
            );
          // Refused for what the revert makes wrong, not for a value that was wrong before it.
          const already = new Set(check(current));
          const wrong = check(result.text).filter((r) => !already.has(r));
          if (wrong.length > 0)
            throw new HttpError(
              422,
              'invalid_config',
              wrong.map((message) => ({ message })),
              undefined,
              wrong[0],
            );
          if (secretOf(result.text) !== secret)
            throw new HttpError(409, 'revert conflict', [{ line: 1 }]);
          return result.text;
        },
        {
          source: 'revert',
          method: req.method,
          path: req.path,
          client: req.ip,
          revertOf: entry.id,
        },
      );
    } catch (err) {
      if (err instanceof StoreError && err.code === 'SAVE_FAILED')
        throw new HttpError(500, 'write_failed', undefined, undefined, err.reason);
      throw err;
    }
    sendJson(res, { status: 'ok', id: id ?? null });
  };

  routes.define('/config/history', { get: list });
  routes.define('/config/history/:id', { get: one });
  routes.define('/config/history/:id/revert', { post: revert });
}
