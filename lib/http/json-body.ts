import express, { type RequestHandler } from 'express';
import { PROTOTYPE_NAMES } from '../plain-data';
import { badBody, HttpError } from './errors';

const FORBIDDEN_KEYS = PROTOTYPE_NAMES;
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

/** Whether `value` nests arrays and objects deeper than `max` (iterative: no recursion on hostile input). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(v))
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

/** The `charset` parameter of a Content-Type, lower-case, or `undefined`. */
function charsetOf(contentType: string | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2] ?? '').toLowerCase() : undefined;
}

/**
 * A JSON parser for every content type (clients often omit it), refusing prototype keys and
 * deep nesting. Bodies are UTF-8: another `charset` (UTF-16 would hide the nesting from the
 * byte scan, which keeps `JSON.parse` and its reviver from recursing too deep) is `415`, and the
 * depth limit is checked again on the parsed value. A refused key becomes its own `400 invalid
 * body` here, so the router's error handler needs to know nothing about it.
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
    const charset = charsetOf(req.headers['content-type']);
    if (charset !== undefined && charset !== 'utf-8')
      return next(new HttpError(415, 'unsupported charset'));
    parse(req, res, (err?: unknown) => {
      if (err instanceof Error && err.message.includes(FORBIDDEN_MESSAGE)) {
        return next(badBody('forbidden key (__proto__, constructor or prototype)'));
      }
      if (err === undefined && nestedDeeperThan(req.body, MAX_JSON_DEPTH))
        return next(badBody(`nested deeper than ${MAX_JSON_DEPTH} levels`));
      next(err);
    });
  };
}
