// Reading the parts of a request the handlers need (parsed body fields, query parameters),
// each refused with the API's 400 when it has the wrong shape.
import type { Request } from 'express';
import { isPlainObject } from '../plain-data';
import { badBody, HttpError } from './errors';

/** The parsed body when it is a JSON object, else a 400. */
export function objectBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (!isPlainObject(body)) throw badBody('expected a JSON object');
  return body;
}

/** The body of a list PUT: a raw array or `{"items": [...]}`. */
export function itemsBody(req: Request): unknown[] {
  const body: unknown = req.body;
  if (Array.isArray(body)) return body;
  if (isPlainObject(body) && Array.isArray(body.items)) return body.items;
  throw badBody('expected an array or {"items": [...]}');
}

/** `undefined` for an absent or JSON `null` body field, as the CLI Proxy API server's pointer fields read them. */
export const present = (body: Record<string, unknown>, name: string): unknown =>
  Object.prototype.hasOwnProperty.call(body, name) && body[name] !== null ? body[name] : undefined;

/** A body `index`: a non-negative integer, else 400. */
export function bodyIndex(raw: unknown): number {
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0)
    throw badBody([{ path: '/index', message: 'must be a non-negative integer' }]);
  return raw;
}

/** A single query parameter as a string (`undefined` when absent); repeated parameters are a 400. */
export function queryParam(
  req: Request,
  name: string,
  error = 'invalid query',
): string | undefined {
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
