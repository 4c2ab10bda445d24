import type { StringArrayDescriptor } from '../../types';
import type { ResolvedStringArray } from '../../settings/resolved';
import type { RowTools } from '../../settings/resolved';

/** A `string-array` row: its key and GET field. */
export function resolveStringArray(d: StringArrayDescriptor, tools: RowTools): ResolvedStringArray {
  const key = tools.configKey(d.key);
  return {
    kind: 'string-array',
    path: d.path,
    description: d.description ?? '',
    descriptor: d,
    key,
    field: d.field ?? (key.at(-1) as string),
  };
}
