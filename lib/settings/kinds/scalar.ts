import type { ScalarDescriptor } from '../../types';
import type { ResolvedScalar } from '../resolved';
import type { RowTools } from '../rows';

/** What GET answers for an absent key, by the schema's `type`. */
const ZERO: Readonly<Record<string, string | number | boolean>> = { boolean: false, string: '', integer: 0, number: 0 };

/** A `scalar` row: key, GET field, the value of an absent key, the compiled schema. */
export function resolveScalar(d: ScalarDescriptor, tools: RowTools): ResolvedScalar {
  const key = tools.configKey(d.key);
  const type = typeof d.schema === 'object' && d.schema !== null ? d.schema.type : undefined;
  const absent = typeof type === 'string' && Object.prototype.hasOwnProperty.call(ZERO, type) ? ZERO[type] : undefined;
  if (absent === undefined) throw tools.invalid('scalar schema type must be boolean, string, integer or number');
  return {
    kind: 'scalar',
    path: d.path,
    description: d.description ?? '',
    descriptor: d,
    key,
    field: d.field ?? (key.at(-1) as string),
    schema: d.schema,
    validate: tools.compile(d.schema),
    absent,
    resetValue: d.resetValue,
  };
}
