import express, { type RequestHandler } from 'express';
import { badBody } from './errors';

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
