import type { Document } from 'yaml';
import { isMap } from 'yaml';
import { RESERVED_NAMES } from './resolve';
import { asSchemaType, docLiterals } from '../../config/typed';
import { badBody, HttpError } from '../../http/errors';
import { objectBody, queryParam } from '../../http/request';
import { ok, sendJson } from '../../http/reply';
import type { Handler, RouteTable } from '../../http/routes';
import { isPlainObject, valueAt } from '../../plain-data';
import type { ResolvedMap } from '../../settings';
import type { ResourceContext } from '../context';
import { setAt } from '../../yaml/edit';
import { reconcile } from '../../yaml/reconcile';

/** Store `map` at `path`: an empty map removes the key; an existing mapping keeps the nodes (and comments) of entries that stay. */
function writeMap(doc: Document, path: readonly string[], map: Record<string, unknown[]>): void {
  if (Object.keys(map).length === 0) {
    if (doc.hasIn(path)) doc.deleteIn(path);
    return;
  }
  const node: unknown = doc.getIn(path, true);
  if (isMap(node) && !node.anchor) doc.setIn(path, reconcile(doc, node, map));
  else setAt(doc, path, map);
}

/** The schema of a whole map row's value: names to lists of items (unquoted numbers in string fields are read as their text). */
const mapSchema = (row: ResolvedMap): unknown => ({
  type: 'object',
  additionalProperties: { type: 'array', items: row.itemSchema },
});

/** The stored map of `doc`, normalised. */
const storedMap = (doc: Document, row: ResolvedMap): Record<string, unknown[]> => {
  const node: unknown = doc.getIn(row.key, true);
  const value: unknown =
    node && typeof node === 'object' && 'toJS' in node
      ? (node as { toJS(d: Document): unknown }).toJS(doc)
      : node;
  return row.normalize(asSchemaType(value, mapSchema(row), docLiterals(doc, row.key)));
};

/**
 * Routes of a `map` row: GET (normalised, `{}` when absent), PUT
 * (replace), PATCH (one name's list; empty removes it), DELETE `?<name>=`.
 */
export function mapRoutes(routes: RouteTable, row: ResolvedMap, ctx: ResourceContext): void {
  const { key: path, field, nameField, nameFields, listField } = row;
  const notFound = (): HttpError => new HttpError(404, `${nameField} not found`);
  const invalidName = (): HttpError => new HttpError(400, `invalid ${nameField}`);
  const schema = mapSchema(row);

  const get: Handler = async (_req, res) => {
    const snapshot = ctx.store.snapshot;
    sendJson(res, {
      [field]: row.normalize(
        asSchemaType(valueAt(snapshot.config, path), schema, snapshot.literalsAt(path)),
      ),
    });
  };

  const put: Handler = async (req, res) => {
    let body: unknown = req.body;
    if (isPlainObject(body) && Object.keys(body).length === 1 && isPlainObject(body.items))
      body = body.items;
    if (!isPlainObject(body))
      throw badBody('expected a map of names to lists, or {"items": {...}}');
    const wrong = Object.entries(body).find(([, v]) => v !== null && !Array.isArray(v));
    if (wrong) throw badBody([{ path: `/${wrong[0]}`, message: 'must be array' }]);
    if (Object.keys(body).some((k) => RESERVED_NAMES.has(k.trim().toLowerCase())))
      throw invalidName();
    const map = row.normalize(body);
    await ctx.store.mutate((doc) => writeMap(doc, path, map));
    ok(res);
  };

  const patch: Handler = async (req, res) => {
    const body = objectBody(req);
    const used = nameFields.find((f) => body[f] !== undefined && body[f] !== null);
    if (used === undefined) throw badBody(`expected "${nameField}" and "${listField}"`);
    const raw = body[used];
    if (typeof raw !== 'string') throw badBody([{ path: `/${used}`, message: 'must be string' }]);
    const name = raw.trim().toLowerCase();
    if (name === '' || RESERVED_NAMES.has(name)) throw invalidName();
    const list = body[listField];
    if (!Array.isArray(list)) throw badBody([{ path: `/${listField}`, message: 'must be array' }]);
    const items = row.normalizeList(list);
    await ctx.store.mutate((doc) => {
      const map = storedMap(doc, row);
      if (items.length > 0) map[name] = items;
      else if (!Object.prototype.hasOwnProperty.call(map, name)) throw notFound();
      else delete map[name];
      writeMap(doc, path, map);
    });
    ok(res);
  };

  const del: Handler = async (req, res) => {
    let raw: string | undefined;
    for (const f of nameFields) raw ??= queryParam(req, f);
    const name = raw?.trim().toLowerCase();
    if (!name) throw new HttpError(400, `missing ${nameField}`);
    if (RESERVED_NAMES.has(name)) throw invalidName();
    await ctx.store.mutate((doc) => {
      const map = storedMap(doc, row);
      if (!Object.prototype.hasOwnProperty.call(map, name)) throw notFound();
      delete map[name];
      writeMap(doc, path, map);
    });
    ok(res);
  };

  routes.define(row.path, { get, put, patch, delete: del }, { put: [ctx.json], patch: [ctx.json] });
}
