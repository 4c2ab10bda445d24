import type { Router } from 'express';
import { badBody } from '../http/errors';
import { ManagementError } from '../errors';
import { readTyped, warnOnce, type ScalarType } from '../store/typed';
import type { ScalarDescriptor } from '../types';
import {
  compileSchema,
  defineRoutes,
  fieldOf,
  keyPath,
  objectBody,
  ok,
  schemaDetails,
  setScalarAt,
  type Handler,
  type ResourceContext,
} from './common';

const ZERO: Record<string, string | number | boolean> = { boolean: false, string: '', integer: 0, number: 0 };

/** The zero value of a scalar row: what GET answers when the key is absent. */
export function zeroValue(d: ScalarDescriptor): string | number | boolean {
  const zero = ZERO[String(d.schema.type)];
  if (zero === undefined) {
    throw new ManagementError('ERR_INVALID_DESCRIPTOR', `${d.path}: scalar schema type must be boolean, string, integer or number`);
  }
  return zero;
}

/** Routes of a `scalar` row: GET, PUT and PATCH (same meaning), DELETE when `resetValue` is set. */
export function scalarRoutes(router: Router, d: ScalarDescriptor, ctx: ResourceContext): void {
  const path = keyPath(d.key);
  const field = fieldOf(d);
  const zero = zeroValue(d);
  const validate = compileSchema(ctx.ajv, d.schema, d.path);

  const type = String(d.schema.type) as ScalarType;
  const get: Handler = async (_req, res) => {
    // Read as the Go server reads it (YAML 1.1 booleans, unquoted numbers as text for strings);
    // a value that cannot mean the documented type is its zero value, logged once.
    const read = readTyped(ctx.store.config, path, type);
    if (!read.valid) warnOnce(ctx.logger, `cli-proxy-management: ${path.join('.')} in the config is not a ${type}; it reads as ${JSON.stringify(zero)}`);
    res.json({ [field]: read.valid ? read.value : zero });
  };

  const put: Handler = async (req, res) => {
    const body = objectBody(req);
    const value = Object.prototype.hasOwnProperty.call(body, 'value') ? body.value : body[field];
    if (value === undefined) throw badBody(`expected {"value": ...} or {"${field}": ...}`);
    if (!validate(value)) throw badBody(schemaDetails(validate.errors, '/value'));
    // JSON allows -0; YAML would keep it as `-0`.
    const scalar = Object.is(value, -0) ? 0 : (value as string | number | boolean);
    await ctx.store.mutate((doc) => setScalarAt(doc, path, scalar));
    ok(res);
  };

  const reset = d.resetValue;
  const del: Handler | undefined =
    reset === undefined
      ? undefined
      : async (_req, res) => {
          await ctx.store.mutate((doc) => setScalarAt(doc, path, reset));
          ok(res);
        };

  defineRoutes(router, d.path, { get, put, patch: put, delete: del }, { put: [ctx.json], patch: [ctx.json] });
}
