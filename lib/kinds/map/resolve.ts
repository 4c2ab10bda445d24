import { isPlainObject } from '../../plain-data';
import type { MapDescriptor } from '../../types';
import type { ResolvedMap } from '../../settings/resolved';
import type { RowTools } from '../../settings/resolved';

const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;
const lower = (v: unknown): string => String(v).trim().toLowerCase();

/**
 * Names no map entry may have (after trimming and lower-casing): they would set or shadow an
 * object's prototype. A request naming one is a 400; a stored one is dropped on read.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
]);

/**
 * A `map` row: the name and list fields, the compiled item schema and the normaliser every read
 * and write goes through (names trimmed and lower-cased; failing, blank and repeated entries
 * dropped; empty entries removed).
 */
export function resolveMap(d: MapDescriptor, tools: RowTools): ResolvedMap {
  const aliases = d.nameAliases ?? [];
  if (typeof d.nameField !== 'string' || !NAME_RE.test(d.nameField))
    throw tools.invalid('nameField must be a field name');
  if (
    !Array.isArray(aliases) ||
    aliases.some((a) => typeof a !== 'string' || !NAME_RE.test(a) || a === d.nameField)
  ) {
    throw tools.invalid('nameAliases must be field names other than nameField');
  }
  if (
    typeof d.listField !== 'string' ||
    !NAME_RE.test(d.listField) ||
    d.listField === d.nameField ||
    aliases.includes(d.listField)
  ) {
    throw tools.invalid('listField must be a field name other than the name fields');
  }
  const schema: unknown = d.itemSchema;
  if (!isPlainObject(schema) || (schema.type !== 'string' && schema.type !== 'object')) {
    throw tools.invalid('itemSchema must be a string or object schema');
  }
  const strings = schema.type === 'string';
  const { uniqueBy, distinct } = d;
  if (uniqueBy !== undefined && (strings || typeof uniqueBy !== 'string' || uniqueBy === ''))
    throw tools.invalid('uniqueBy must name a field of object items');
  if (
    distinct !== undefined &&
    (strings ||
      !Array.isArray(distinct) ||
      distinct.length !== 2 ||
      distinct.some((f) => typeof f !== 'string' || f === ''))
  ) {
    throw tools.invalid('distinct must name two fields of object items');
  }
  const key = tools.configKey(d.key);
  const validate = tools.compile(d.itemSchema);

  const normalizeList = (value: unknown): unknown[] => {
    if (!Array.isArray(value)) return [];
    const seen = new Set<string>();
    const out: unknown[] = [];
    for (const raw of value) {
      if (strings) {
        if (typeof raw !== 'string' && typeof raw !== 'number') continue;
        const item = lower(raw);
        if (item === '' || seen.has(item) || !validate(item)) continue;
        seen.add(item);
        out.push(item);
        continue;
      }
      if (!isPlainObject(raw)) continue;
      const item = Object.fromEntries(
        Object.entries(raw).map(([k, v]) => [k, typeof v === 'string' ? v.trim() : v]),
      );
      if (!validate(item)) continue;
      if (distinct && lower(item[distinct[0]]) === lower(item[distinct[1]])) continue;
      if (uniqueBy !== undefined) {
        const id = lower(item[uniqueBy]);
        if (seen.has(id)) continue;
        seen.add(id);
      }
      out.push(item);
    }
    return out;
  };

  const normalize = (value: unknown): Record<string, unknown[]> => {
    const out: Record<string, unknown[]> = {};
    if (!isPlainObject(value)) return out;
    for (const [rawName, list] of Object.entries(value)) {
      const name = lower(rawName);
      if (
        name === '' ||
        RESERVED_NAMES.has(name) ||
        Object.prototype.hasOwnProperty.call(out, name)
      )
        continue;
      const items = normalizeList(list);
      if (items.length > 0) out[name] = items;
    }
    return out;
  };

  return {
    kind: 'map',
    path: d.path,
    description: d.description ?? '',
    descriptor: d,
    key,
    field: d.field ?? (key.at(-1) as string),
    nameField: d.nameField,
    nameFields: [d.nameField, ...aliases],
    listField: d.listField,
    itemSchema: d.itemSchema,
    normalize,
    normalizeList,
  };
}
