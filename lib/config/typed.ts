import { isAlias, isScalar, parseDocument, type Document } from 'yaml';
import { isPlainObject, valueAt } from '../plain-data';
import type { ProxyConfig } from '../types';

// Values read as the Go server reads them into its typed config: its YAML reader is YAML
// 1.1-flavoured, so `debug: yes` is a boolean, `proxy-url: 8080` and `secret-key: 0123` are the
// strings "8080" and "0123". A snapshot's `config` stays the YAML 1.2 reading of the text (with
// `<<` merge keys applied); the snapshot reads one value of it as the type a row documents. The
// text of a plain scalar that YAML 1.2 reads as a number or boolean comes from a second, lazy
// reading of the same text with every scalar a string (the `failsafe` schema), made only when
// such a value is read as a string, and kept by the snapshot.

/**
 * A config as read from one text: the YAML 1.2 values (`config`, what the host's `getConfig()`
 * sees) and, read from the same text on demand, the Go-compatible typed view of them. The store
 * makes one per adopted text; `GET /config` and `PUT /config.yaml` make one for the text they
 * show or check. Nothing about it is looked up elsewhere: whoever holds the snapshot holds its view.
 */
export class Snapshot {
  private literal: { readonly view: unknown } | undefined;
  private readonly memos = new Map<object, unknown>();

  constructor(
    /** The values (the store's are deep-frozen). */
    readonly config: ProxyConfig,
    /** The text they were read from. */
    readonly text: string,
  ) {}

  /** The text read with every scalar a string (`undefined` when it cannot be read so). */
  private literalView(): unknown {
    if (this.literal) return this.literal.view;
    let view: unknown;
    try {
      view = parseDocument(this.text, {
        schema: 'failsafe',
        merge: true,
        uniqueKeys: false,
      }).toJS();
    } catch {
      view = undefined;
    }
    this.literal = { view };
    return view;
  }

  /** The value at `path` read as `type`. */
  read(path: readonly string[], type: ScalarType): TypedValue<string | number | boolean> {
    const value = valueAt(this.config, path);
    switch (type) {
      case 'boolean':
        return asBoolean(value);
      case 'string':
        return asString(
          value,
          typeof value === 'number' || typeof value === 'boolean'
            ? valueAt(this.literalView(), path)
            : undefined,
        );
      case 'integer':
        return asNumber(value, true);
      default:
        return asNumber(value, false);
    }
  }

  /**
   * The list at `path` with its numbers and booleans as their text as written (`- 0123` is
   * `"0123"`); other items as they are; `undefined` when there is no list.
   */
  listAsText(path: readonly string[]): unknown[] | undefined {
    const value = valueAt(this.config, path);
    return Array.isArray(value)
      ? (asSchemaType(value, TEXT_LIST, this.literalsAt(path)) as unknown[])
      : undefined;
  }

  /** The text of the value at `base` + a path, from the all-strings reading (for {@link asSchemaType}). */
  literalsAt(base: readonly (string | number)[]): LiteralOf {
    return (p) => valueAt(this.literalView(), [...base, ...p]);
  }

  /** `compute()` once per snapshot and `key` (answers derived from the config, such as its management key). */
  memo<T>(key: object, compute: (snapshot: Snapshot) => T): T {
    if (this.memos.has(key)) return this.memos.get(key) as T;
    const value = compute(this);
    this.memos.set(key, value);
    return value;
  }
}

/** A value as read for a type: `valid` is false when it cannot mean that type (the zero value is given). */
export interface TypedValue<T> {
  readonly value: T;
  readonly valid: boolean;
}

const TRUE_WORDS = /^(?:y|yes|true|on)$/i;
const FALSE_WORDS = /^(?:n|no|false|off)$/i;

/** A YAML 1.1 boolean: `true/false/yes/no/on/off/y/n` in any case. */
export function asBoolean(value: unknown): TypedValue<boolean> {
  if (value === undefined || value === null) return { value: false, valid: true };
  if (typeof value === 'boolean') return { value, valid: true };
  if (typeof value === 'string') {
    const word = value.trim();
    if (TRUE_WORDS.test(word)) return { value: true, valid: true };
    if (FALSE_WORDS.test(word)) return { value: false, valid: true };
  }
  return { value: false, valid: false };
}

