import type { ValidateFunction } from 'ajv';
import type {
  FilesDescriptor,
  JsonSchema,
  ObjectArrayDescriptor,
  ResourceDescriptor,
  ScalarDescriptor,
  StringArrayDescriptor,
} from '../types';

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
  readonly validate: ValidateFunction;
  /** What GET answers when the key is absent: the zero value of the schema's `type`. */
  readonly absent: string | number | boolean;
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
  readonly validate: ValidateFunction;
  readonly matchField: string;
  /** PATCH body field selecting by match field (`matchBodyField`, default `matchField`). */
  readonly matchBodyField: string;
  /** DELETE query parameter selecting by match field (`matchQuery`, default `matchField`). */
  readonly matchQuery: string;
  /** The properties the item schema names. */
  readonly named: ReadonlySet<string>;
  /**
   * What GET shows for an absent (or `null`) optional property: its `default`, else the zero
   * value of its `type`. Nothing is written for it; the panel leaves these out when it sends.
   */
  readonly defaults: Readonly<Record<string, unknown>>;
}

export interface ResolvedFiles extends ResolvedBase<FilesDescriptor> {
  readonly kind: 'files';
  /** The GET body's field. */
  readonly field: 'files';
}

/** A resolved row: a tagged union by `kind`, like {@link ResourceDescriptor}. */
export type ResolvedRow = ResolvedScalar | ResolvedStringArray | ResolvedObjectArray | ResolvedFiles;

/** The resolved row of kind `K`. */
export type ResolvedOf<K extends ResolvedRow['kind']> = Extract<ResolvedRow, { kind: K }>;
