// Start-up does not compile the built-in rows' schemas (issue 15): they compile on first use,
// and every one of them compiles (strict mode); a host's own row still compiles at once.
import Ajv from 'ajv';
import { ManagementError } from '../lib';
import { BUILTIN_RESOURCES } from '../lib/resources/table';
import { resolveRows } from '../lib/settings/rows';

afterEach(() => jest.restoreAllMocks());

describe('schemas of the built-in rows', () => {
  it('are not compiled when the table is resolved, and each compiles on its first use', () => {
    const compile = jest.spyOn(Ajv.prototype, 'compile');
    const rows = resolveRows(BUILTIN_RESOURCES);
    // A map row checks its field defaults while it is resolved (it compiles those); no
    // scalar or object-array row's schema is compiled before its first use.
    const early = compile.mock.calls.length;
    const lazySchemas = BUILTIN_RESOURCES.flatMap((d) => (d.kind === 'scalar' ? [d.schema] : d.kind === 'object-array' ? [d.itemSchema] : []));
    for (const [schema] of compile.mock.calls) expect(lazySchemas).not.toContain(schema);
    let validators = 0;
    for (const row of rows) {
      if (!('validate' in row)) continue;
      validators++;
      expect(() => row.validate({ not: 'valid for any row' })).not.toThrow();
      expect(row.validate.errors?.length).toBeGreaterThan(0);
    }
    expect(validators).toBeGreaterThan(5);
    expect(compile.mock.calls.length - early).toBeGreaterThanOrEqual(validators - early);
  });

  it('a host row compiles at once: a schema that does not compile throws before any I/O', () => {
    const bad = { kind: 'scalar', path: '/my-value', key: 'my-value', schema: { type: 'string', minLenght: 3 } } as never;
    expect(() => resolveRows([...BUILTIN_RESOURCES, bad])).toThrow(ManagementError);
    expect(() => resolveRows([...BUILTIN_RESOURCES, bad])).toThrow(/schema does not compile/);
  });
});
