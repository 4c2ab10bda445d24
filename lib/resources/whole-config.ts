// Contract section 10.3: the whole config as JSON (`GET /config`) and as YAML text
// (`GET`/`PUT /config.yaml`). The management key never leaves: its value is removed from the
// JSON and shown as "<hidden>" in the text; an upload keeps, rotates (hashed before anything is
// written) or is refused, never empties it.
import express from 'express';
import { isScalar, parseDocument, Scalar, visit, type Document, type Node } from 'yaml';
import { HttpError } from '../http/errors';
import { JSON_TYPE, sendJson, sendText } from '../http/reply';
import { StoreError, saveFailed } from '../store/errors';
import { hashSecret, isBcryptHash, keyNodeAt, keyTooLong, overBcryptLimit, scalarText, SECRET_PATHS } from '../store/secret';
import { parseConfigText, renderEdit } from '../store/yaml-text';
import { expandedSize, MAX_YAML_DEPTH, yamlDepth } from '../store/yaml-bounds';
import { type Handler, type RouteTable } from '../http/routes';
import { isPlainObject } from '../plain-data';
import type { ResolvedRow } from '../settings';
import type { ProxyConfig } from '../types';
import type { ResourceContext } from './context';
import { aliasOf, scalarValue } from './scalar';
import { asSchemaType, literalsAt, readTyped, registerSource, type ScalarType } from '../store/typed';
import { ensureParents } from './yaml-edit';
import { isDeepStrictEqual } from 'node:util';

/** What `GET /config.yaml` shows instead of the management key (and what an upload may send back). */
export const HIDDEN = '<hidden>';

/** Top-level keys `GET /config` leaves out (the key lives there; the rest is the host's business). */
const HIDDEN_TOP_LEVEL = ['remote-management', 'remote-management-key', 'allow-remote-management', 'host', 'port', 'auth-dir', 'home'];

const KEY_PATHS = [SECRET_PATHS.canonical, SECRET_PATHS.alias] as const;

const TEXT = { type: 'string' } as const;

/** A size option in bytes: a number, or a string such as `"1mb"` (as Express reads it; 1024-based). */
function byteCount(limit: number | string): number {
  if (typeof limit === 'number') return limit;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|pb)?\s*$/i.exec(limit);
  if (!m) return 1024 * 1024;
  const unit = ['b', 'kb', 'mb', 'gb', 'tb', 'pb'].indexOf((m[2] ?? 'b').toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** unit);
}

/** A 422 of `PUT /config.yaml`. */
const invalidConfig = (message: string): HttpError => new HttpError(422, 'invalid_config', undefined, undefined, message);
const invalidYaml = (message: string): HttpError => new HttpError(400, 'invalid_yaml', undefined, undefined, message);

