import type { Router } from 'express';
import { badBody, schemaDetails } from '../http/errors';
import { objectBody } from '../http/request';
import { defineRoutes, ok, type Handler } from '../http/routes';
import type { ResolvedScalar } from '../settings';
import { readTyped, warnOnce, type ScalarType } from '../store/typed';
import type { ResourceContext } from './context';
import { setScalarAt } from './yaml-edit';

/** Routes of a `scalar` row: GET, PUT and PATCH (same meaning), DELETE when `resetValue` is set. */
export function scalarRoutes(router: Router, row: ResolvedScalar, ctx: ResourceContext): void {
  const { key, field, absent, validate } = row;

  const type = String(row.schema.type) as ScalarType;
  const get: Handler = async (_req, res) => {
    // Read as the Go server reads it (YAML 1.1 booleans, unquoted numbers as text for strings);
    // a value that cannot mean the documented type is its zero value, logged once.
    const read = readTyped(ctx.store.config, key, type);
    if (!read.valid) warnOnce(ctx.logger, `cli-proxy-management: ${key.join('.')} in the config is not a ${type}; it reads as ${JSON.stringify(absent)}`);
    res.json({ [field]: read.valid ? read.value : absent });
  };

  const put: Handler = async (req, res) => {
    const body = objectBody(req);
    const value = Object.prototype.hasOwnProperty.call(body, 'value') ? body.value : body[field];
    if (value === undefined) throw badBody(`expected {"value": ...} or {"${field}": ...}`);
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
