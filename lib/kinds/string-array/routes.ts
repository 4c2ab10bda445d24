import { badBody, HttpError, notFoundItem } from '../../http/errors';
import {
  bodyIndex,
  indexParam,
  itemsBody,
  objectBody,
  present,
  queryParam,
} from '../../http/request';
import { ok, sendJson } from '../../http/reply';
import type { Handler, RouteTable } from '../../http/routes';
import type { ResolvedStringArray } from '../../settings';
import type { ResourceContext } from '../context';
import { deleteItems } from '../list-delete';
import { itemValue, listAt } from '../../yaml/edit';
import { appendItem, reconcile, replaceList } from '../../yaml/reconcile';

/** An item as GET shows it: strings as stored; numbers and booleans a hand-edited file holds, as strings. */
const shown = (v: unknown): unknown =>
  typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;

/** Compared after trimming, as items are stored (a hand-edited file may hold untrimmed ones). */
const same = (stored: unknown, wanted: string): boolean =>
  typeof shown(stored) === 'string' && (shown(stored) as string).trim() === wanted;

/** A request item: a string that is not blank, trimmed; else 400 with `path` in the details. */
function item(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.trim() === '')
    throw badBody([{ path, message: 'must be a non-empty string' }]);
  return v.trim();
}

/**
 * Routes of a `string-array` row: GET, PUT (replace), PATCH (one item by
 * `index`, or `old`/`new` with append), DELETE (`?index=` or every `?value=`).
 */
export function stringArrayRoutes(
  routes: RouteTable,
  row: ResolvedStringArray,
  ctx: ResourceContext,
): void {
  const { key: path, field } = row;

  const get: Handler = async (_req, res) => {
    sendJson(res, { [field]: ctx.store.snapshot.listAsText(path) ?? [] });
  };

  const put: Handler = async (req, res) => {
    const items = itemsBody(req).map((v, i) => item(v, `/${i}`));
    await ctx.store.mutate((doc) => replaceList(doc, path, items));
    ok(res);
  };

  const patch: Handler = async (req, res) => {
    const body = objectBody(req);
    const index = present(body, 'index');
    const value = present(body, 'value');
    const oldValue = present(body, 'old');
    const newValue = present(body, 'new');
    if (index !== undefined && value !== undefined) {
      const i = bodyIndex(index);
      const v = item(value, '/value');
      await ctx.store.mutate((doc) => {
        const seq = listAt(doc, path);
        if (!seq || i >= seq.items.length) throw notFoundItem();
        seq.items[i] = reconcile(doc, seq.items[i], v);
      });
    } else if (oldValue !== undefined && newValue !== undefined) {
      if (typeof oldValue !== 'string')
        throw badBody([{ path: '/old', message: 'must be a string' }]);
      const wanted = oldValue.trim();
      const v = item(newValue, '/new');
      await ctx.store.mutate((doc) => {
        const seq = listAt(doc, path);
        const i = seq ? seq.items.findIndex((n) => same(itemValue(doc, n), wanted)) : -1;
        if (seq && i >= 0) seq.items[i] = reconcile(doc, seq.items[i], v);
        else appendItem(doc, path, v);
      });
    } else {
      throw new HttpError(400, 'missing fields');
    }
    ok(res);
  };

  const del: Handler = async (req, res) => {
    const index = indexParam(queryParam(req, 'index', 'invalid index'));
    const value = queryParam(req, 'value')?.trim();
    await deleteItems(
      ctx.store,
      path,
      index,
      value,
      (doc, item, v) => same(itemValue(doc, item), v),
      'missing index or value',
    );
    ok(res);
  };

  routes.define(row.path, { get, put, patch, delete: del }, { put: [ctx.json], patch: [ctx.json] });
}
