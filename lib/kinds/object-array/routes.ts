import { badBody, notFoundItem, schemaDetails } from '../../http/errors';
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
import { isPlainObject, valueAt } from '../../plain-data';
import type { ResolvedObjectArray } from '../../settings';
import { asSchemaType } from '../../config/typed';
import type { ResourceContext } from '../context';
import { deleteItems } from '../list-delete';
import { itemValue, listAt, nodeLiterals } from '../../yaml/edit';
import { appendItem, reconcile, replaceList } from '../../yaml/reconcile';

/** An item as GET shows it: absent (or null) fields filled with the row's GET values, nothing written. */
function withDefaults(item: unknown, defaults: Readonly<Record<string, unknown>>): unknown {
  if (!isPlainObject(item)) return item;
  const out: Record<string, unknown> = { ...item };
  for (const [k, v] of Object.entries(defaults))
    if (out[k] === undefined || out[k] === null) out[k] = v;
  return out;
}

/**
 * Routes of an `object-array` row: GET (with the row's fills),
 * PUT (replace, every item validated), PATCH (one item by `index` or by its match field,
 * narrowed by `?<narrowBy>=`; merged field by field), POST (append one item; the CLI Proxy API
 * server has no such append), DELETE (`?index=`, or every item whose match field, and narrowing field when
 * given, equal the query parameters).
 */
export function objectArrayRoutes(
  routes: RouteTable,
  row: ResolvedObjectArray,
  ctx: ResourceContext,
): void {
  const {
    key: path,
    field,
    matchField,
    matchBodyField,
    matchQuery,
    narrowBy,
    dropFields,
    valueAliases,
    defaults,
    validate,
    itemSchema,
  } = row;
  /** A field of a stored item as trimmed text (a number a person wrote counts as its digits); `''` when absent. */
  const text = (v: Record<string, unknown>, name: string): string | undefined => {
    const f = v[name];
    if (f === undefined || f === null) return '';
    return typeof f === 'string' || typeof f === 'number' ? String(f).trim() : undefined;
  };
  /** Whether item `v` has `key` in its match field and, when `narrow` is given, `narrow` in the narrowing field. */
  const matches = (v: unknown, key: string, narrow?: string): boolean => {
    if (!isPlainObject(v) || v[matchField] === undefined || text(v, matchField) !== key.trim())
      return false;
    return narrow === undefined || narrowBy === undefined || text(v, narrowBy) === narrow.trim();
  };
  /** A client's item as stored: server-computed fields dropped, accepted spellings mapped. */
  const incoming = (v: unknown): unknown => {
    if (!isPlainObject(v)) return v;
    const out: Record<string, unknown> = { ...v };
    for (const f of dropFields) delete out[f];
    for (const [f, map] of Object.entries(valueAliases)) {
      const x = out[f];
      if (typeof x === 'string' && Object.prototype.hasOwnProperty.call(map, x)) out[f] = map[x];
    }
    return out;
  };

  // Items are read as the Go server reads them: `proxy-url: 8080` is "8080", `disabled: yes` is true.
  const get: Handler = async (_req, res) => {
    const snapshot = ctx.store.snapshot;
    const value = valueAt(snapshot.config, path);
    const literal = snapshot.literalsAt(path);
    sendJson(res, {
      [field]: Array.isArray(value)
        ? value.map((v, i) => withDefaults(asSchemaType(v, itemSchema, literal, [i]), defaults))
        : [],
    });
  };

  const put: Handler = async (req, res) => {
    const items = itemsBody(req).map(incoming);
    const details = items.flatMap((v, i) =>
      validate(v) ? [] : schemaDetails(validate.errors, `/${i}`),
    );
    if (details.length > 0) throw badBody(details);
    // Items that keep their match field keep their node (and comments); the rest is rewritten.
    await ctx.store.mutate((doc) => replaceList(doc, path, items, matchField));
    ok(res);
  };

  // Section 10.5: the value is merged into the stored item field by field (null removes a
  // field, nested values are replaced whole), and the result must be a valid item.
  const patch: Handler = async (req, res) => {
    const body = objectBody(req);
    const raw = present(body, 'value');
    if (raw === undefined) throw badBody([{ path: '/value', message: 'is required' }]);
    if (!isPlainObject(raw)) throw badBody([{ path: '/value', message: 'must be object' }]);
    const value = incoming(raw) as Record<string, unknown>;
    const rawIndex = present(body, 'index');
    const rawMatch = present(body, matchBodyField);
    const narrow = narrowBy === undefined ? undefined : queryParam(req, narrowBy);
    let select: (values: unknown[]) => number;
    if (rawIndex !== undefined) {
      const i = bodyIndex(rawIndex);
      select = (values) => (i < values.length ? i : -1);
    } else if (rawMatch !== undefined) {
      if (typeof rawMatch !== 'string')
        throw badBody([{ path: `/${matchBodyField}`, message: 'must be a string' }]);
      select = (values) => values.findIndex((v) => matches(v, rawMatch, narrow));
    } else {
      throw badBody(`expected "index" or "${matchBodyField}" to select the item`);
    }
    await ctx.store.mutate((doc) => {
      const seq = listAt(doc, path);
      const values = seq ? seq.items.map((n) => itemValue(doc, n)) : [];
      const i = select(values);
      if (!seq || i < 0) throw notFoundItem();
      const stored = values[i];
      const mergeInto = (base: unknown): Record<string, unknown> => {
        const out: Record<string, unknown> = isPlainObject(base) ? { ...base } : {};
        for (const [k, v] of Object.entries(value)) {
          if (v === null) delete out[k];
          else out[k] = v;
        }
        return out;
      };
      // Checked as GET shows it (typed as the Go server reads it: a field written unquoted stays
      // valid); written from the stored values, so the fields the body left alone keep their text.
      if (!validate(mergeInto(asSchemaType(stored, itemSchema, nodeLiterals(doc, seq.items[i])))))
        throw badBody(schemaDetails(validate.errors, '/value'));
      seq.items[i] = reconcile(doc, seq.items[i], mergeInto(stored));
    });
    ok(res);
  };

  // Not in the CLI Proxy API server: append one item, so concurrent adds (two panels, two scripts) cannot
  // lose each other the way a read-then-PUT of the whole list can.
  const post: Handler = async (req, res) => {
    const item = incoming(objectBody(req));
    if (!validate(item)) throw badBody(schemaDetails(validate.errors));
    await ctx.store.mutate((doc) => appendItem(doc, path, item));
    ok(res);
  };

  const del: Handler = async (req, res) => {
    const index = indexParam(queryParam(req, 'index', 'invalid index'));
    const key = queryParam(req, matchQuery);
    const narrow = narrowBy === undefined ? undefined : queryParam(req, narrowBy);
    await deleteItems(
      ctx.store,
      path,
      index,
      key,
      (doc, item, k) => matches(itemValue(doc, item), k, narrow),
      `missing ${matchQuery} or index`,
    );
    ok(res);
  };

  routes.define(
    row.path,
    { get, put, patch, post, delete: del },
    { put: [ctx.json], patch: [ctx.json], post: [ctx.json] },
  );
}
