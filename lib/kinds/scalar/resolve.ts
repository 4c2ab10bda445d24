import type { ScalarDescriptor } from '../../types';
import type { ResolvedScalar } from '../../settings/resolved';
import type { RowTools } from '../../settings/resolved';

/** What GET answers for an absent key, by the schema's `type`. */
const ZERO: Readonly<Record<string, string | number | boolean>> = {
  boolean: false,
  string: '',
  integer: 0,
  number: 0,
};

/** A `scalar` row: key, GET field, the value of an absent key (schema `default` or zero), aliases, the compiled schema. */
export function resolveScalar(d: ScalarDescriptor, tools: RowTools): ResolvedScalar {
  const key = tools.configKey(d.key);
  const type = typeof d.schema === 'object' && d.schema !== null ? d.schema.type : undefined;
  const absent =
    typeof type === 'string' && Object.prototype.hasOwnProperty.call(ZERO, type)
      ? ZERO[type]
      : undefined;
  if (absent === undefined)
    throw tools.invalid('scalar schema type must be boolean, string, integer or number');
  const validate = tools.compile(d.schema);
  const fallback: unknown = d.schema.default;
  // The library's own rows are checked by the test suite (settings.test.ts), so their schemas need not compile now.
  const check = (value: unknown): boolean => tools.builtIn || validate(value);
  if (fallback !== undefined && !check(fallback))
    throw tools.invalid('schema default must be a valid value of the schema');
  const aliases = d.aliases;
  if (aliases !== undefined) {
    if (typeof aliases !== 'object' || aliases === null || Array.isArray(aliases))
      throw tools.invalid('aliases must be an object of strings');
    for (const [spelling, stored] of Object.entries(aliases)) {
      if (spelling !== spelling.trim().toLowerCase())
        throw tools.invalid(`aliases: ${JSON.stringify(spelling)} must be trimmed and lower-case`);
      if (!check(stored))
        throw tools.invalid(
          `aliases: ${JSON.stringify(spelling)} maps to a value the schema refuses`,
        );
    }
  }
  return {
    kind: 'scalar',
    path: d.path,
    description: d.description ?? '',
    descriptor: d,
    key,
    field: d.field ?? (key.at(-1) as string),
    schema: d.schema,
    validate,
    absent: (fallback as string | number | boolean | undefined) ?? absent,
    aliases: aliases ? { ...aliases } : undefined,
    resetValue: d.resetValue,
  };
}
