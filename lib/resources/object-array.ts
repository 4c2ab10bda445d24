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
  readonly narrowBy: string | undefined;
  readonly dropFields: readonly string[];
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
  const { narrowBy } = d;
  if (narrowBy !== undefined && (typeof narrowBy !== 'string' || narrowBy === '' || narrowBy === 'index' || narrowBy === matchQuery || narrowBy === d.matchField)) {
    throw invalid(d, 'narrowBy must be an item field other than the match field, "index" and matchQuery');
  }
  const dropFields = d.dropFields ?? [];
  if (!Array.isArray(dropFields) || dropFields.some((f) => typeof f !== 'string' || f === d.matchField)) {
    throw invalid(d, 'dropFields must be an array of field names other than the match field');
  }
  if (d.valueAliases !== undefined && (!isPlainObject(d.valueAliases) || Object.values(d.valueAliases).some((m) => !isPlainObject(m) || Object.values(m).some((v) => typeof v !== 'string')))) {
    throw invalid(d, 'valueAliases must map field names to objects of strings');
  }
  let defaults: Record<string, unknown> = {};
  if (d.fill !== undefined) {
    if (!isPlainObject(d.fill)) throw invalid(d, 'fill must be an object of field values');
    defaults = { ...d.fill };
  } else {
    for (const [name, prop] of Object.entries(properties)) {
      if (required.includes(name) || !isPlainObject(prop)) continue;
      if (Object.prototype.hasOwnProperty.call(prop, 'default')) defaults[name] = prop.default;
      else if (typeof prop.type === 'string' && prop.type in ZERO) defaults[name] = ZERO[prop.type];
    }
  }
  return { named: new Set(Object.keys(properties)), defaults, matchBodyField, matchQuery, narrowBy, dropFields };
}

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
export function objectArrayRoutes(router: Router, d: ObjectArrayDescriptor, ctx: ResourceContext): void {
  const shape = objectArrayShape(d);
  const validate = compileSchema(ctx.ajv, d.itemSchema as JsonSchema, d.path);
  const path = keyPath(d.key);
  const field = fieldOf(d);
  const { matchField, narrowBy } = d;
  /** A field of a stored item as text, trimmed (a number a person wrote counts as its digits); `''` when absent. */
  const text = (v: unknown, name: string): string | undefined => {
    const f = isPlainObject(v) ? v[name] : undefined;
    if (f === undefined || f === null) return '';
    return typeof f === 'string' || typeof f === 'number' ? String(f).trim() : undefined;
  };
  /** Whether item `v` has `key` in its match field and, when `narrow` is given, `narrow` in the narrowing field. */
  const matches = (v: unknown, key: string, narrow?: string): boolean => {
    if (!isPlainObject(v) || v[matchField] === undefined || text(v, matchField) !== key.trim()) return false;
    return narrow === undefined || narrowBy === undefined || text(v, narrowBy) === narrow.trim();
  };
  /** A client's item as stored: server-computed fields dropped, accepted spellings mapped. */
  const incoming = (v: unknown): unknown => {
    if (!isPlainObject(v)) return v;
    const out: Record<string, unknown> = { ...v };
    for (const f of shape.dropFields) delete out[f];
    for (const [f, map] of Object.entries(d.valueAliases ?? {})) {
      const x = out[f];
      if (typeof x === 'string' && Object.prototype.hasOwnProperty.call(map, x)) out[f] = map[x];
    }
    return out;
  };

  const get: Handler = async (_req, res) => {
    const value = valueAt(ctx.store.config, path);
    res.json({ [field]: Array.isArray(value) ? value.map((v) => withDefaults(v, shape.defaults)) : [] });
  };

  const put: Handler = async (req, res) => {
    const items = itemsBody(req).map(incoming);
    const details = items.flatMap((v, i) => (validate(v) ? [] : schemaDetails(validate.errors, `/${i}`)));
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
    const rawMatch = present(body, shape.matchBodyField);
    const narrow = narrowBy === undefined ? undefined : queryParam(req, narrowBy);
    let select: (values: unknown[]) => number;
    if (rawIndex !== undefined) {
      const i = bodyIndex(rawIndex);
      select = (values) => (i < values.length ? i : -1);
    } else if (rawMatch !== undefined) {
      if (typeof rawMatch !== 'string') throw badBody([{ path: `/${shape.matchBodyField}`, message: 'must be a string' }]);
      select = (values) => values.findIndex((v) => matches(v, rawMatch, narrow));
    } else {
      throw badBody(`expected "index" or "${shape.matchBodyField}" to select the item`);
    }
    await ctx.store.mutate((doc) => {
      const seq = listAt(doc, path);
      const values = seq ? seq.items.map((n) => itemValue(doc, n)) : [];
      const i = select(values);
      if (!seq || i < 0) throw notFoundItem();
      const stored = values[i];
      const merged: Record<string, unknown> = isPlainObject(stored) ? { ...stored } : {};
      for (const [k, v] of Object.entries(value)) {
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      if (!validate(merged)) throw badBody(schemaDetails(validate.errors, '/value'));
      seq.items[i] = reconcile(doc, seq.items[i], merged);
    });
    ok(res);
  };

  // Beyond the contract: append one item, so concurrent adds (two panels, two scripts) cannot
  // lose each other the way a read-then-PUT of the whole list can.
  const post: Handler = async (req, res) => {
    const item = incoming(objectBody(req));
    if (!validate(item)) throw badBody(schemaDetails(validate.errors));
    await ctx.store.mutate((doc) => appendItem(doc, path, item));
    ok(res);
  };

  const del: Handler = async (req, res) => {
    const index = indexParam(queryParam(req, 'index', 'invalid index'));
    const key = queryParam(req, shape.matchQuery);
    const narrow = narrowBy === undefined ? undefined : queryParam(req, narrowBy);
    await deleteItems(ctx.store, path, index, key, (doc, item, k) => matches(itemValue(doc, item), k, narrow), `missing ${shape.matchQuery} or index`);
    ok(res);
  };

  defineRoutes(router, d.path, { get, put, patch, post, delete: del }, { put: [ctx.json], patch: [ctx.json], post: [ctx.json] });
}
