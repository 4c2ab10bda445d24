// Every descriptor kind with all of its parts, in one record the compiler checks: a kind missing
// from it, or missing a part, does not compile. The built-in panel's client has its own folder
// (lib/panel/client), as it is bundled for the browser; OpenAPI's switch over the kinds is
// exhaustive too (lib/openapi.ts).
import { asSchemaType, type ScalarType, type Snapshot } from '../config/typed';
import type { RouteTable } from '../http/routes';
import { isPlainObject, valueAt } from '../plain-data';
import type {
  ResolvedMap,
  ResolvedObjectArray,
  ResolvedOf,
  ResolvedRow,
  ResolvedScalar,
  ResolvedStringArray,
} from '../settings';
import type { ResourceContext } from './context';
import { authFilesRoutes } from './files/routes';
import { mapRoutes } from './map/routes';
import { objectArrayRoutes } from './object-array/routes';
import { aliasOf, scalarRoutes, scalarValue } from './scalar/routes';
import { stringArrayRoutes } from './string-array/routes';

/** An uploaded config's value for one row checked (`PUT /config.yaml`): why it is refused, `undefined` when it is fine. */
export type UploadCheck = (upload: Snapshot) => string | undefined;

/** What `GET /config` shows for a row: `{ value }` to show, `undefined` to show what is stored. */
export type ViewPart<R> = (
  row: R,
  snapshot: Snapshot,
  stored: unknown,
) => { readonly value: unknown } | undefined;

/** The parts of one descriptor kind. */
export interface Kind<R extends ResolvedRow> {
  /** A row of the kind becomes its routes. */
  readonly routes: (routes: RouteTable, row: R, ctx: ResourceContext) => void;
  /** The check of an upload's value for the row; `undefined` for a kind whose data is not in the config. */
  readonly uploadCheck: ((row: R) => UploadCheck) | undefined;
  /** The row in `GET /config`; `undefined` for a kind whose data is not in the config. */
  readonly view: ViewPart<R> | undefined;
}

/** `a.b[0].c` from a key path and an ajv instance path (`/0/c`). */
function yamlPath(base: readonly string[], instancePath = ''): string {
  let out = base.join('.');
  for (const part of instancePath.split('/').slice(1)) {
    const seg = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`;
  }
  return out;
}

function scalarCheck(row: ResolvedScalar): UploadCheck {
  const { key: path, validate } = row;
  const where = path.join('.');
  const type = String(row.schema.type) as ScalarType;
  return (upload) => {
    const stored = valueAt(upload.config, path);
    if (stored === undefined || stored === null) return undefined;
    // Read as every GET reads it (`debug: yes` is a boolean), then checked against the schema.
    const read = upload.read(path, type);
    if (!read.valid) return `${where}: must be ${type}`;
    const v = read.value;
    if (row.aliases && typeof v === 'string') {
      if (aliasOf(row, v) !== undefined) return undefined;
      return `${where}: must be one of ${[...new Set(Object.values(row.aliases))].join(', ')}`;
    }
    if (validate(v)) return undefined;
    return `${where}: ${validate.errors?.[0]?.message ?? 'invalid'}`;
  };
}

function stringArrayCheck(row: ResolvedStringArray): UploadCheck {
  const path = row.key;
  const where = path.join('.');
  return (upload) => {
    const v = valueAt(upload.config, path);
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) return `${where}: must be a list`;
    const bad = v.findIndex(
      (item) => !((typeof item === 'string' && item.trim() !== '') || typeof item === 'number'),
    );
    return bad < 0 ? undefined : `${where}[${bad}]: must be a non-empty string`;
  };
}

function mapCheck(row: ResolvedMap): UploadCheck {
  const path = row.key;
  const where = path.join('.');
  return (upload) => {
    const v = valueAt(upload.config, path);
    if (v === undefined || v === null) return undefined;
    if (!isPlainObject(v)) return `${where}: must be a mapping of names to lists`;
    const bad = Object.entries(v).find(([, list]) => list !== null && !Array.isArray(list));
    return bad ? `${where}.${bad[0]}: must be a list` : undefined;
  };
}

function objectArrayCheck(row: ResolvedObjectArray): UploadCheck {
  const { key: path, validate, itemSchema } = row;
  const where = path.join('.');
  return (upload) => {
    const v = valueAt(upload.config, path);
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) return `${where}: must be a list`;
    const literal = upload.literalsAt(path);
    for (let i = 0; i < v.length; i++) {
      // Read as GET reads it (`proxy-url: 8080` is "8080"), then checked against the schema.
      if (validate(asSchemaType(v[i], itemSchema, literal, [i]))) continue;
      const e = validate.errors?.[0];
      return `${yamlPath(path, `/${i}${e?.instancePath ?? ''}`)}: ${e?.message ?? 'invalid'}`;
    }
    return undefined;
  };
}

/** A list or map as stored; `empty` when absent. */
const asStoredOr =
  (empty: () => unknown) =>
  (_row: unknown, _snapshot: Snapshot, stored: unknown): { value: unknown } | undefined =>
    stored === undefined || stored === null ? { value: empty() } : undefined;

/** Every kind's parts. */
export const KINDS: { readonly [K in ResolvedRow['kind']]: Kind<ResolvedOf<K>> } = {
  scalar: {
    routes: scalarRoutes,
    uploadCheck: scalarCheck,
    view: (row, snapshot) => ({ value: scalarValue(row, snapshot) }),
  },
  'string-array': {
    routes: stringArrayRoutes,
    uploadCheck: stringArrayCheck,
    // `- 0123` is "0123", as every read of the row shows it.
    view: (row, snapshot, stored) =>
      Array.isArray(stored)
        ? { value: snapshot.listAsText(row.key) }
        : asStoredOr(() => [])(row, snapshot, stored),
  },
  'object-array': {
    routes: objectArrayRoutes,
    uploadCheck: objectArrayCheck,
    view: (row, snapshot, stored) => {
      if (stored === undefined || stored === null) return { value: [] };
      if (Array.isArray(stored)) {
        // Items typed as the Go server reads them, as GET of the row shows them.
        const literal = snapshot.literalsAt(row.key);
        stored.forEach(
          (item: unknown, i) => (stored[i] = asSchemaType(item, row.itemSchema, literal, [i])),
        );
      }
      return undefined;
    },
  },
  map: {
    routes: mapRoutes,
    uploadCheck: mapCheck,
    view: (row, snapshot, stored) => {
      if (isPlainObject(stored)) {
        // Items typed as the Go server reads them, as GET of the row shows them.
        const literal = snapshot.literalsAt(row.key);
        for (const [name, list] of Object.entries(stored)) {
          if (Array.isArray(list))
            list.forEach(
              (item: unknown, i) =>
                (list[i] = asSchemaType(item, row.itemSchema, literal, [name, i])),
            );
        }
      }
      return asStoredOr(() => ({}))(row, snapshot, stored);
    },
  },
  files: { routes: authFilesRoutes, uploadCheck: undefined, view: undefined },
};

/** The parts of `row`'s kind. */
export const kindOf = <R extends ResolvedRow>(row: R): Kind<R> =>
  KINDS[row.kind] as unknown as Kind<R>;
