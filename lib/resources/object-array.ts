import type { Router } from 'express';
import { badBody, notFoundItem } from '../http/errors';
import { ManagementError } from '../errors';
import type { JsonSchema, ObjectArrayDescriptor } from '../types';
import {
  compileSchema,
  defineRoutes,
  fieldOf,
  indexParam,
  isPlainObject,
  keyPath,
  objectBody,
  ok,
  queryParam,
  schemaDetails,
  valueAt,
  type Handler,
  type ResourceContext,
} from './common';
import { appendItem, bodyIndex, deleteItems, itemsBody, itemValue, listAt, present, reconcile, replaceList } from './list-node';

const ZERO: Record<string, unknown> = { string: '', array: [], boolean: false, integer: 0, number: 0, object: {} };

/** What the builder derives from an object-array row once, at construction. */
export interface ObjectArrayShape {
  /** The properties the item schema names. */
  readonly named: ReadonlySet<string>;
  /** GET values of absent optional properties: the property's `default`, else the zero value of its `type`. */
  readonly defaults: Readonly<Record<string, unknown>>;
  readonly matchBodyField: string;
  readonly matchQuery: string;
}

const invalid = (d: ObjectArrayDescriptor, message: string): ManagementError =>
  new ManagementError('ERR_INVALID_DESCRIPTOR', `resource ${JSON.stringify(d.path)}: ${message}`);

/**
 * Check an object-array row and derive its shape; a fatal misconfiguration throws a
 * `ManagementError` (`ERR_INVALID_DESCRIPTOR`) at construction.
 */
export function objectArrayShape(d: ObjectArrayDescriptor): ObjectArrayShape {
  const schema: unknown = d.itemSchema;
  if (!isPlainObject(schema) || schema.type !== 'object' || !isPlainObject(schema.properties)) {
    throw invalid(d, 'itemSchema must be an object schema ({"type": "object", "properties": {...}})');
  }
  const properties = schema.properties as Record<string, unknown>;
  const required = Array.isArray(schema.required) ? (schema.required as unknown[]) : [];
  if (typeof d.matchField !== 'string' || d.matchField === '') throw invalid(d, 'matchField must be a non-empty string');
  const match = properties[d.matchField];
  if (!Object.prototype.hasOwnProperty.call(properties, d.matchField) || !isPlainObject(match) || match.type !== 'string') {
    throw invalid(d, `matchField "${d.matchField}" must be a property of itemSchema with "type": "string"`);
  }
  if (!required.includes(d.matchField)) throw invalid(d, `matchField "${d.matchField}" must be listed in itemSchema.required`);
  const matchBodyField = d.matchBodyField ?? d.matchField;
  const matchQuery = d.matchQuery ?? d.matchField;
  if (typeof matchBodyField !== 'string' || matchBodyField === '' || matchBodyField === 'index' || matchBodyField === 'value') {
    throw invalid(d, 'matchBodyField must be a non-empty string other than "index" and "value"');
  }
  if (typeof matchQuery !== 'string' || matchQuery === '' || matchQuery === 'index') {
    throw invalid(d, 'matchQuery must be a non-empty string other than "index"');
  }
  const defaults: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries(properties)) {
    if (required.includes(name) || !isPlainObject(prop)) continue;
    if (Object.prototype.hasOwnProperty.call(prop, 'default')) defaults[name] = prop.default;
    else if (typeof prop.type === 'string' && prop.type in ZERO) defaults[name] = ZERO[prop.type];
  }
  return { named: new Set(Object.keys(properties)), defaults, matchBodyField, matchQuery };
}

/** An item as GET shows it: absent (or null) optional fields filled with their defaults, nothing written. */
function withDefaults(item: unknown, defaults: Readonly<Record<string, unknown>>): unknown {
  if (!isPlainObject(item)) return item;
  const out: Record<string, unknown> = { ...item };
  for (const [k, v] of Object.entries(defaults)) if (out[k] === undefined || out[k] === null) out[k] = v;
  return out;
}

/**
 * Routes of an `object-array` row: GET (with defaults), PUT (replace,
 * every item validated), PATCH (one item by `index` or by its match field), POST (append one
 * item; the CLI Proxy API server has no such append), DELETE (`?index=`, or every item whose match field equals the
 * query parameter).
 */
export function objectArrayRoutes(router: Router, d: ObjectArrayDescriptor, ctx: ResourceContext): void {
  const shape = objectArrayShape(d);
  const validate = compileSchema(ctx.ajv, d.itemSchema as JsonSchema, d.path);
  const path = keyPath(d.key);
  const field = fieldOf(d);
  const { matchField } = d;
  /** Whether item `v` has `key` in its match field (a number a person wrote counts as its digits). */
  const matches = (v: unknown, key: string): boolean => {
    const f = isPlainObject(v) ? v[matchField] : undefined;
    return (typeof f === 'string' || typeof f === 'number') && String(f) === key;
  };

  const get: Handler = async (_req, res) => {
    const value = valueAt(ctx.store.config, path);
    res.json({ [field]: Array.isArray(value) ? value.map((v) => withDefaults(v, shape.defaults)) : [] });
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
    const rawMatch = present(body, shape.matchBodyField);
    let select: (values: unknown[]) => number;
    if (rawIndex !== undefined) {
      const i = bodyIndex(rawIndex);
      select = (values) => (i < values.length ? i : -1);
    } else if (rawMatch !== undefined) {
      if (typeof rawMatch !== 'string') throw badBody([{ path: `/${shape.matchBodyField}`, message: 'must be a string' }]);
      select = (values) => values.findIndex((v) => matches(v, rawMatch));
    } else {
      throw badBody(`expected "index" or "${shape.matchBodyField}" to select the item`);
    }
    await ctx.store.mutate((doc) => {
      const seq = listAt(doc, path);
      const values = seq ? seq.items.map((n) => itemValue(doc, n)) : [];
      const i = select(values);
      if (!seq || i < 0) throw notFoundItem();
      // The value replaces the item, except fields the schema does not name and the value does
      // not mention: a client that does not know a field cannot erase it.
      const stored = values[i];
      const kept = isPlainObject(stored) ? Object.entries(stored).filter(([k]) => !shape.named.has(k) && !Object.prototype.hasOwnProperty.call(item, k)) : [];
      seq.items[i] = reconcile(doc, seq.items[i], { ...item, ...Object.fromEntries(kept) });
    });
    ok(res);
  };

  // Not in the CLI Proxy API server: append one item, so concurrent adds (two panels, two scripts) cannot
  // lose each other the way a read-then-PUT of the whole list can.
  const post: Handler = async (req, res) => {
    const item = objectBody(req);
    if (!validate(item)) throw badBody(schemaDetails(validate.errors));
    await ctx.store.mutate((doc) => appendItem(doc, path, item));
    ok(res);
  };

  const del: Handler = async (req, res) => {
    const index = indexParam(queryParam(req, 'index', 'invalid index'));
    const key = queryParam(req, shape.matchQuery);
    await deleteItems(ctx.store, path, index, key, (doc, item, k) => matches(itemValue(doc, item), k), `missing ${shape.matchQuery} or index`);
    ok(res);
  };

  defineRoutes(router, d.path, { get, put, patch, post, delete: del }, { put: [ctx.json], patch: [ctx.json], post: [ctx.json] });
}
