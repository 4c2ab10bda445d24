import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isScalar, YAMLMap, type Document } from 'yaml';
import { asyncHandler, badBody, HttpError } from '../http/errors';
import { ManagementError } from '../errors';
import type { ConfigStore } from '../store/config-store';
import type { TokenStore } from '../store/token-store';
import type { JsonSchema, KeyPath, ProxyConfig } from '../types';

/** What every kind's route builder gets. */
export interface ResourceContext {
  readonly store: ConfigStore;
  readonly ajv: Ajv;
  /** JSON body parser with the router's size limit and the forbidden-key check. */
  readonly json: RequestHandler;
  readonly tokens: TokenStore;
  readonly uploadLimit: number;
}

export type Method = 'get' | 'put' | 'patch' | 'post' | 'delete';
export type Handler = (req: Request, res: Response) => Promise<void>;

/**
 * Register the handlers of one path, plus a fallback answering any other method with
 * `405 {"error":"method not allowed"}` and an `Allow` header.
 */
export function defineRoutes(
  router: Router,
  path: string,
  handlers: Partial<Record<Method, Handler>>,
  before: Partial<Record<Method, RequestHandler[]>> = {},
): void {
  const allowed: string[] = [];
  for (const method of ['get', 'put', 'patch', 'post', 'delete'] as const) {
    const handler = handlers[method];
    if (!handler) continue;
    router[method](path, ...(before[method] ?? []), asyncHandler(handler));
    allowed.push(method.toUpperCase());
    if (method === 'get') allowed.push('HEAD');
  }
  const allow = allowed.join(', ');
  router.all(path, (_req, res) => {
    res.set('Allow', allow).status(405).json({ error: 'method not allowed' });
  });
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const FORBIDDEN_MESSAGE = 'forbidden key in body';

/** Deepest nesting of arrays and objects a JSON body may have; deeper is a 400. */
export const MAX_JSON_DEPTH = 64;

/**
 * Refuse a body nested deeper than {@link MAX_JSON_DEPTH} before it is parsed: `JSON.parse`,
 * ajv, the YAML writer and the comparisons after it all recurse, and a 1 MiB body can nest
 * 500,000 levels deep.
 */
function checkDepth(buf: Buffer): void {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (const byte of buf) {
    if (inString) {
      if (escaped) escaped = false;
      else if (byte === 0x5c) escaped = true;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) throw badBody(`nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (byte === 0x5d || byte === 0x7d) depth--;
  }
}

/**
 * A JSON parser for every content type (clients often omit it), refusing prototype keys and
 * deep nesting. A refused key becomes its own `400 invalid body` here, so the router's error
 * handler needs to know nothing about it.
 */
export function jsonParser(limit: number | string): RequestHandler {
  const parse = express.json({
    limit,
    strict: false,
    type: () => true,
    verify: (_req, _res, buf) => checkDepth(buf),
    reviver(key, value: unknown) {
      if (FORBIDDEN_KEYS.has(key)) throw new SyntaxError(FORBIDDEN_MESSAGE);
      return value;
    },
  });
  return (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      if (err instanceof Error && err.message.includes(FORBIDDEN_MESSAGE)) {
        return next(badBody('forbidden key (__proto__, constructor or prototype)'));
      }
      next(err);
    });
  };
}

export const keyPath = (key: KeyPath): readonly string[] => (typeof key === 'string' ? [key] : key);

export const fieldOf = (d: { key: KeyPath; field?: string }): string => d.field ?? (keyPath(d.key).at(-1) as string);

/** The value at `path` in the config, `undefined` when any part is absent. */
export function valueAt(config: ProxyConfig, path: readonly string[]): unknown {
  let node: unknown = config;
  for (const k of path) {
    if (!node || typeof node !== 'object' || Array.isArray(node) || !Object.prototype.hasOwnProperty.call(node, k)) return undefined;
    node = (node as Record<string, unknown>)[k];
  }
  return node;
}

/**
 * Make sure every parent of `path` is a mapping, so `doc.setIn` can create or replace the leaf:
 * an empty parent (`quota-exceeded:` with nothing after it) becomes a mapping; a parent holding
 * something else is a conflict the file's owner must resolve.
 */
export function ensureParents(doc: Document, path: readonly string[]): void {
  for (let i = 1; i < path.length; i++) {
    const prefix = path.slice(0, i);
    const node = doc.getIn(prefix, true);
    if (node === undefined || isMap(node)) continue;
    if (isScalar(node) && (node.value === null || node.value === undefined)) {
      doc.setIn(prefix, new YAMLMap());
      continue;
    }
    throw new HttpError(409, 'config conflict', `"${prefix.join('.')}" in the config file is not a mapping`);
  }
}

export function setAt(doc: Document, path: readonly string[], value: unknown): void {
  ensureParents(doc, path);
  doc.setIn(path, doc.createNode(value));
}

/** Set a scalar leaf, keeping the existing node (and so its quoting and comments) when there is one. */
export function setScalarAt(doc: Document, path: readonly string[], value: string | number | boolean): void {
  ensureParents(doc, path);
  const node = doc.getIn(path, true);
  if (isScalar(node)) node.value = value;
  else doc.setIn(path, value);
}

export function compileSchema(ajv: Ajv, schema: JsonSchema, where: string): ValidateFunction {
  try {
    return ajv.compile(schema);
  } catch (err) {
    throw new ManagementError('ERR_INVALID_DESCRIPTOR', `${where}: schema does not compile: ${(err as Error).message}`);
  }
}

/** Ajv errors as short `{path, message}` details for a 400 body. */
export function schemaDetails(errors: readonly ErrorObject[] | null | undefined, prefix = ''): { path: string; message: string }[] {
  return (errors ?? []).map((e) => ({ path: `${prefix}${e.instancePath}` || '/', message: e.message ?? 'invalid' }));
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The parsed body when it is a JSON object, else a 400. */
export function objectBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (!isPlainObject(body)) throw badBody('expected a JSON object');
  return body;
}

/** A single query parameter as a string (`undefined` when absent); repeated parameters are a 400. */
export function queryParam(req: Request, name: string, error = 'invalid query'): string | undefined {
  const value: unknown = (req.query as Record<string, unknown>)[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new HttpError(400, error);
  return value;
}

/** `?index=` as the API defines it: decimal digits only, else `400 invalid index`. */
export function indexParam(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) throw new HttpError(400, 'invalid index');
  return Number(raw);
}

export const ok = (res: Response): void => {
  res.json({ status: 'ok' });
};
