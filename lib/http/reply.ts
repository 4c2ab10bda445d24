import type { Response } from 'express';

/**
 * Send `text` as an answer of the API. Written directly rather than through Express's
 * `res.send()`: every answer of the API carries `Cache-Control: no-store`, so the ETag that
 * `res.send()` hashes for each GET, and its freshness check against `If-None-Match`, are work no
 * client can use. A `HEAD` gets the headers only (Node drops the body).
 */
export function sendText(res: Response, contentType: string, text: string, status = 200): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** The `Content-Type` of the API's JSON answers. */
export const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Send `body` as the API's JSON answer (see `sendText`). The bytes are `JSON.stringify`'s,
 * whatever the host's `json spaces` or `json replacer` settings, as the Go server's are.
 */
export function sendJson(res: Response, body: unknown, status = 200): void {
  sendText(res, JSON_TYPE, JSON.stringify(body), status);
}

/** The API's success body of a mutation. */
export const ok = (res: Response): void => sendJson(res, { status: 'ok' });