/** A string, where an unquoted number or boolean is its text as written (`literal`, else its JS text). */
export function asString(value: unknown, literal?: unknown): TypedValue<string> {
  if (value === undefined || value === null) return { value: '', valid: true };
  if (typeof value === 'string') return { value, valid: true };
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return { value: typeof literal === 'string' ? literal : String(value), valid: true };
  }
  return { value: '', valid: false };
}

/** An integer (or any number, `integer: false`); text is not a number, as in Go. */
export function asNumber(value: unknown, integer: boolean): TypedValue<number> {
  if (value === undefined || value === null) return { value: 0, valid: true };
  if (typeof value === 'number' && (!integer || Number.isSafeInteger(value)))
    return { value, valid: true };
  return { value: 0, valid: false };
}

/** The JSON Schema types a scalar row can have. */
export type ScalarType = 'boolean' | 'string' | 'integer' | 'number';

const TEXT_LIST = { type: 'array', items: { type: 'string' } } as const;

/** Where the all-strings reading of a value is found: a path below the value, to its text as written (`undefined` when unknown). */
export type LiteralOf = (path: readonly (string | number)[]) => unknown;

/**
 * The text as written of the values of a document being edited, below `base` (for
 * {@link asSchemaType} inside a mutation, where no snapshot text exists yet): a plain scalar's
 * source, aliases resolved.
 */
export function docLiterals(doc: Document, base: readonly (string | number)[]): LiteralOf {
  return (p) => {
    let node: unknown;
    try {
      node = doc.getIn([...base, ...p], true);
    } catch {
      return undefined;
    }
    if (isAlias(node)) node = node.resolve(doc);
    return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
  };
}

/** The one type a JSON Schema names (a `[type, "null"]` pair counts as `type`). */
function schemaType(schema: Record<string, unknown>): unknown {
  const t = schema.type;
  if (!Array.isArray(t)) return t;
  const named = t.filter((x) => x !== 'null');
  return named.length === 1 ? named[0] : undefined;
}

/**
 * `value` read as the JSON Schema `schema` documents it, as the Go server unmarshals it into its
 * typed config: where a string is expected, an unquoted number or boolean is its text as written
 * (`proxy-url: 8080` is `"8080"`, `- 0123` is `"0123"`); where a boolean is expected, the YAML 1.1
 * words (`yes`, `on`, `off`...) are booleans. Objects (their `properties` and
 * `additionalProperties`) and arrays (`items`) are read field by field; anything else is left as
 * it is (the schema then says what is wrong with it). `literal` finds the text as written.
 */
export function asSchemaType(
  value: unknown,
  schema: unknown,
  literal: LiteralOf,
  at: readonly (string | number)[] = [],
): unknown {
  if (!isPlainObject(schema)) return value;
  const type = schemaType(schema);
  if (
    type === 'string' &&
    (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
  ) {
    return asString(value, literal(at)).value;
  }
  if (type === 'boolean' && typeof value === 'string') {
    const read = asBoolean(value);
    return read.valid ? read.value : value;
  }
  if (type === 'array' && Array.isArray(value) && isPlainObject(schema.items)) {
    return value.map((v: unknown, i) => asSchemaType(v, schema.items, literal, [...at, i]));
  }
  if (type === 'object' && isPlainObject(value)) {
    const properties = isPlainObject(schema.properties) ? schema.properties : {};
    const rest = isPlainObject(schema.additionalProperties)
      ? schema.additionalProperties
      : undefined;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const sub = Object.prototype.hasOwnProperty.call(properties, k) ? properties[k] : rest;
      out[k] = sub === undefined ? v : asSchemaType(v, sub, literal, [...at, k]);
    }
    return out;
  }
  return value;
}

const logged = new WeakMap<object, Set<string>>();
/** Logs each distinct message once per logger (a wrong type is reported once, not per request). */
export function warnOnce(logger: { warn(message: string): void }, message: string): void {
  let seen = logged.get(logger);
  if (!seen) logged.set(logger, (seen = new Set()));
  if (seen.has(message)) return;
  if (seen.size > 1000) seen.clear();
  seen.add(message);
  logger.warn(message);
}
