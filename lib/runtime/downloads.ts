// GET /request-error-logs/:name and /request-log-by-id/:id: the name checked here, the bytes
// from the host (a file opened without following symlinks, or a body), streamed.
import { constants, createReadStream, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { HttpError } from '../http/errors';
import { contentDisposition } from '../kinds/files/routes';
import type { RuntimeContext } from './context';
import { ShapeError } from './hook-call';
import * as shape from './shapes';
import type { LogBody } from './types';

/** A name `GET /request-error-logs` lists and its download serves: `error-*.log`, printable ASCII without `/` or `\`. */
export const ERROR_LOG_NAME = /^error-[\x20-\x2e\x30-\x5b\x5d-\x7e]*\.log$/;
/** A request id of `/request-log-by-id/:id`. */
export const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

const notFound = (text = 'log file not found'): HttpError => new HttpError(404, text);

/** A download, checked: a file path or a body, with its name and size. */
interface Checked {
  readonly path?: string;
  readonly body?: LogBody;
  readonly name?: string;
  readonly size?: number;
}

function checkDownload(value: unknown): Checked | undefined {
  if (value === undefined) return undefined;
  const o = shape.object(value, '$') as Partial<Record<'path' | 'body' | 'name' | 'size', unknown>>;
  const name = o.name === undefined ? undefined : shape.string(o.name, '$.name');
  if (name !== undefined && (name.trim() === '' || /[\p{Cc}"\\/]/u.test(name) || name.length > 255))
    throw new ShapeError('$.name');
  const size = o.size === undefined ? undefined : shape.count(o.size, '$.size');
  if (o.path !== undefined) {
    const path = shape.string(o.path, '$.path');
    if (path === '') throw new ShapeError('$.path');
    return { path, name, size };
  }
  const body = o.body;
  const isBody =
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof Readable ||
    (typeof body === 'object' &&
      body !== null &&
      typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function');
  if (!isBody) throw new ShapeError(o.body === undefined ? '$' : '$.body');
  return { body: body as LogBody, name, size };
}

/** Open `path` as a regular file, not following a symlink; `undefined` when it is not one. */
async function openRegular(
  path: string,
): Promise<{ handle: fs.FileHandle; size: number } | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      return undefined;
    }
    return { handle, size: stat.size };
  } catch {
    await handle.close();
    return undefined;
  }
}

/** Bytes of a body whose size is known without reading it. */
const knownSize = (body: LogBody): number | undefined =>
  typeof body === 'string'
    ? Buffer.byteLength(body)
    : body instanceof Uint8Array
      ? body.byteLength
      : undefined;

/**
 * Stream `download` as a `text/plain` attachment called `fallbackName` unless it names itself.
 * A source that fails before the first byte is a `500`; after it, the connection is ended.
 */
export async function sendDownload(
  req: Request,
  res: Response,
  download: Checked,
  fallbackName: string,
  notFoundText?: string,
): Promise<void> {
  let source: Readable;
  let size = download.size;
  if (download.path !== undefined) {
    const opened = await openRegular(download.path);
    if (!opened) throw notFound(notFoundText);
    size = opened.size;
    source = createReadStream('', { fd: opened.handle, autoClose: true });
  } else {
    const body = download.body as LogBody;
    size = knownSize(body) ?? size;
    source =
      typeof body === 'string' || body instanceof Uint8Array
        ? Readable.from([Buffer.from(body)])
        : body instanceof Readable
          ? body
          : Readable.from(body);
  }
  // The first chunk is read before anything is sent: a source failing at once is an error answer.
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Uint8Array | string>;
  let first: IteratorResult<Uint8Array | string>;
  try {
    first = req.method === 'HEAD' ? { done: true, value: undefined } : await chunks.next();
  } catch (err) {
    source.destroy();
    throw err;
  }
  res.status(200);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Disposition', contentDisposition(download.name ?? fallbackName));
  if (size !== undefined) res.setHeader('Content-Length', String(size));
  if (first.done) {
    source.destroy();
    res.end();
    return;
  }
  async function* rest(head: Uint8Array | string): AsyncGenerator<Uint8Array | string> {
    yield head;
    for (;;) {
      const next = await chunks.next();
      if (next.done) return;
      yield next.value;
    }
  }
  try {
    await pipeline(Readable.from(rest(first.value)), res);
  } catch {
    source.destroy();
    res.destroy(); // after the first byte: the client sees a cut connection, never a short file as whole
  }
}

/** The download routes of the hooks given (`openErrorLog`, `openRequestLog`). */
export function downloadRoutes(rc: RuntimeContext): void {
  const { openErrorLog, openRequestLog } = rc.runtime.hooks;
  if (openErrorLog) {
    rc.add('/request-error-logs/:name', 'GET', async (req, res) => {
      const name = String(req.params.name ?? '').trim();
      if (name === '' || name.includes('/') || name.includes('\\'))
        throw new HttpError(400, 'invalid log file name');
      if (!ERROR_LOG_NAME.test(name) || Buffer.byteLength(name) > 255) throw notFound();
      const download = await rc.runner.call(
        'openErrorLog',
        req,
        res,
        (ctx) => openErrorLog(name, ctx),
        checkDownload,
      );
      if (!download) throw notFound();
      await sendDownload(req, res, download, name).catch((err: unknown) => {
        throw err instanceof HttpError ? err : rc.runner.failure('openErrorLog', err);
      });
    });
  }
  if (openRequestLog) {
    const text = 'log file not found for the given request ID';
    rc.add('/request-log-by-id/:id', 'GET', async (req, res) => {
      const id = String(req.params.id ?? '');
      if (!REQUEST_ID.test(id)) throw new HttpError(400, 'invalid request ID');
      const download = await rc.runner.call(
        'openRequestLog',
        req,
        res,
        (ctx) => openRequestLog(id, ctx),
        checkDownload,
      );
      if (!download) throw notFound(text);
      await sendDownload(req, res, download, `request-${id}.log`, text).catch((err: unknown) => {
        throw err instanceof HttpError ? err : rc.runner.failure('openRequestLog', err);
      });
    });
  }
}
