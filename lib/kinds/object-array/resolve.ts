import { isPlainObject } from '../../plain-data';
import type { ObjectArrayDescriptor } from '../../types';
import type { ResolvedObjectArray } from '../../settings/resolved';
import type { RowTools } from '../../settings/resolved';

/** What GET shows for an absent optional property without a `default`, by its `type`. */
const ZERO: Readonly<Record<string, unknown>> = {
  string: '',
  array: [],
  boolean: false,
  integer: 0,
  number: 0,
  object: {},
};

const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/**
 * An `object-array` row: the item schema must be an object schema whose match field is a
 * required string property; the PATCH/DELETE selector names default to the match field;
 * the GET defaults of optional properties are worked out here, once.
 */
export function resolveObjectArray(d: ObjectArrayDescriptor, tools: RowTools): ResolvedObjectArray {
  const schema: unknown = d.itemSchema;
  if (!isPlainObject(schema) || schema.type !== 'object' || !isPlainObject(schema.properties)) {
    throw tools.invalid(
      'itemSchema must be an object schema ({"type": "object", "properties": {...}})',
    );
  }
  const properties = schema.properties;
  const required = Array.isArray(schema.required) ? (schema.required as unknown[]) : [];
  if (typeof d.matchField !== 'string' || d.matchField === '')
    throw tools.invalid('matchField must be a non-empty string');
  const match = properties[d.matchField];
  if (!own(properties, d.matchField) || !isPlainObject(match) || match.type !== 'string') {
    throw tools.invalid(
      `matchField "${d.matchField}" must be a property of itemSchema with "type": "string"`,
    );
  }
  if (!required.includes(d.matchField))
    throw tools.invalid(`matchField "${d.matchField}" must be listed in itemSchema.required`);
  const matchBodyField = d.matchBodyField ?? d.matchField;
  const matchQuery = d.matchQuery ?? d.matchField;
  if (
    typeof matchBodyField !== 'string' ||
    matchBodyField === '' ||
    matchBodyField === 'index' ||
    matchBodyField === 'value'
  ) {
    throw tools.invalid('matchBodyField must be a non-empty string other than "index" and "value"');
  }
  if (typeof matchQuery !== 'string' || matchQuery === '' || matchQuery === 'index') {
    throw tools.invalid('matchQuery must be a non-empty string other than "index"');
  }
  const { narrowBy } = d;
  if (
    narrowBy !== undefined &&
    (typeof narrowBy !== 'string' ||
      narrowBy === '' ||
      narrowBy === 'index' ||
      narrowBy === matchQuery ||
      narrowBy === d.matchField)
  ) {
    throw tools.invalid(
      'narrowBy must be an item field other than the match field, "index" and matchQuery',
    );
  }
  const dropFields = d.dropFields ?? [];
  if (
    !Array.isArray(dropFields) ||
    dropFields.some((f) => typeof f !== 'string' || f === d.matchField)
  ) {
    throw tools.invalid('dropFields must be an array of field names other than the match field');
  }
  const valueAliases = d.valueAliases ?? {};
  if (
    !isPlainObject(valueAliases) ||
    Object.values(valueAliases).some(
      (m) => !isPlainObject(m) || Object.values(m).some((v) => typeof v !== 'string'),
    )
  ) {
    throw tools.invalid('valueAliases must map field names to objects of strings');
  }
  const key = tools.configKey(d.key);
  let defaults: Record<string, unknown> = {};
  if (d.fill !== undefined) {
    if (!isPlainObject(d.fill)) throw tools.invalid('fill must be an object of field values');
    defaults = { ...d.fill };
  } else {
    for (const [name, prop] of Object.entries(properties)) {
      if (required.includes(name) || !isPlainObject(prop)) continue;
      if (own(prop, 'default')) defaults[name] = prop.default;
      else if (typeof prop.type === 'string' && own(ZERO, prop.type))
        defaults[name] = ZERO[prop.type];
    }
  }
  return {
    kind: 'object-array',
    path: d.path,
    description: d.description ?? '',
    descriptor: d,
    key,
    field: d.field ?? (key.at(-1) as string),
    itemSchema: d.itemSchema,
    validate: tools.compile(d.itemSchema),
    matchField: d.matchField,
    matchBodyField,
    matchQuery,
    named: new Set(Object.keys(properties)),
    defaults,
    narrowBy,
    dropFields: [...dropFields],
    valueAliases: valueAliases as Readonly<Record<string, Readonly<Record<string, string>>>>,
  };
}
