import type { Router } from 'express';
import { badBody, HttpError } from '../http/errors';
import { ManagementError } from '../errors';
import type { ProxyConfig, ScalarDescriptor } from '../types';
import {
  compileSchema,
  defineRoutes,
  fieldOf,
  keyPath,
  objectBody,
  ok,
  schemaDetails,
  setScalarAt,
  valueAt,
  type Handler,
  type ResourceContext,
} from './common';

type ScalarValue = string | number | boolean;
const ZERO: Record<string, ScalarValue> = { boolean: false, string: '', integer: 0, number: 0 };

/** What GET answers for an absent key: the schema's `default`, else the zero value of its type. */
export function zeroValue(d: ScalarDescriptor): ScalarValue {
  const zero = ZERO[String(d.schema.type)];
  if (zero === undefined) {
    throw new ManagementError('ERR_INVALID_DESCRIPTOR', `${d.path}: scalar schema type must be boolean, string, integer or number`);
  }
  const fallback = d.schema.default;
  if (fallback !== undefined) {
    if (typeof fallback !== typeof zero || (d.schema.type === 'integer' && !Number.isSafeInteger(fallback))) {
      throw new ManagementError('ERR_INVALID_DESCRIPTOR', `${d.path}: schema default must be of the schema's type`);
    }
    return fallback as ScalarValue;
  }
  return zero;
}

/** The stored value through the row's `aliases` (trimmed and lower-cased first), or `undefined` when it is not one. */
export function aliasOf(d: ScalarDescriptor, value: unknown): string | undefined {
  if (!d.aliases || typeof value !== 'string') return undefined;
  const key = value.trim().toLowerCase();
  return Object.prototype.hasOwnProperty.call(d.aliases, key) ? d.aliases[key] : undefined;
}

/** The value GET shows for a scalar row of `config`: stored, through `aliases`, or the default. */
export function scalarValue(d: ScalarDescriptor, config: ProxyConfig): unknown {
  const value = valueAt(config, keyPath(d.key));
  if (value === undefined || value === null) return zeroValue(d);
  if (d.aliases && typeof value === 'string') return aliasOf(d, value) ?? value.trim();
  return value;
}

/** Routes of a `scalar` row: GET, PUT and PATCH (same meaning), DELETE when `resetValue` is set. */
export function scalarRoutes(router: Router, d: ScalarDescriptor, ctx: ResourceContext): void {
  const path = keyPath(d.key);
  const field = fieldOf(d);
  zeroValue(d);
  const validate = compileSchema(ctx.ajv, d.schema, d.path);

  const get: Handler = async (_req, res) => {
    res.json({ [field]: scalarValue(d, ctx.store.config) });
  };

  const put: Handler = async (req, res) => {
    const body = objectBody(req);
    let value = Object.prototype.hasOwnProperty.call(body, 'value') ? body.value : body[field];
    if (value === undefined) throw badBody(`expected {"value": ...} or {"${field}": ...}`);
    if (d.aliases && typeof value === 'string') {
      value = aliasOf(d, value);
      if (value === undefined) throw new HttpError(400, `invalid ${field}`);
    }
    if (!validate(value)) throw badBody(schemaDetails(validate.errors, '/value'));
    // JSON allows -0; YAML would keep it as `-0`.
    const scalar = Object.is(value, -0) ? 0 : (value as ScalarValue);
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