/** `a.b[0].c` from a key path and an ajv instance path (`/0/c`). */
function yamlPath(base: readonly string[], instancePath = ''): string {
  let out = base.join('.');
  for (const part of instancePath.split('/').slice(1)) {
    const seg = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`;
  }
  return out;
}

/** The node holding the key at `path` (aliases resolved, `<<` merges followed), if the document has one. */
function keyNode(doc: Document, path: readonly string[]): Node | undefined {
  return keyNodeAt(doc, path).node;
}

/**
 * A key node's value as a trimmed string, or `undefined` for a non-scalar. An unquoted number is
 * its text as written (`secret-key: 0x1F` is the key "0x1F", not "31"), as the Go server reads it.
 */
function keyText(node: Node): string | undefined {
  if (!isScalar(node)) return undefined;
  const v = node.value;
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return undefined;
  return scalarText(node)?.trim();
}

/**
 * The text with every scalar holding a management key (any spelling's value) replaced by
 * `"<hidden>"`, nothing else changed.
 */
export function hideKey(text: string, secrets: ReadonlySet<string>): string {
  if (secrets.size === 0) return text;
  const doc = parseDocument(text, { keepSourceTokens: false });
  const ranges: [number, number][] = [];
  visit(doc, {
    Scalar(_key, node) {
      const v = scalarText(node);
      if (v !== undefined && secrets.has(v.trim()) && node.range) ranges.push([node.range[0], node.range[1]]);
    },
  });
  ranges.sort((a, b) => b[0] - a[0]);
  let out = text;
  for (const [start, end] of ranges) out = `${out.slice(0, start)}"${HIDDEN}"${out.slice(end)}`;
  return out;
}

/** Per row: a check of the value an uploaded config holds for it (`undefined`: fine). */
type RowCheck = (config: Record<string, unknown>) => string | undefined;

function valueIn(config: Record<string, unknown>, path: readonly string[]): unknown {
  let node: unknown = config;
  for (const k of path) {
    if (!isPlainObject(node) || !Object.prototype.hasOwnProperty.call(node, k)) return undefined;
    node = node[k];
  }
  return node;
}

/** One check per known row; unknown keys are not checked. */
function rowChecks(rows: readonly ResolvedRow[]): RowCheck[] {
  const checks: RowCheck[] = [];
  for (const row of rows) {
    if (row.kind === 'files') continue;
    const path = row.key;
    const where = path.join('.');
    if (row.kind === 'scalar') {
      const { validate } = row;
      const type = String(row.schema.type) as ScalarType;
      checks.push((config) => {
        const stored = valueIn(config, path);
        if (stored === undefined || stored === null) return undefined;
        // Read as every GET reads it (`debug: yes` is a boolean), then checked against the schema.
        const read = readTyped(config as ProxyConfig, path, type);
        if (!read.valid) return `${where}: must be ${type}`;
        const v = read.value;
        if (row.aliases && typeof v === 'string') {
          if (aliasOf(row, v) !== undefined) return undefined;
          return `${where}: must be one of ${[...new Set(Object.values(row.aliases))].join(', ')}`;
        }
        if (validate(v)) return undefined;
        return `${where}: ${validate.errors?.[0]?.message ?? 'invalid'}`;
      });
    } else if (row.kind === 'string-array') {
      checks.push((config) => {
        const v = valueIn(config, path);
        if (v === undefined || v === null) return undefined;
        if (!Array.isArray(v)) return `${where}: must be a list`;
        const bad = v.findIndex((item) => !((typeof item === 'string' && item.trim() !== '') || typeof item === 'number'));
        return bad < 0 ? undefined : `${where}[${bad}]: must be a non-empty string`;
      });
    } else if (row.kind === 'map') {
      checks.push((config) => {
        const v = valueIn(config, path);
        if (v === undefined || v === null) return undefined;
        if (!isPlainObject(v)) return `${where}: must be a mapping of names to lists`;
        const bad = Object.entries(v).find(([, list]) => list !== null && !Array.isArray(list));
        return bad ? `${where}.${bad[0]}: must be a list` : undefined;
      });
    } else {
      const { validate, itemSchema } = row;
      checks.push((config) => {
        const v = valueIn(config, path);
        if (v === undefined || v === null) return undefined;
        if (!Array.isArray(v)) return `${where}: must be a list`;
        const literal = literalsAt(config as ProxyConfig, path);
        for (let i = 0; i < v.length; i++) {
          // Read as GET reads it (`proxy-url: 8080` is "8080"), then checked against the schema.
          if (validate(asSchemaType(v[i], itemSchema, literal, [i]))) continue;
          const e = validate.errors?.[0];
          return `${yamlPath(path, `/${i}${e?.instancePath ?? ''}`)}: ${e?.message ?? 'invalid'}`;
        }
        return undefined;
      });
    }
  }
  return checks;
}

/** The config as `GET /config` shows it; computed once per text (the panel reads it after every change). */
function configView(text: string, secrets: ReadonlySet<string>, rows: readonly ResolvedRow[]): Record<string, unknown> {
  // Merge keys (`<<`) resolved, as the proxy reads them; the store's snapshot keeps them as keys.
  const raw: unknown = parseDocument(text, { merge: true, uniqueKeys: false }).toJS({ maxAliasCount: 10_000 });
  const view: Record<string, unknown> = isPlainObject(raw) ? raw : {};
  for (const k of HIDDEN_TOP_LEVEL) delete view[k];
  const relay = valueIn(view, ['codex', 'live-media-relay', 'ice-servers']);
  if (Array.isArray(relay)) {
    for (const server of relay) {
      if (isPlainObject(server)) {
        delete server.username;
        delete server.credential;
      }
    }
  }
  const config = view as ProxyConfig;
  registerSource(config, text);
  for (const row of rows) {
    if (row.kind === 'files') continue;
    const path = row.key;
    const current = valueIn(view, path);
    if (row.kind === 'object-array' && Array.isArray(current)) {
      // Items typed as the Go server reads them, as GET of the row shows them.
      const literal = literalsAt(config, path);
      current.forEach((item: unknown, i) => (current[i] = asSchemaType(item, row.itemSchema, literal, [i])));
    } else if (row.kind === 'string-array' && Array.isArray(current)) {
      // `- 0123` is "0123", as every read of the row shows it.
      const literal = literalsAt(config, path);
      current.forEach((item: unknown, i) => (current[i] = asSchemaType(item, TEXT, literal, [i])));
    } else if (row.kind === 'map' && isPlainObject(current)) {
      const literal = literalsAt(config, path);
      for (const [name, list] of Object.entries(current)) {
        if (Array.isArray(list)) list.forEach((item: unknown, i) => (list[i] = asSchemaType(item, row.itemSchema, literal, [name, i])));
      }
    }
    let shown: unknown;
    if (row.kind === 'scalar') shown = scalarValue(row, config);
    else if (current !== undefined && current !== null) continue; // lists and maps exactly as stored
    else shown = row.kind === 'string-array' || row.kind === 'object-array' ? [] : {};
    let parent: Record<string, unknown> = view;
    let placed = true;
    for (const k of path.slice(0, -1)) {
      const next = parent[k];
      if (next === undefined || next === null) parent = parent[k] = {};
      else if (isPlainObject(next)) parent = next;
      else {
        placed = false; // the file holds something else there: shown as it is
        break;
      }
    }
    if (placed) parent[path.at(-1) as string] = shown;
  }
  return secrets.size === 0 ? view : (scrub(view, secrets) as Record<string, unknown>);
}

/** The key could still be reached through an alias or a merge elsewhere in the file: never sent. */
function scrub(value: unknown, secrets: ReadonlySet<string>): unknown {
  if (typeof value === 'string') return secrets.has(value.trim()) ? HIDDEN : value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets));
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) value[k] = scrub(v, secrets);
  }
  return value;
}

/** What an upload does with the key at one of its two locations. */
type KeyPlan = { readonly path: readonly string[]; readonly node: Node; readonly set: 'stored' | string | undefined };

/** The upload's decoded text: UTF-8, else a 400. */
function uploadText(body: unknown): string {
  if (!Buffer.isBuffer(body)) return '';
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw invalidYaml('not UTF-8');
  }
}

/** The stored keys of `text` (plaintext or hash) at each spelling that has one; `''` when none. */
function storedSecrets(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const parsed = parseConfigText(text);
  if ('error' in parsed) return out;
  for (const path of KEY_PATHS) {
    const node = keyNode(parsed.doc, path);
    const value = node ? keyText(node) : undefined;
    if (value) out.set(path.join('.'), value);
  }
  return out;
}

/** The key in use (the canonical spelling wins), `''` when none. */
const effectiveSecret = (stored: Map<string, string>): string => stored.get(KEY_PATHS[0].join('.')) ?? stored.get(KEY_PATHS[1].join('.')) ?? '';

/** Every stored spelling's value: each is hidden from every answer. */
const secretSet = (text: string): Set<string> => new Set(storedSecrets(text).values());

/**
 * The text to store for an upload: the upload with its key locations set (`"<hidden>"` and an
 * absent key become the stored key, a new one its hash), laid out as the user wrote it.
 */
function withKey(upload: string, plans: readonly KeyPlan[], current: string): string {
  const storedAt = storedSecrets(current);
  const stored = effectiveSecret(storedAt);
  const parsed = parseConfigText(upload);
  if ('error' in parsed) throw saveFailed(parsed.error);
  const doc = parsed.doc.clone();
  let changed = false;
  const put = (path: readonly string[], value: string): void => {
    const node = keyNode(doc, path);
    if (isScalar(node)) {
      if (node.value === value) return;
      node.value = value;
      if (node.type === Scalar.BLOCK_FOLDED || node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.PLAIN) node.type = Scalar.QUOTE_DOUBLE;
    } else {
      ensureParents(doc, path);
      doc.setIn(path, doc.createNode(value));
    }
    changed = true;
  };
  if (plans.length === 0) {
    if (stored === '') throw invalidConfig('the management key cannot be emptied through the API');
    put(SECRET_PATHS.canonical, stored);
  }
  for (const plan of plans) {
    if (plan.set === undefined) continue;
    if (plan.set === 'stored') {
      if (stored === '') throw invalidConfig('the management key cannot be emptied through the API');
      // "<hidden>" at a spelling keeps that spelling's stored value (the key in use when it had none).
      put(plan.path, storedAt.get(plan.path.join('.')) ?? stored);
    } else put(plan.path, plan.set);
  }
  if (!changed) return upload;
  const intended: unknown = doc.toJS();
  for (const text of renderEdit(upload, parsed.canonical, doc)) {
    const check = parseConfigText(text);
    if (!('error' in check) && isDeepStrictEqual(check.doc.toJS(), intended)) return text;
  }
  throw saveFailed('the uploaded config could not be written with its key kept; nothing was written');
}

/**
 * `GET /config`, `GET /config.yaml` and `PUT /config.yaml` (section 10.3) over the rows of the
 * table (scalar rows show their GET value, absent lists `[]`, absent maps `{}`; every known row
 * checks an upload).
 */
export function wholeConfigRoutes(routes: RouteTable, rows: readonly ResolvedRow[], ctx: ResourceContext, bcryptRounds: number): void {
  const checks = rowChecks(rows);
  const expansionLimit = byteCount(ctx.bodyLimit);
  const raw = express.raw({ type: () => true, limit: ctx.bodyLimit });
  let memo: { text: string; body: string } | undefined;

  const getJson: Handler = async (_req, res) => {
    const text = ctx.store.text;
    if (memo?.text !== text) {
      memo = { text, body: JSON.stringify(configView(text, secretSet(text), rows)) };
    }
    sendText(res, JSON_TYPE, memo.body); // already JSON text (kept per config text)
  };

  const getYaml: Handler = async (_req, res) => {
    const problem = ctx.store.problem;
    if (problem !== undefined) throw new HttpError(500, 'read_failed', undefined, undefined, problem);
    const text = ctx.store.text;
    sendText(res, 'application/yaml; charset=utf-8', hideKey(text, secretSet(text)));
  };

  const putYaml: Handler = async (req, res) => {
    const text = uploadText(req.body);
    // Bounded before the parse: the parser slows down (and may run out of memory) with depth.
    if (yamlDepth(text) > MAX_YAML_DEPTH) throw invalidYaml(`nested deeper than ${MAX_YAML_DEPTH} levels`);
    const parsed = parseConfigText(text, (doc) => {
      // ... and once aliases are expanded, before the value is built: a small text can stand for a huge value.
      const expanded = expandedSize(doc);
      if (expanded.depth > MAX_YAML_DEPTH) throw invalidYaml(`nested deeper than ${MAX_YAML_DEPTH} levels once its aliases are expanded`);
      if (expanded.size > expansionLimit) {
        throw new HttpError(413, 'request body too large', undefined, undefined, `the config is larger than the body limit (${expansionLimit} bytes) once its aliases are expanded`);
      }
    });
    if ('error' in parsed) throw invalidYaml(parsed.error);
    if (parsed.doc.contents === null) throw invalidYaml('the config is empty (it must be a YAML mapping)');

    // The key, at each location the upload has (the canonical one wins, as everywhere).
    const plans: KeyPlan[] = [];
    let effective = true;
    for (const path of KEY_PATHS) {
      const node = keyNode(parsed.doc, path);
      if (!node) continue;
      const value = keyText(node);
      if (value === undefined) throw invalidConfig(`${path.join('.')}: must be a string`);
      let set: KeyPlan['set'];
      if (value === HIDDEN) set = 'stored';
      else if (value === '') {
        if (effective) throw invalidConfig('the management key cannot be emptied through the API');
      } else if (!isBcryptHash(value)) {
        // bcrypt reads 72 bytes: a longer key would lock the admin out (what they type no longer matches).
        if (overBcryptLimit(value)) throw invalidConfig(`${path.join('.')}: ${keyTooLong}`);
        // A new key: hashed now, so the plaintext never reaches the store, a log or an answer.
        set = await hashSecret(value, bcryptRounds);
      }
      plans.push({ path, node, set });
      effective = false;
    }

    const uploaded = parseDocument(text, { merge: true, uniqueKeys: false }).toJS({ maxAliasCount: 10_000 }) as Record<string, unknown>;
    registerSource(uploaded, text); // values written unquoted are read as their text where a string is expected
    for (const check of checks) {
      const reason = check(uploaded);
      if (reason !== undefined) throw invalidConfig(reason);
    }

    try {
      await ctx.store.mutateText((current) => withKey(text, plans, current));
    } catch (err) {
      if (err instanceof StoreError && err.code === 'SAVE_FAILED') throw new HttpError(500, 'write_failed', undefined, undefined, err.reason);
      throw err;
    }
    sendJson(res, { status: 'ok', ok: true, changed: ['config'] });
  };

  routes.define('/config', { get: getJson });
  routes.define('/config.yaml', { get: getYaml, put: putYaml }, { put: [raw] });
}
