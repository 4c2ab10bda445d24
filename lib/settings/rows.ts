import type Ajv from 'ajv';
import { ManagementError } from '../errors';
import { PROTOTYPE_NAMES } from '../plain-data';
import { loadSync } from '../load-sync';
import type { JsonSchema, KeyPath, ResourceDescriptor } from '../types';
import { resolveFiles } from '../kinds/files/resolve';
import { resolveMap } from '../kinds/map/resolve';
import { resolveObjectArray } from '../kinds/object-array/resolve';
import { resolveScalar } from '../kinds/scalar/resolve';
import { resolveStringArray } from '../kinds/string-array/resolve';
import type { ResolvedOf, ResolvedRow, RowTools, Validator } from './resolved';

export interface ResolveRowsOptions {
  /**
   * How many leading rows are the library's own (compiled on first use). Default 0: every row
   * is compiled and fully checked now, as `openapi.ts` and the tests resolve tables.
   */
  readonly builtIn?: number;
}

/** One ajv per table, made (and ajv loaded) when the first schema is compiled. */
function tableCompiler(): (schema: JsonSchema) => Validator {
  let ajv: Ajv | undefined;
  return (schema) => {
    if (!ajv) {
      const { default: AjvClass } = loadSync('ajv') as typeof import('ajv');
      ajv = new AjvClass({ allErrors: true, strict: true, allowUnionTypes: true });
    }
    return ajv.compile(schema);
  };
}

/** A validator that compiles `schema` when first called. */
function onFirstUse(compile: (schema: JsonSchema) => Validator, schema: JsonSchema): Validator {
  let compiled: Validator | undefined;
  const validate: Validator = (data) => {
    compiled ??= compile(schema);
    const ok = compiled(data);
    validate.errors = compiled.errors;
    return ok;
  };
  validate.errors = null;
  return validate;
}

/**
 * One resolver per descriptor kind: checks a row (throwing `ERR_INVALID_DESCRIPTOR`) and works
 * out everything the routes, the OpenAPI document and the panel need.
 *
 * Adding a kind: its descriptor in `types.ts` (a member of `ResourceDescriptor`), its resolved
 * row in `resolved.ts` (extending `ConfigRow`, a member of `ResolvedRow`), its resolver in
 * `kinds/<kind>.ts` (an entry here) and its builder in `resources/<kind>.ts` (an entry of
 * `BUILDERS` in `router.ts`). TypeScript then asks for the rest: its OpenAPI paths
 * (`pathsOf` in `openapi.ts`) and its panel row (`panelMeta`, `client/meta.ts`).
 */
type Resolvers = {
  [K in ResourceDescriptor['kind']]: (
    d: Extract<ResourceDescriptor, { kind: K }>,
    tools: RowTools,
  ) => ResolvedOf<K>;
};

const RESOLVERS: Resolvers = {
  scalar: resolveScalar,
  'string-array': resolveStringArray,
  'object-array': resolveObjectArray,
  map: resolveMap,
  files: resolveFiles,
};

/** A string key is one key, dots included; an array is a path. */
export const keyPath = (key: KeyPath): readonly string[] => (typeof key === 'string' ? [key] : key);

/** Routes the router defines besides the rows. */
const RESERVED_PATHS = new Set(['/config', '/config.yaml']);

/** The routes a `files` row has besides its own path. */
const FILES_SUB_PATHS = ['/download', '/status', '/fields'];

const ROUTE_RE = /^(?:\/[a-z0-9][a-z0-9._-]*)+$/;
const MANAGEMENT_KEYS = new Set([
  'remote-management',
  'remote-management-key',
  'allow-remote-management',
]);

/**
 * Check every row of the table and resolve it, before anything is opened: a bad row throws
 * `ManagementError` `ERR_INVALID_DESCRIPTOR` here, whatever state the config file is in.
 * The rows are not mutated.
 */
export function resolveRows(
  rows: readonly ResourceDescriptor[],
  options: ResolveRowsOptions = {},
): ResolvedRow[] {
  const compileNow = tableCompiler();
  const builtInCount = options.builtIn ?? 0;
  const paths = new Set<string>();
  /** Joined key path -> the route path of the row that holds it. */
  const keys = new Map<string, string>();
  return rows.map((row, index) => {
    const builtIn = index < builtInCount;
    const where = `resource ${JSON.stringify(row?.path)}`;
    const invalid = (message: string): ManagementError =>
      new ManagementError('ERR_INVALID_DESCRIPTOR', `${where}: ${message}`);
    if (typeof row !== 'object' || row === null)
      throw new ManagementError('ERR_INVALID_DESCRIPTOR', 'a resource row must be an object');
    if (typeof row.path !== 'string' || !ROUTE_RE.test(row.path))
      throw invalid('path must look like /lower-case/segments');
    if (RESERVED_PATHS.has(row.path)) throw invalid('path is taken by the whole-config endpoints');
    if (paths.has(row.path)) throw invalid('path is used by another row');
    paths.add(row.path);
    const tools: RowTools = {
      invalid,
      builtIn,
      configKey(key) {
        const kp = keyPath(key);
        if (
          !Array.isArray(kp) ||
          kp.length === 0 ||
          kp.some((k) => typeof k !== 'string' || k === '' || PROTOTYPE_NAMES.has(k))
        ) {
          throw invalid('key must be a non-empty string or path of strings');
        }
        const joined = kp.join('\u0000');
        for (const [other, otherPath] of keys) {
          if (
            other === joined ||
            other.startsWith(`${joined}\u0000`) ||
            joined.startsWith(`${other}\u0000`)
          ) {
            throw invalid(`YAML key ${kp.join('.')} collides with the row ${otherPath}`);
          }
        }
        keys.set(joined, row.path);
        if (MANAGEMENT_KEYS.has(kp[0] as string))
          throw invalid('the management settings cannot be exposed through the API');
        return [...kp];
      },
      compile(schema) {
        if (builtIn) return onFirstUse(compileNow, schema);
        try {
          return compileNow(schema);
        } catch (err) {
          throw invalid(`schema does not compile: ${(err as Error).message}`);
        }
      },
    };
    const resolve = Object.prototype.hasOwnProperty.call(RESOLVERS, row.kind)
      ? (RESOLVERS[row.kind] as (d: ResourceDescriptor, tools: RowTools) => ResolvedRow)
      : undefined;
    if (!resolve) throw invalid(`unknown kind ${JSON.stringify(row.kind)}`);
    const resolved = resolve(row, tools);
    if (resolved.kind === 'files') {
      for (const sub of FILES_SUB_PATHS) {
        if (paths.has(row.path + sub))
          throw invalid(`its route ${row.path + sub} is the path of another row`);
        paths.add(row.path + sub);
      }
    }
    return resolved;
  });
}
