import { badBody, HttpError, schemaDetails } from '../../http/errors';
import { objectBody } from '../../http/request';
import { ok, sendJson } from '../../http/reply';
import type { Handler, RouteTable } from '../../http/routes';
import { valueAt } from '../../plain-data';
import type { ResolvedScalar } from '../../settings';
import type { Logger } from '../../types';
import { warnOnce, type ScalarType, type Snapshot } from '../../config/typed';
import type { ResourceContext } from '../context';
import { setScalarAt } from '../../yaml/edit';

/** A string through the row's `aliases` (trimmed and lower-cased first), or `undefined` when it is not one. */
export function aliasOf(row: ResolvedScalar, value: unknown): string | undefined {
  if (!row.aliases || typeof value !== 'string') return undefined;
  const key = value.trim().toLowerCase();
  return Object.prototype.hasOwnProperty.call(row.aliases, key) ? row.aliases[key] : undefined;
}

/**
 * The value GET shows for a scalar row of a snapshot: read as the Go server reads it (YAML 1.1
 * booleans, unquoted numbers as text for strings), through `aliases` (an unknown one trimmed);
 * absent, or a value that cannot mean the row's type (logged once), reads as the row's absent value.
 */
export function scalarValue(
  row: ResolvedScalar,
  snapshot: Snapshot,
  logger?: Logger,
): string | number | boolean {
  const stored = valueAt(snapshot.config, row.key);
  if (stored === undefined || stored === null) return row.absent;
  const type = String(row.schema.type) as ScalarType;
  const read = snapshot.read(row.key, type);
  if (!read.valid) {
    if (logger)
      warnOnce(
        logger,
        `cli-proxy-management: ${row.key.join('.')} in the config is not a ${type}; it reads as ${JSON.stringify(row.absent)}`,
      );
    return row.absent;
  }
  if (row.aliases && typeof read.value === 'string')
    return aliasOf(row, read.value) ?? read.value.trim();
  return read.value;
}

/** Routes of a `scalar` row: GET, PUT and PATCH (same meaning), DELETE when `resetValue` is set. */
export function scalarRoutes(routes: RouteTable, row: ResolvedScalar, ctx: ResourceContext): void {
  const { key, field, validate } = row;

  // The value of the last snapshot read (a snapshot never changes; a change is a new one).
  let shown: { snapshot: Snapshot; value: string | number | boolean } | undefined;
  const get: Handler = async (_req, res) => {
    const snapshot = ctx.store.snapshot;
    if (shown?.snapshot !== snapshot)
      shown = { snapshot, value: scalarValue(row, snapshot, ctx.logger) };
    sendJson(res, { [field]: shown.value });
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

  routes.define(
    row.path,
    { get, put, patch: put, delete: del },
    { put: [ctx.json], patch: [ctx.json] },
  );
}
