import type { Router } from 'express';
import { badBody, notFoundItem, schemaDetails } from '../http/errors';
import { bodyIndex, indexParam, itemsBody, objectBody, present, queryParam } from '../http/request';
import { defineRoutes, ok, type Handler } from '../http/routes';
import { isPlainObject, valueAt } from '../plain-data';
import type { ResolvedObjectArray } from '../settings';
import type { ResourceContext } from './context';
import { deleteItems } from './list-delete';
import { itemValue, listAt } from './yaml-edit';
import { appendItem, reconcile, replaceList } from './yaml-reconcile';

/** An item as GET shows it: absent (or null) optional fields filled with their defaults, nothing written. */
function withDefaults(item: unknown, defaults: Readonly<Record<string, unknown>>): unknown {
  if (!isPlainObject(item)) return item;
  const out: Record<string, unknown> = { ...item };
  for (const [k, v] of Object.entries(defaults)) if (out[k] === undefined || out[k] === null) out[k] = v;
  return out;
}

/**
 * Routes of an `object-array` row (contract section 6): GET (with defaults), PUT (replace,
 * every item validated), PATCH (one item by `index` or by its match field), POST (append one
 * item; beyond the contract), DELETE (`?index=`, or every item whose match field equals the
 * query parameter).
 */
export function objectArrayRoutes(router: Router, row: ResolvedObjectArray, ctx: ResourceContext): void {
  const { key: path, field, matchField, matchBodyField, matchQuery, named, defaults, validate } = row;
  /** Whether item `v` has `key` in its match field (a number a person wrote counts as its digits). */
  const matches = (v: unknown, key: string): boolean => {
    const f = isPlainObject(v) ? v[matchField] : undefined;
    return (typeof f === 'string' || typeof f === 'number') && String(f) === key;
  };

  const get: Handler = async (_req, res) => {
    const value = valueAt(ctx.store.config, path);
    res.json({ [field]: Array.isArray(value) ? value.map((v) => withDefaults(v, defaults)) : [] });
  };

  const put: Handler = async (req, res) => {
    const items = itemsBody(req);
    const details = items.flatMap((v, i) => (validate(v) ? [] : schemaDetails(validate.errors, `/${i}`)));
    if (details.length > 0) throw badBody(details);
    // Items that keep their match field keep their node (and comments); the rest is rewritten.
    await ctx.store.mutate((doc) => replaceList(doc, path, items, matchField));
    ok(res);
  };

  const patch: Handler = async (req, res) => {
    const body = objectBody(req);
    const value = present(body, 'value');
    if (value === undefined) throw badBody([{ path: '/value', message: 'is required' }]);
    if (!validate(value)) throw badBody(schemaDetails(validate.errors, '/value'));
    const item = value as Record<string, unknown>;
    const rawIndex = present(body, 'index');
    const rawMatch = present(body, matchBodyField);
    let select: (values: unknown[]) => number;
    if (rawIndex !== undefined) {
      const i = bodyIndex(rawIndex);
      select = (values) => (i < values.length ? i : -1);
    } else if (rawMatch !== undefined) {
      if (typeof rawMatch !== 'string') throw badBody([{ path: `/${matchBodyField}`, message: 'must be a string' }]);
      select = (values) => values.findIndex((v) => matches(v, rawMatch));
    } else {
      throw badBody(`expected "index" or "${matchBodyField}" to select the item`);
    }
    await ctx.store.mutate((doc) => {
      const seq = listAt(doc, path);
      const values = seq ? seq.items.map((n) => itemValue(doc, n)) : [];
      const i = select(values);
      if (!seq || i < 0) throw notFoundItem();
      // The value replaces the item, except fields the schema does not name and the value does
      // not mention: a client that does not know a field cannot erase it.
      const stored = values[i];
      const kept = isPlainObject(stored) ? Object.entries(stored).filter(([k]) => !named.has(k) && !Object.prototype.hasOwnProperty.call(item, k)) : [];
      seq.items[i] = reconcile(doc, seq.items[i], { ...item, ...Object.fromEntries(kept) });
    });
    ok(res);
  };

  // Beyond the contract: append one item, so concurrent adds (two panels, two scripts) cannot
  // lose each other the way a read-then-PUT of the whole list can.
  const post: Handler = async (req, res) => {
    const item = objectBody(req);
    if (!validate(item)) throw badBody(schemaDetails(validate.errors));
    await ctx.store.mutate((doc) => appendItem(doc, path, item));
    ok(res);
  };

  const del: Handler = async (req, res) => {
    const index = indexParam(queryParam(req, 'index', 'invalid index'));
    const key = queryParam(req, matchQuery);
    await deleteItems(ctx.store, path, index, key, (doc, item, k) => matches(itemValue(doc, item), k), `missing ${matchQuery} or index`);
    ok(res);
  };

  defineRoutes(router, row.path, { get, put, patch, post, delete: del }, { put: [ctx.json], patch: [ctx.json], post: [ctx.json] });
}
