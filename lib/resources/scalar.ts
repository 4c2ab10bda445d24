import type { Router } from 'express';
import { badBody, HttpError, schemaDetails } from '../http/errors';
import { objectBody } from '../http/request';
import { defineRoutes, ok, type Handler } from '../http/routes';
import { valueAt } from '../plain-data';
import type { ResolvedScalar } from '../settings';
import type { ProxyConfig } from '../types';
import type { ResourceContext } from './context';
import { setScalarAt } from './yaml-edit';

/** A string through the row's `aliases` (trimmed and lower-cased first), or `undefined` when it is not one. */
export function aliasOf(row: ResolvedScalar, value: unknown): string | undefined {
  if (!row.aliases || typeof value !== 'string') return undefined;
  const key = value.trim().toLowerCase();
  return Object.prototype.hasOwnProperty.call(row.aliases, key) ? row.aliases[key] : undefined;
}

/** The value GET shows for a scalar row of `config`: stored (through `aliases`, an unknown one trimmed), or the absent value. */
export function scalarValue(row: ResolvedScalar, config: ProxyConfig): unknown {
  const value = valueAt(config, row.key);
  if (value === undefined || value === null) return row.absent;
  if (row.aliases && typeof value === 'string') return aliasOf(row, value) ?? value.trim();
  return value;
}

/** Routes of a `scalar` row: GET, PUT and PATCH (same meaning), DELETE when `resetValue` is set. */
export function scalarRoutes(router: Router, row: ResolvedScalar, ctx: ResourceContext): void {
  const { key, field, validate } = row;

  const get: Handler = async (_req, res) => {
    res.json({ [field]: scalarValue(row, ctx.store.config) });
  };

  const put: Handler = async (req, res) => {
    const body = objectBody(req);
    let value = Object.prototype.hasOwnProperty.call(body, 'value') ? body.value : body[field];
    if (value === undefined) throw badBody(`expected {"value": ...} or {"${field}": ...}`);
    if (row.aliases && typeof value === 'string') {
      value = aliasOf(row, value);
      if (value === undefined) throw new HttpError(400, `invalid ${field}`);
    }
    if (!validate(value)) throw badBody(schemaDetails(validate.errors, '/value'));
    // JSON allows -0; YAML would keep it as `-0`.
    const scalar = Object.is(value, -0) ? 0 : (value as string | number | boolean);
    await ctx.store.mutate((doc) => setScalarAt(doc, key, scalar));
    ok(res);
  };

  const reset = row.resetValue;
  const del: Handler | undefined =
    reset === undefined
      ? undefined
      : async (_req, res) => {
          await ctx.store.mutate((doc) => setScalarAt(doc, key, reset));
          ok(res);
        };

  defineRoutes(router, row.path, { get, put, patch: put, delete: del }, { put: [ctx.json], patch: [ctx.json] });
}
