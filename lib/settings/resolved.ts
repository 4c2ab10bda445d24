import type {
  FilesDescriptor,
  JsonSchema,
  KeyPath,
  MapDescriptor,
  ObjectArrayDescriptor,
  ResourceDescriptor,
  ScalarDescriptor,
  StringArrayDescriptor,
} from '../types';
import type { ErrorObject } from 'ajv';
import type { ManagementError } from '../errors';

/**
 * A row of the resource table after resolution (`resolveRows`): checked, every default applied,
 * schemas compiled. Route builders, the OpenAPI generator and the panel metadata read only
 * these; none of them looks at a raw descriptor or works out a default again.
 */
export interface ResolvedBase<D extends ResourceDescriptor> {
  /** Route path under the mount point. */
  readonly path: string;
  /** One line for humans; `''` when the row has none. */
  readonly description: string;
  /** The host's descriptor, as given (never mutated). */
  readonly descriptor: D;
}

/** A row over a key of the YAML config (every kind but `files`). */
export interface ConfigRow<D extends ResourceDescriptor> extends ResolvedBase<D> {
  /** The YAML key path (a string key becomes a path of one key, dots included). */
  readonly key: readonly string[];
  /** Name of the field in GET bodies: `field`, else the last key. */
  readonly field: string;
}

export interface ResolvedScalar extends ConfigRow<ScalarDescriptor> {
  readonly kind: 'scalar';
  readonly schema: JsonSchema;
  /** The row's schema, compiled. */
  readonly validate: Validator;
  /** What GET answers when the key is absent: the schema's `default`, else the zero value of its `type`. */
  readonly absent: string | number | boolean;
  /** Accepted spellings (trimmed, lower-cased) and the value each stores; `undefined`: none. */
  readonly aliases: Readonly<Record<string, string>> | undefined;
  /** What DELETE writes; `undefined`: no DELETE route. */
  readonly resetValue: string | number | boolean | undefined;
}

export interface ResolvedStringArray extends ConfigRow<StringArrayDescriptor> {
  readonly kind: 'string-array';
}

export interface ResolvedObjectArray extends ConfigRow<ObjectArrayDescriptor> {
  readonly kind: 'object-array';
  readonly itemSchema: JsonSchema;
  /** The item schema, compiled. */
  readonly validate: Validator;
  readonly matchField: string;
  /** PATCH body field selecting by match field (`matchBodyField`, default `matchField`). */
  readonly matchBodyField: string;
  /** DELETE query parameter selecting by match field (`matchQuery`, default `matchField`). */
  readonly matchQuery: string;
  /** The properties the item schema names. */
  readonly named: ReadonlySet<string>;
  /**
   * What GET shows for an absent (or `null`) field: the row's `fill`, else for each optional
   * property its `default` or the zero value of its `type`. Nothing is written for it.
   */
  readonly defaults: Readonly<Record<string, unknown>>;
  /** The field that narrows a selection by the match field (`?base-url=`); `undefined`: none. */
  readonly narrowBy: string | undefined;
  /** Fields dropped from every item a client sends. */
  readonly dropFields: readonly string[];
  /** Accepted spellings of string fields: field -> input -> stored value. */
  readonly valueAliases: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface ResolvedFiles extends ResolvedBase<FilesDescriptor> {
  readonly kind: 'files';
  /** The GET body's field. */
  readonly field: 'files';
}

export interface ResolvedMap extends ConfigRow<MapDescriptor> {
  readonly kind: 'map';
  /** Body field and query parameter naming an entry. */
  readonly nameField: string;
  /** `nameField` and its aliases, in the order they are looked for. */
  readonly nameFields: readonly string[];
  /** Body field of a PATCH holding the list. */
  readonly listField: string;
  readonly itemSchema: JsonSchema;
  /** The whole map normalised (see {@link MapDescriptor}); never throws, `{}` for anything not a mapping. */
  readonly normalize: (value: unknown) => Record<string, unknown[]>;
  /** One entry's list normalised. */
  readonly normalizeList: (value: unknown) => unknown[];
}

/** A resolved row: a tagged union by `kind`, like {@link ResourceDescriptor}. */
export type ResolvedRow =
  ResolvedScalar | ResolvedStringArray | ResolvedObjectArray | ResolvedMap | ResolvedFiles;

/** The resolved row of kind `K`. */
export type ResolvedOf<K extends ResolvedRow['kind']> = Extract<ResolvedRow, { kind: K }>;

/** What a kind's resolver gets besides its descriptor: the checks shared by every kind. */
export interface RowTools {
  /** `ERR_INVALID_DESCRIPTOR` naming this row. */
  invalid(message: string): ManagementError;
  /**
   * The row's YAML key as a path, checked: non-empty strings, no prototype names, not the
   * management settings, and not overlapping the key of another row.
   */
  configKey(key: KeyPath): readonly string[];
  /**
   * A JSON Schema compiled with the table's ajv (strict mode, all errors). A row of the
   * library's own table is compiled the first time it validates (its schemas are checked by the
   * test suite), so construction neither loads ajv nor compiles schemas it may never use; a row
   * of `options.resources` is compiled here, so a bad schema throws before anything opens.
   */
  compile(schema: JsonSchema): Validator;
  /** The row is one of the library's own, checked by its tests: resolvers may skip checks that would compile its schema now. */
  readonly builtIn: boolean;
}

/** A compiled schema: true when `data` is valid; after a false, `errors` says why. */
export interface Validator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}
